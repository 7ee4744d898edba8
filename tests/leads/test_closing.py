"""Closing a lead: won, lost or postponed, through the stage mover; the person's side follows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, StageChange
from leads.models import Appointment, Lead
from leads.services.booking import book_appointment
from leads.services.closing import close_lead
from tests.factories import InquiryFactory


@pytest.fixture
def lead(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql", email="pat@buyer.test")
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            by=actors.teammate.principal,
        )


def close(actors, lead, stage, **kwargs):
    with tenant_context(actors.tenant_a):
        return close_lead(lead=lead, stage=stage, by=actors.owner.principal, **kwargs)


def inquiry_of(actors, lead) -> Inquiry:
    with tenant_context(actors.tenant_a):
        return Inquiry.objects.get(pk=lead.inquiry_id)


def lead_moves(actors, lead) -> list[tuple[str, str]]:
    with tenant_context(actors.tenant_a):
        rows = StageChange.objects.filter(machine="lead", object_id=lead.pk)
        return list(rows.values_list("from_stage", "to_stage"))


def accept(actors, lead) -> None:
    """The rep accepts the lead (its own service arrives with the lead's lifecycle)."""
    with tenant_context(actors.tenant_a):
        assert stages.move(lead, "accepted", by=actors.owner.principal)


def test_a_won_lead_is_closed_with_one_stage_change_and_the_outcome_on_the_inquiry(actors, lead):
    accept(actors, lead)
    close(actors, lead, "won")
    with tenant_context(actors.tenant_a):
        stored = Lead.objects.get(pk=lead.pk)
        appointment = Appointment.objects.get(pk=lead.appointment_id)
    assert stored.stage == "won" and stored.closed_at is not None
    assert appointment.closed_at is not None
    assert lead_moves(actors, lead) == [("awaiting_acceptance", "accepted"), ("accepted", "won")]
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("lead", "won")


def test_a_lost_lead_keeps_the_person_with_sales_and_records_lost(actors, lead):
    close(actors, lead, "lost", reason="Chose a competitor")
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("lead", "lost")


def test_a_postponed_lead_returns_the_person_to_nurture_without_an_outcome(actors, lead):
    close(actors, lead, "postponed")
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("nurture", "")
    with tenant_context(actors.tenant_a):
        moves = StageChange.objects.filter(machine="inquiry", object_id=inquiry.pk)
        assert list(moves.values_list("to_stage", flat=True)) == ["lead", "nurture"]


def test_a_lead_lost_not_now_returns_the_person_to_nurture_and_records_lost(actors, lead):
    close(actors, lead, "lost", not_now=True)
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("nurture", "lost")


def test_a_lead_awaiting_acceptance_cannot_be_won(actors, lead):
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "won")
    assert refused.value.code == "not_open"
    assert lead_moves(actors, lead) == []


def test_closing_a_closed_lead_is_a_conflict_that_writes_nothing(actors, lead):
    close(actors, lead, "postponed")
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "won")
    assert (refused.value.code, refused.value.conflict) == ("not_open", True)
    assert lead_moves(actors, lead) == [("awaiting_acceptance", "postponed")]
    assert inquiry_of(actors, lead).outcome == ""


@pytest.mark.parametrize(
    ("stage", "kwargs", "field"),
    [
        ("sql", {}, "stage"),
        ("accepted", {}, "stage"),
        ("won", {"not_now": True}, "not_now"),
        ("lost", {"reason": "x" * 201}, "reason"),
    ],
)
def test_a_bad_close_is_refused_and_writes_nothing(actors, lead, stage, kwargs, field):
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, stage, **kwargs)
    assert refused.value.field == field
    assert lead_moves(actors, lead) == []
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).stage == "awaiting_acceptance"
        assert not AuditEvent.objects.filter(action="lead.closed").exists()


def test_closing_is_audited(actors, lead):
    close(actors, lead, "lost", not_now=True, reason="Budget next year")
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="lead.closed")
    assert event.after == {"stage": "lost", "not_now": True, "reason": "Budget next year"}
