"""Fixtures shared by the booking and confirmation tests of leads."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import ActivityFactory, InquiryFactory, LeadDefinitionFactory


def future(days: int = 3) -> datetime:
    """A whole second in the future (calendar times have no fractions of a second)."""
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
def rep_a(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")


def book_for(actors, rep, **inquiry_fields):
    """An MQL of tenant A (with ``inquiry_fields``) booked in 3 days for ``rep`` by a marketer."""
    from leads.services.booking import book_appointment

    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql", **inquiry_fields)
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            rep=rep.user,
            by=actors.teammate.principal,
        )


@pytest.fixture
def inquiry(actors):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a, version=4)
    inquiry = InquiryFactory(
        tenant=actors.tenant_a,
        email="pat@buyer.test",
        company="Buyer Inc",
        stage="mql",
        score=72,
        fit_score=50,
        engagement_score=22,
        score_breakdown=[
            {"rule": "title", "points": 50},
            {"rule": "webinar", "points": 22},
        ],
        definition=definition,
        custom={"budget": 50000},
    )
    ActivityFactory(tenant=actors.tenant_a, inquiry=inquiry, kind="webinar")
    return inquiry


# --- The appointment after hand-over (tests/leads/test_appointment_*.py) --------------

APPOINTMENT_NOTE = "Internal: budget approved, champion is the CFO."
APPOINTMENT_MESSAGE = "Looking forward to meeting you."


@pytest.fixture
def qualifier_a(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def manager_a(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def booked_lead(actors, inquiry, rep_a, qualifier_a):
    """A lead meeting in 3 days, booked by a qualifier for Riley Rep; the tenant on Berlin time."""
    from leads.services.booking import book_appointment

    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=future(days=3),
            duration_minutes=45,
            rep=rep_a.user,
            location="Buyer Inc, Room 4",
            notes=APPOINTMENT_NOTE,
            message_to_buyer=APPOINTMENT_MESSAGE,
            by=qualifier_a.principal,
        )


def start_meeting(lead, minutes_ago: int = 30):
    """Move the lead's meeting into the past (it has started)."""
    from leads.models import Appointment

    with tenant_context(lead.tenant_id):
        Appointment.objects.filter(pk=lead.appointment_id).update(
            starts_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
        lead.appointment.refresh_from_db()
    return lead.appointment
