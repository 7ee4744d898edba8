"""The hand-over service leads calls: the inquiry's stage through the mover, and its outcome."""

from datetime import date

import pytest

from inquiries.models import Inquiry
from inquiries.services.handover import hand_over, record_outcome, return_to_nurture
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, StageChange
from tests.factories import InquiryFactory


def moves(tenant, inquiry) -> list[tuple[str, str]]:
    with tenant_context(tenant):
        rows = StageChange.objects.filter(machine="inquiry", object_id=inquiry.pk)
        return list(rows.values_list("from_stage", "to_stage"))


def stored(tenant, inquiry) -> Inquiry:
    with tenant_context(tenant):
        return Inquiry.objects.get(pk=inquiry.pk)


@pytest.mark.parametrize("stage", ["inquiry", "mql", "nurture"])
def test_handing_over_moves_the_inquiry_to_lead_with_one_stage_change(actors, stage):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=stage)
    with tenant_context(actors.tenant_a):
        hand_over(inquiry=inquiry, lead_id=41, by=actors.teammate.principal)
        event = AuditEvent.objects.get(action="inquiry.handed_to_sales")
    assert stored(actors.tenant_a, inquiry).stage == "lead"
    assert stored(actors.tenant_a, inquiry).last_activity_at is not None
    assert moves(actors.tenant_a, inquiry) == [(stage, "lead")]
    assert event.after == {"stage": "lead", "lead": 41}


@pytest.mark.parametrize(
    ("stage", "code", "conflict"),
    [("lead", "already_a_lead", True), ("disqualified", "not_bookable", False)],
)
def test_an_inquiry_that_may_not_be_handed_over_is_refused(actors, stage, code, conflict):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=stage)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        hand_over(inquiry=inquiry, lead_id=1, by=actors.teammate.principal)
    assert (refused.value.code, refused.value.conflict) == (code, conflict)
    assert moves(actors.tenant_a, inquiry) == []


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_closed_leads_outcome_becomes_the_persons_last_known_outcome(actors, outcome):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="lead", outcome="")
    with tenant_context(actors.tenant_a):
        record_outcome(
            inquiry=inquiry,
            outcome=outcome,
            lead_id=7,
            closed_on=date(2026, 11, 30),
            by=actors.owner.principal,
        )
        event = AuditEvent.objects.get(action="inquiry.outcome_recorded")
    assert stored(actors.tenant_a, inquiry).outcome == outcome
    assert event.after == {"outcome": outcome, "lead": 7}


def test_a_closed_leads_outcome_keeps_the_day_it_closed(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="lead", outcome="")
    with tenant_context(actors.tenant_a):
        record_outcome(
            inquiry=inquiry,
            outcome="won",
            lead_id=7,
            closed_on=date(2026, 11, 30),
            by=actors.owner.principal,
        )
    assert stored(actors.tenant_a, inquiry).outcome_on == date(2026, 11, 30)


def test_an_outcome_other_than_won_or_lost_is_refused(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="lead", outcome="won")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation):
        record_outcome(
            inquiry=inquiry,
            outcome="postponed",
            lead_id=7,
            closed_on=date(2026, 11, 30),
            by=actors.owner.principal,
        )
    assert stored(actors.tenant_a, inquiry).outcome == "won"


def test_returning_to_nurture_moves_a_lead_back_with_one_stage_change(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="lead")
    with tenant_context(actors.tenant_a):
        moved = return_to_nurture(
            inquiry=inquiry, reason="lead postponed", by=actors.owner.principal
        )
    assert moved
    assert stored(actors.tenant_a, inquiry).stage == "nurture"
    with tenant_context(actors.tenant_a):
        change = StageChange.objects.get(machine="inquiry", object_id=inquiry.pk)
    assert (change.from_stage, change.to_stage, change.reason) == (
        "lead",
        "nurture",
        "lead postponed",
    )


def test_only_a_lead_returns_to_nurture(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="disqualified")
    with tenant_context(actors.tenant_a):
        moved = return_to_nurture(inquiry=inquiry, reason="", by=actors.owner.principal)
    assert not moved
    assert stored(actors.tenant_a, inquiry).stage == "disqualified"
