"""A manager reopens a closed lead: accepted again, outcome cleared, audited, back with sales."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, StageChange
from leads.models import Lead
from leads.services.booking import book_appointment
from leads.services.closing import close_lead, reopen_lead
from tests.leads.conftest import book_for


@pytest.fixture
def lead(actors, rep_a):
    return book_for(actors, rep_a, email="pat@buyer.test")


def set_stage(actors, lead, stage, **fields) -> Lead:
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage=stage, closed_at=timezone.now(), **fields)
        return Lead.objects.get(pk=lead.pk)


def reopen(actors, lead, reason="Buyer called back"):
    with tenant_context(actors.tenant_a):
        return reopen_lead(lead=lead, by=actors.owner.principal, reason=reason)


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


@pytest.mark.parametrize("stage", ["won", "lost", "postponed", "no_show", "rejected"])
def test_a_closed_lead_is_reopened_as_accepted_with_its_owner(actors, lead, rep_a, stage):
    closed = set_stage(actors, lead, stage)
    reopen(actors, closed)
    after = stored(actors, lead)
    assert (after.stage, after.rep_id, after.closed_at) == ("accepted", rep_a.user.pk, None)
    assert after.accepted_at is not None
    with tenant_context(actors.tenant_a):
        moves = StageChange.objects.filter(machine="lead", object_id=lead.pk)
        assert list(moves.values_list("from_stage", "to_stage")) == [(stage, "accepted")]


def test_reopening_clears_the_outcome(actors, lead):
    closed = set_stage(
        actors,
        lead,
        "won",
        value="1200.00",
        closed_on=timezone.localdate(),
        lost_reason="x",
        postponed_until=timezone.localdate(),
        reject_kind="not_a_lead",
        reject_reason="spam",
    )
    reopen(actors, closed)
    after = stored(actors, lead)
    assert (after.value, after.closed_on, after.postponed_until) == (None, None, None)
    assert (after.lost_reason, after.reject_kind, after.reject_reason) == ("", "", "")


def test_reopening_is_audited_with_the_outcome_it_had(actors, lead):
    closed = set_stage(actors, lead, "won", value="1200.00", closed_on=timezone.localdate())
    reopen(actors, closed, reason="Signed the wrong one")
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="lead.reopened")
    assert event.before["stage"] == "won"
    assert event.before["value"] == "1200.00"
    assert event.before["closed_on"] == str(timezone.localdate())
    assert event.after == {"stage": "accepted", "reason": "Signed the wrong one"}


def test_a_person_back_in_nurture_is_handed_to_sales_again(actors, lead):
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="accepted")
        close_lead(
            lead=Lead.objects.get(pk=lead.pk),
            stage="lost",
            by=actors.owner.principal,
            lost_reason="buyer declined",
            not_now=True,
        )
        assert Inquiry.objects.get(pk=lead.inquiry_id).stage == "nurture"
    reopen(actors, stored(actors, lead))
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.get(pk=lead.inquiry_id).stage == "lead"


def test_an_open_lead_cannot_be_reopened(actors, lead):
    with pytest.raises(RuleViolation) as refused:
        reopen(actors, lead)
    assert (refused.value.code, refused.value.conflict) == ("open", True)
    with tenant_context(actors.tenant_a):
        assert not AuditEvent.objects.filter(action="lead.reopened").exists()


def test_a_person_booked_again_keeps_the_new_lead_and_the_old_one_stays_closed(actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="accepted")
        close_lead(
            lead=Lead.objects.get(pk=lead.pk),
            stage="lost",
            by=actors.owner.principal,
            lost_reason="buyer declined",
            not_now=True,
        )
        new = book_appointment(
            inquiry=Inquiry.objects.get(pk=lead.inquiry_id),
            starts_at=timezone.now() + timedelta(days=5),
            rep=rep_a.user,
            by=actors.teammate.principal,
        )
    with pytest.raises(RuleViolation) as refused:
        reopen(actors, stored(actors, lead))
    assert (refused.value.code, refused.value.conflict) == ("booked_again", True)
    assert stored(actors, lead).stage == "lost"
    assert stored(actors, new).stage == "awaiting_acceptance"
    with tenant_context(actors.tenant_a):
        assert not AuditEvent.objects.filter(action="lead.reopened").exists()


def test_a_lead_changed_meanwhile_is_refused(actors, lead):
    """The caller's copy says closed, the row is open again: only_from keeps it a conflict."""
    closed = set_stage(actors, lead, "lost")
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="accepted", closed_at=None)
    with pytest.raises(RuleViolation) as refused:
        reopen(actors, closed)
    assert refused.value.conflict is True
