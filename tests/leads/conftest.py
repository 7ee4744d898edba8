"""Fixtures shared by the booking and confirmation tests of leads."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import ActivityFactory, InquiryFactory, LeadDefinitionFactory


def future(days: int = 3) -> datetime:
    """A whole second in the future (calendar times have no fractions of a second)."""
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
def rep_a(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")


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
