"""Changing a lead's owner: one lead or many, all or nothing, only to someone who may own it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, PartnerStatus, Role
from leads.models import Appointment, Lead
from leads.services.booking import book_appointment
from leads.services.ownership import change_owner, reassign_leads
from tests.conftest import make_actor
from tests.factories import InquiryFactory, PartnerFactory


def book(actors, rep, email="pat@buyer.test") -> Lead:
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql", email=email)
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            rep=rep.user,
            by=actors.teammate.principal,
        )


@pytest.fixture
def lead(actors, rep_a):
    return book(actors, rep_a)


@pytest.fixture
def rep_b(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Robin Rep")


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Acme VAR")


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def reassign(actors, ids, **owner):
    with tenant_context(actors.tenant_a):
        return reassign_leads(lead_ids=ids, by=actors.owner.principal, **owner)


def test_a_reassigned_lead_and_its_appointment_follow_the_new_rep(actors, lead, rep_b):
    assert reassign(actors, [lead.pk], rep=rep_b.user) == 1
    after = stored(actors, lead)
    assert after.rep_id == rep_b.user.pk and after.partner_id is None
    with tenant_context(actors.tenant_a):
        assert Appointment.objects.get(pk=lead.appointment_id).rep == rep_b.user


def test_a_lead_given_to_a_partner_has_no_rep(actors, lead, partner):
    reassign(actors, [lead.pk], partner=partner)
    after = stored(actors, lead)
    assert (after.rep_id, after.partner_id) == (None, partner.pk)


def test_the_new_owner_gets_a_fresh_acceptance_window_and_the_breach_is_cleared(
    actors, lead, rep_b
):
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(
            assigned_at=timezone.now() - timedelta(days=10),
            acceptance_due_at=timezone.now() - timedelta(days=8),
            breached_at=timezone.now() - timedelta(days=8),
        )
    before = timezone.now()
    reassign(actors, [lead.pk], rep=rep_b.user)
    after = stored(actors, lead)
    assert after.breached_at is None
    assert after.assigned_at >= before
    assert after.acceptance_due_at > timezone.now()


def test_an_accepted_lead_keeps_its_acceptance_but_its_new_owner_is_assigned_now(
    actors, lead, rep_b
):
    accepted_at = timezone.now() - timedelta(days=5)
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="accepted", accepted_at=accepted_at)
    before = timezone.now()
    reassign(actors, [lead.pk], rep=rep_b.user)
    after = stored(actors, lead)
    assert (after.stage, after.accepted_at) == ("accepted", accepted_at)
    assert after.assigned_at >= before


def test_reassigning_many_changes_them_all(actors, lead, rep_a, rep_b):
    other = book(actors, rep_a, email="sam@buyer.test")
    assert reassign(actors, [lead.pk, other.pk], rep=rep_b.user) == 2
    assert {stored(actors, one).rep_id for one in (lead, other)} == {rep_b.user.pk}


def test_giving_a_lead_to_its_owner_changes_nothing(actors, lead, rep_a):
    assert reassign(actors, [lead.pk], rep=rep_a.user) == 0
    with tenant_context(actors.tenant_a):
        assert not AuditEvent.objects.filter(action="lead.reassigned").exists()


def test_one_closed_lead_refuses_the_whole_set_as_a_conflict(actors, lead, rep_a, rep_b):
    closed = book(actors, rep_a, email="sam@buyer.test")
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=closed.pk).update(stage="lost")
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk, closed.pk], rep=rep_b.user)
    assert (refused.value.code, refused.value.conflict) == ("not_open", True)
    assert str(closed.pk) in refused.value.message
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_an_unknown_lead_refuses_the_whole_set(actors, lead, rep_a, rep_b):
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk, lead.pk + 1000], rep=rep_b.user)
    assert (refused.value.field, refused.value.code) == ("leads", "not_found")
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_another_tenants_lead_is_unknown(actors, lead, rep_b):
    with tenant_context(actors.tenant_b):
        foreign = InquiryFactory(tenant=actors.tenant_b, stage="mql")
    from tests.factories import LeadFactory

    other = LeadFactory(tenant=actors.tenant_b, inquiry=foreign)
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [other.pk], rep=rep_b.user)
    assert refused.value.code == "not_found"


def test_no_leads_or_no_owner_is_refused(actors, lead):
    with pytest.raises(RuleViolation) as no_leads:
        reassign(actors, [], rep=actors.owner.user)
    with pytest.raises(RuleViolation) as no_owner:
        reassign(actors, [lead.pk])
    assert (no_leads.value.field, no_owner.value.field) == ("leads", "rep")


def test_a_rep_and_a_partner_at_once_is_refused(actors, lead, rep_b, partner):
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk], rep=rep_b.user, partner=partner)
    assert refused.value.code == "one_owner"


def test_an_inactive_member_is_refused_and_nothing_changes(actors, lead, rep_a, rep_b):
    with tenant_context(actors.tenant_a):
        rep_b.membership.is_active = False
        rep_b.membership.save(update_fields=["is_active"])
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk], rep=rep_b.user)
    assert (refused.value.field, refused.value.code) == ("rep", "not_a_member")
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_a_partners_user_is_not_a_rep(actors, lead, partner):
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk], rep=partner_user.user)
    assert refused.value.code == "not_a_rep"


def test_a_marketer_is_not_a_rep(actors, lead):
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk], rep=actors.teammate.user)
    assert refused.value.code == "not_a_rep"


def test_a_suspended_partner_receives_no_leads(actors, lead, rep_a):
    suspended = PartnerFactory(tenant=actors.tenant_a, status=PartnerStatus.SUSPENDED)
    with pytest.raises(RuleViolation) as refused:
        reassign(actors, [lead.pk], partner=suspended)
    assert (refused.value.field, refused.value.code) == ("partner", "suspended")
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_a_reassign_is_audited_with_the_old_and_new_owner(actors, lead, rep_a, rep_b):
    reassign(actors, [lead.pk], rep=rep_b.user)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="lead.reassigned")
    assert event.before == {"rep": rep_a.user.pk, "partner": None}
    assert event.after == {"rep": rep_b.user.pk, "partner": None, "reason": ""}


def test_a_cannot_serve_hand_back_leaves_the_lead_with_no_owner_and_no_window(actors, lead):
    with tenant_context(actors.tenant_a):
        change_owner(lead=lead, by=actors.owner.principal, reason="cannot serve")
    after = stored(actors, lead)
    assert (after.rep_id, after.partner_id, after.acceptance_due_at) == (None, None, None)
