"""The weekly update: open leads only, never empty, outcomes close through close_lead, weeks."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leadflow.tenancy.principal import Principal
from leads.models import Lead, Touch, WeeklyUpdate
from leads.services.updates import record_weekly_update
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, TouchFactory

# Wednesday of ISO week 2026-W53 (Monday 2026-12-28), noon UTC.
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def lead(actors, rep_a):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="lead", created_at=NOW - timedelta(60))
    return LeadFactory(
        tenant=actors.tenant_a,
        inquiry=inquiry,
        rep=rep_a.user,
        stage="accepted",
        assigned_at=NOW - timedelta(days=30),
    )


def report(actors, lead, by, **kwargs):
    with tenant_context(actors.tenant_a):
        return record_weekly_update(lead=lead, by=by, **kwargs)


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def set_lead(actors, lead, **fields) -> None:
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(**fields)
        lead.refresh_from_db()


def updates(actors) -> int:
    with tenant_context(actors.tenant_a):
        return WeeklyUpdate.objects.count()


def test_a_progress_note_is_this_weeks_update_by_the_owner(actors, rep_a, lead):
    update = report(actors, lead, rep_a.principal, status="progress", note="Demo Tuesday.")
    assert (update.week, update.late, update.user_id) == (date(2026, 12, 28), False, rep_a.user.pk)
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="lead.weekly_update").count() == 1


def test_an_empty_progress_update_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="progress", note="   ")
    assert (refused.value.field, refused.value.code) == ("note", "required")
    assert updates(actors) == 0


def test_a_touch_alone_is_an_update_and_is_linked(actors, rep_a, lead):
    update = report(
        actors,
        lead,
        rep_a.principal,
        status="progress",
        touch={"kind": "call", "outcome": "reached"},
    )
    assert update.touch is not None and update.touch.lead_id == lead.pk
    assert update.touch.user_id == rep_a.user.pk


def test_a_lead_awaiting_acceptance_must_be_accepted_first(actors, rep_a, lead):
    set_lead(actors, lead, stage="awaiting_acceptance")
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="progress", note="Hi")
    assert refused.value.code == "not_accepted" and not refused.value.conflict
    assert "accept it first" in refused.value.message


def test_a_closed_lead_is_a_conflict(actors, rep_a, lead):
    set_lead(actors, lead, stage="won")
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="progress", note="Hi")
    assert refused.value.code == "not_open" and refused.value.conflict


def test_another_rep_may_not_report_on_the_lead(actors, lead):
    other = make_actor(actors.tenant_a, Role.REP)
    with pytest.raises(PermissionDenied):
        report(actors, lead, other.principal, status="progress", note="Hi")


def test_won_closes_the_lead_with_its_value(actors, rep_a, lead):
    update = report(actors, lead, rep_a.principal, status="won", value="12500", note="Signed.")
    assert update.lead.stage == "won" and update.status == "won"
    assert stored(actors, lead).value == Decimal("12500.00")


def test_won_without_a_value_is_refused_naming_value_and_nothing_is_written(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(
            actors,
            lead,
            rep_a.principal,
            status="won",
            touch={"kind": "call", "outcome": "reached"},
        )
    assert refused.value.field == "value"
    assert stored(actors, lead).stage == "accepted" and updates(actors) == 0
    with tenant_context(actors.tenant_a):
        assert not Touch.objects.exists()


def test_lost_below_the_touch_minimum_needs_buyer_declined(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="lost", lost_reason="no budget")
    assert (refused.value.field, refused.value.code) == ("lost_reason", "below_touch_minimum")


def test_lost_at_the_minimum_takes_any_reason(actors, rep_a, lead):
    TouchFactory.create_batch(7, tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    update = report(
        actors,
        lead,
        rep_a.principal,
        status="lost",
        lost_reason="no budget",
        touch={"kind": "call", "outcome": "reached", "note": "Eighth call: no budget."},
    )
    assert update.lead.stage == "lost" and stored(actors, lead).lost_reason == "no budget"


def test_postponed_to_a_past_date_is_refused_naming_postponed_until(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="postponed", postponed_until=date(2026, 1, 1))
    assert refused.value.field == "postponed_until"


def test_postponed_to_a_future_date_closes_the_lead(actors, rep_a, lead):
    report(actors, lead, rep_a.principal, status="postponed", postponed_until=date(2027, 3, 1))
    assert stored(actors, lead).stage == "postponed"


def test_a_past_week_named_by_its_label_is_marked_late(actors, rep_a, lead):
    update = report(actors, lead, rep_a.principal, status="progress", note="x", week="2026-W51")
    assert (update.week, update.late) == (date(2026, 12, 14), True)


def test_a_future_week_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="progress", note="x", week="2027-W01")
    assert (refused.value.field, refused.value.code) == ("week", "future")


def test_a_week_before_the_lead_was_assigned_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="progress", note="x", week="2026-11-02")
    assert refused.value.code == "before_assigned"


def test_a_week_that_is_not_a_week_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="progress", note="x", week="last week")
    assert (refused.value.field, refused.value.code) == ("week", "invalid")


def test_a_late_update_for_week_53_after_new_year_is_late(actors, rep_a, lead):
    with time_machine.travel(datetime(2027, 1, 5, 9, tzinfo=UTC), tick=False):
        update = report(actors, lead, rep_a.principal, status="progress", note="x", week="2026-W53")
    assert (update.week, update.late) == (date(2026, 12, 28), True)


def test_the_default_week_is_the_tenants_local_week_across_the_dst_change(actors, rep_a, lead):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    set_lead(actors, lead, assigned_at=datetime(2026, 3, 1, tzinfo=UTC))
    # Sunday 29 March 2026 22:30 UTC is Monday 30 March 00:30 in Berlin (summer time began).
    with time_machine.travel(datetime(2026, 3, 29, 22, 30, tzinfo=UTC), tick=False):
        update = report(actors, lead, rep_a.principal, status="progress", note="x")
    assert update.week == date(2026, 3, 30)


def test_a_partner_user_reports_on_its_partners_lead_recording_the_partner(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    lead = LeadFactory(
        tenant=actors.tenant_a, partner=partner, stage="sql", assigned_at=NOW - timedelta(9)
    )
    principal = Principal(
        tenant=actors.tenant_a,
        role=Role.REP,
        via="session",
        user=partner_user.user,
        membership=partner_user.membership,
        partner=partner,
    )
    update = report(actors, lead, principal, status="progress", note="Called.")
    assert (update.user_id, update.partner_id) == (partner_user.user.pk, partner.pk)


def test_an_unknown_status_is_refused(actors, rep_a, lead):
    with pytest.raises(RuleViolation) as refused:
        report(actors, lead, rep_a.principal, status="maybe", note="x")
    assert refused.value.field == "status"


def test_now_is_frozen_in_these_tests():
    assert timezone.now() == NOW
