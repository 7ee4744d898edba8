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
from leads.services.closing import close_lead
from tests.factories import TouchFactory
from tests.leads.conftest import book_for


@pytest.fixture
def lead(actors, rep_a):
    return book_for(actors, rep_a, email="pat@buyer.test")


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
    close(actors, lead, "won", value="12500")
    with tenant_context(actors.tenant_a):
        stored = Lead.objects.get(pk=lead.pk)
        appointment = Appointment.objects.get(pk=lead.appointment_id)
    assert stored.stage == "won" and stored.closed_at is not None
    assert (str(stored.value), stored.closed_on) == ("12500.00", timezone.localdate())
    assert appointment.closed_at is not None
    assert lead_moves(actors, lead) == [("awaiting_acceptance", "accepted"), ("accepted", "won")]
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("lead", "won")


def test_a_lost_lead_keeps_the_person_with_sales_and_records_lost(actors, lead):
    close(actors, lead, "lost", lost_reason="buyer declined")
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("lead", "lost")


def later(days: int = 30):
    return timezone.localdate() + timedelta(days=days)


def test_a_postponed_lead_keeps_the_person_with_sales_until_its_date(actors, lead):
    close(actors, lead, "postponed", postponed_until=later())
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("lead", "")
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).postponed_until == later()


def test_a_lead_lost_not_now_returns_the_person_to_nurture_and_records_lost(actors, lead):
    close(actors, lead, "lost", not_now=True, lost_reason="buyer declined")
    inquiry = inquiry_of(actors, lead)
    assert (inquiry.stage, inquiry.outcome) == ("nurture", "lost")


def test_a_lead_awaiting_acceptance_cannot_be_won(actors, lead):
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "won", value="100")
    assert (refused.value.field, refused.value.code) == ("stage", "not_accepted")
    assert lead_moves(actors, lead) == []


def test_closing_a_closed_lead_is_a_conflict_that_writes_nothing(actors, lead):
    close(actors, lead, "postponed", postponed_until=later())
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "won", value="100")
    assert (refused.value.code, refused.value.conflict) == ("not_open", True)
    assert lead_moves(actors, lead) == [("awaiting_acceptance", "postponed")]
    assert inquiry_of(actors, lead).outcome == ""


@pytest.mark.parametrize(
    ("stage", "kwargs", "field"),
    [
        ("sql", {}, "stage"),
        ("accepted", {}, "stage"),
        ("won", {"not_now": True}, "not_now"),
        ("lost", {"reason": "x" * 201, "lost_reason": "buyer declined"}, "reason"),
        ("lost", {}, "lost_reason"),
        ("lost", {"lost_reason": "the weather"}, "lost_reason"),
        ("lost", {"lost_reason": "no budget"}, "lost_reason"),
        ("postponed", {}, "postponed_until"),
        ("postponed", {"postponed_until": timezone.localdate()}, "postponed_until"),
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
    close(
        actors, lead, "lost", not_now=True, reason="Budget next year", lost_reason="buyer declined"
    )
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="lead.closed")
    assert event.after == {
        "stage": "lost",
        "reason": "Budget next year",
        "lost_reason": "buyer declined",
        "closed_on": str(timezone.localdate()),
    }


def touches(actors, lead, count):
    for _ in range(count):
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=lead.rep)


def test_a_lead_below_the_touch_minimum_is_lost_only_as_buyer_declined(actors, lead):
    touches(actors, lead, 7)
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "lost", lost_reason="no budget")
    assert (refused.value.field, refused.value.code) == ("lost_reason", "below_touch_minimum")
    close(actors, lead, "lost", lost_reason="Buyer declined")
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).lost_reason == "buyer declined"


def test_a_lead_at_the_touch_minimum_is_lost_for_any_listed_reason(actors, lead):
    touches(actors, lead, 8)
    close(actors, lead, "lost", lost_reason="no budget")
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).lost_reason == "no budget"


def test_another_owners_touches_do_not_count_toward_the_minimum(actors, lead):
    for _ in range(8):
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=actors.teammate.user)
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "lost", lost_reason="no budget")
    assert refused.value.code == "below_touch_minimum"


def test_a_won_lead_cannot_be_dated_in_the_future(actors, lead):
    accept(actors, lead)
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "won", value="10", closed_on=later(1))
    assert (refused.value.field, refused.value.code) == ("closed_on", "future")


@pytest.mark.parametrize("value", [None, "", "-1", "abc", "1e20", "NaN"])
def test_a_won_lead_needs_a_sensible_value(actors, lead, value):
    accept(actors, lead)
    with pytest.raises(RuleViolation) as refused:
        close(actors, lead, "won", value=value)
    assert refused.value.field == "value"
