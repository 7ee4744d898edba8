"""Logging touches: who may, on which lead, when; and the minimum / cliff flags."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leadflow.tenancy.principal import Principal
from leads.models import Touch
from leads.selectors.touches import owner_touch_count, owner_touches_expression, touch_flags
from leads.services.touches import log_touch
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, TouchFactory


@pytest.fixture
def lead(actors, rep_a):
    inquiry = InquiryFactory(
        tenant=actors.tenant_a, stage="lead", created_at=timezone.now() - timedelta(days=20)
    )
    return LeadFactory(tenant=actors.tenant_a, inquiry=inquiry, rep=rep_a.user, stage="accepted")


def log(actors, by, lead, **kwargs):
    fields = {"kind": "call", "outcome": "no_answer", **kwargs}
    with tenant_context(actors.tenant_a):
        return log_touch(inquiry=lead.inquiry, lead=lead, by=by, **fields)


def test_the_owner_logs_a_touch_with_their_user_and_an_audit_row(actors, rep_a, lead):
    touch = log(actors, rep_a.principal, lead, note="  Voicemail.  ")
    assert (touch.user_id, touch.partner_id, touch.lead_id) == (rep_a.user.pk, None, lead.pk)
    assert touch.inquiry_id == lead.inquiry_id and touch.note == "Voicemail."
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="touch.logged", object_id=str(touch.pk)).exists()


def test_another_rep_may_not_log_a_touch_on_the_lead(actors, lead):
    other = make_actor(actors.tenant_a, Role.REP)
    with pytest.raises(PermissionDenied):
        log(actors, other.principal, lead)


def test_a_marketer_may_not_log_a_touch_on_a_lead(actors, lead):
    with pytest.raises(PermissionDenied):
        log(actors, actors.teammate.principal, lead)


def test_a_manager_may_log_a_touch_on_a_reps_lead(actors, lead):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    assert log(actors, manager.principal, lead).user_id == manager.user.pk


def test_a_partner_key_logs_a_touch_for_its_partner_without_a_user(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    lead = LeadFactory(tenant=actors.tenant_a, partner=partner, stage="accepted")
    key = Principal(tenant=actors.tenant_a, role=Role.REP, via="api_key", partner=partner)
    touch = log(actors, key, lead)
    assert (touch.user_id, touch.partner_id) == (None, partner.pk)


def test_a_partner_may_not_log_a_touch_on_another_partners_lead(actors):
    ours, theirs = PartnerFactory(tenant=actors.tenant_a), PartnerFactory(tenant=actors.tenant_a)
    lead = LeadFactory(tenant=actors.tenant_a, partner=theirs, stage="accepted")
    key = Principal(tenant=actors.tenant_a, role=Role.REP, via="api_key", partner=ours)
    with pytest.raises(PermissionDenied):
        log(actors, key, lead)


def test_a_qualifier_logs_a_touch_before_hand_over_without_a_lead(actors):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql")
    with tenant_context(actors.tenant_a):
        touch = log_touch(inquiry=inquiry, kind="email", outcome="replied", by=qualifier.principal)
    assert touch.lead_id is None and touch.inquiry_id == inquiry.pk


def test_a_rep_may_not_log_a_touch_without_a_lead(actors, rep_a):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql")
    with tenant_context(actors.tenant_a), pytest.raises(PermissionDenied):
        log_touch(inquiry=inquiry, kind="call", outcome="reached", by=rep_a.principal)


def test_a_lead_of_another_inquiry_is_refused(actors, rep_a, lead):
    other = InquiryFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        log_touch(inquiry=other, lead=lead, kind="call", outcome="reached", by=rep_a.principal)
    assert refused.value.field == "lead"


def test_a_touch_in_the_future_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        log(actors, rep_a.principal, lead, at=timezone.now() + timedelta(hours=1))
    assert (refused.value.field, refused.value.code) == ("at", "future")


def test_a_touch_a_minute_ahead_is_clock_skew_and_accepted(actors, rep_a, lead):
    assert log(actors, rep_a.principal, lead, at=timezone.now() + timedelta(minutes=1)).pk


def test_a_touch_before_the_inquiry_arrived_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        log(actors, rep_a.principal, lead, at=timezone.now() - timedelta(days=30))
    assert refused.value.code == "before_inquiry"


@pytest.mark.parametrize(("field", "value"), [("kind", "fax"), ("outcome", "maybe")])
def test_an_unknown_kind_or_outcome_is_refused_and_nothing_written(
    actors, rep_a, lead, field, value
):
    with pytest.raises(RuleViolation) as refused:
        log(actors, rep_a.principal, lead, **{field: value})
    assert refused.value.field == field
    with tenant_context(actors.tenant_a):
        assert not Touch.objects.exists()


def flags(actors, lead):
    with tenant_context(actors.tenant_a):
        return touch_flags(lead)


def test_flags_count_only_the_current_owners_touches_against_the_minimum(actors, rep_a, lead):
    other = make_actor(actors.tenant_a, Role.REP)
    TouchFactory.create_batch(3, tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    TouchFactory.create_batch(5, tenant=actors.tenant_a, lead=lead, user=other.user)
    result = flags(actors, lead)
    assert (result.count, result.minimum, result.below_minimum) == (3, 8, True)


def test_a_lead_lost_at_four_owner_touches_is_given_up_early(actors, rep_a, lead):
    TouchFactory.create_batch(4, tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    lead.stage = "lost"
    assert flags(actors, lead).given_up_early


def test_a_lead_lost_at_five_owner_touches_is_not_given_up_early(actors, rep_a, lead):
    TouchFactory.create_batch(5, tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    lead.stage = "lost"
    assert not flags(actors, lead).given_up_early


def test_an_open_lead_with_few_touches_is_not_given_up(actors, rep_a, lead):
    assert not flags(actors, lead).given_up_early


def test_the_annotated_owner_count_matches_the_per_lead_count(actors, rep_a, lead):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_lead = LeadFactory(tenant=actors.tenant_a, partner=partner, rep=rep_a.user)
    TouchFactory.create_batch(2, tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user, partner=partner)
    TouchFactory.create_batch(3, tenant=actors.tenant_a, lead=partner_lead, partner=partner)
    TouchFactory(tenant=actors.tenant_a, lead=partner_lead, user=rep_a.user)
    with tenant_context(actors.tenant_a):
        from leads.models import Lead

        rows = Lead.objects.annotate(n=owner_touches_expression()).in_bulk()
        assert {pk: row.n for pk, row in rows.items()} == {
            lead.pk: owner_touch_count(lead),
            partner_lead.pk: owner_touch_count(partner_lead),
        }
        assert rows[lead.pk].n == 2 and rows[partner_lead.pk].n == 3
