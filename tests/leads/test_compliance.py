"""The reporting rule enforced: warning, suspension after K weeks, recall, reinstatement."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy import services as tenancy_services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Partner, Role
from leads.models import Assignment, AssignmentKind, Lead, LeadSettings
from leads.services.compliance import enforce_partner_compliance
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, WeeklyUpdateFactory

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
# 2026-W50: Monday 7 December.
MONDAY = date(2026, 12, 7)


def at(day: date, hour: int, tz=BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz)


def weeks_back(n: int) -> date:
    return MONDAY - timedelta(weeks=n)


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    return actors.tenant_a


@pytest.fixture
def partner(berlin):
    return PartnerFactory(tenant=berlin, name="Northwind", contact_email="desk@northwind.test")


@pytest.fixture
def manager(berlin):
    return make_actor(berlin, Role.MANAGER, user__full_name="Morgan Manager")


def lead_of(tenant, partner, assigned_at: datetime, reported=()):
    lead = LeadFactory(
        tenant=tenant,
        stage="accepted",
        partner=partner,
        assigned_at=assigned_at,
        accepted_at=assigned_at,
        inquiry=InquiryFactory(tenant=tenant, first_name="Pat", last_name="Buyer", company="Acme"),
    )
    for monday in reported:
        WeeklyUpdateFactory(tenant=tenant, lead=lead, week=monday)
    return lead


def run(tenant, moment: datetime):
    with time_machine.travel(moment, tick=False), tenant_context(tenant):
        return enforce_partner_compliance()


def fresh(tenant, partner) -> Partner:
    with tenant_context(tenant):
        return Partner.objects.get(pk=partner.pk)


def emails(tenant, prefix="compliance:") -> list[OutboxMessage]:
    with tenant_context(tenant):
        return list(OutboxMessage.objects.filter(key__startswith=prefix).order_by("id"))


def set_rules(tenant, **fields):
    with tenant_context(tenant):
        LeadSettings.objects.update_or_create(tenant=tenant, defaults=fields)


def test_one_missed_week_warns_the_partner_with_the_leads_to_report_and_the_deadline(
    berlin, partner
):
    user = make_actor(berlin, Role.REP, partner=partner, user__full_name="Dana Dealer")
    lead = lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2)])
    done = run(berlin, at(MONDAY, 9))
    assert done.warned == [partner.pk] and done.suspended == []
    assert fresh(berlin, partner).warned_at == at(MONDAY, 9)
    assert fresh(berlin, partner).status == "active"
    sent = emails(berlin, "compliance:warning:")
    assert sorted(m.recipient for m in sent) == sorted(["desk@northwind.test", user.user.email])
    text = sent[0].payload["text"]
    assert "No updates for 1 week: 2026-W49 (1 lead)" in text
    assert f"Pat Buyer (Acme): /leads/{lead.pk}/" in text
    assert "11 Dec 2026 17:00 CET" in text


def test_no_warning_while_nothing_is_missed(berlin, partner):
    lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2), weeks_back(1)])
    assert run(berlin, at(MONDAY, 9)).warned == []
    assert emails(berlin) == []


def test_the_partner_is_warned_once_a_week_however_often_the_rule_runs(berlin, partner):
    lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2)])
    run(berlin, at(MONDAY, 9))
    assert run(berlin, at(MONDAY + timedelta(days=2), 9)).warned == []
    assert len(emails(berlin)) == 1


def test_the_partner_is_suspended_after_two_missed_weeks(berlin, partner):
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    done = run(berlin, at(MONDAY, 9))
    assert done.suspended == [partner.pk]
    after = fresh(berlin, partner)
    assert (after.status, after.suspended_by_rule) == ("suspended", True)
    assert after.suspension_reason == "No updates for 2 weeks: 2026-W48, 2026-W49 (1 lead)"
    [suspension] = emails(berlin, "compliance:suspended:")
    assert "paused new leads to Northwind" in suspension.payload["text"]
    assert "/leads/" in suspension.payload["text"]


def test_the_suspension_is_audited_with_its_reason(berlin, partner):
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    with tenant_context(berlin):
        event = AuditEvent.objects.get(action="partner.suspended", object_id=str(partner.pk))
    assert event.actor_label == "compliance"
    assert event.after["reason"].startswith("No updates for 2 weeks")
    assert event.after["by_rule"] is True


def test_the_partner_is_not_suspended_before_the_second_week_closes(berlin, partner):
    lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2)])
    run(berlin, at(MONDAY, 9))  # W49 missed: warned
    # Sunday 23:30 in Berlin: W50 not closed yet.
    sunday = at(MONDAY + timedelta(days=6), 23) + timedelta(minutes=30)
    assert run(berlin, sunday).suspended == []
    # Monday 00:30 in Berlin (Sunday 23:30 UTC): W50 closed and missed too.
    assert run(berlin, sunday + timedelta(hours=1)).suspended == [partner.pk]


def test_the_week_boundary_is_the_tenants_in_los_angeles(actors):
    actors.tenant_a.timezone = "America/Los_Angeles"
    actors.tenant_a.save()
    tenant = actors.tenant_a
    partner = PartnerFactory(tenant=tenant, name="Westwind", contact_email="w@westwind.test")
    lead_of(tenant, partner, at(weeks_back(1), 9, LOS_ANGELES), reported=[weeks_back(1)])
    next_monday = MONDAY + timedelta(days=7)
    # Already Monday in Berlin and UTC, still Sunday 20:00 in Los Angeles: nothing missed.
    assert run(tenant, at(next_monday, 4, BERLIN)).warned == []
    assert run(tenant, at(next_monday, 0, LOS_ANGELES) + timedelta(minutes=5)).warned == [
        partner.pk
    ]


def test_with_a_limit_of_three_weeks_two_missed_weeks_only_warn(berlin, partner):
    set_rules(berlin, suspend_after_weeks=3)
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    done = run(berlin, at(MONDAY, 9))
    assert (done.warned, done.suspended) == ([partner.pk], [])


def test_a_rerun_sends_nothing_twice(berlin, partner, manager):
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    first = len(emails(berlin))
    again = run(berlin, at(MONDAY, 10))
    assert (again.warned, again.suspended, again.reinstated) == ([], [], [])
    assert len(emails(berlin)) == first


def test_the_managers_get_one_summary_of_the_run(berlin, partner, manager):
    other = PartnerFactory(tenant=berlin, name="Southwind")
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    lead_of(berlin, other, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    summaries = emails(berlin, "compliance:summary:")
    to_manager = [m for m in summaries if m.recipient == manager.user.email]
    assert len(to_manager) == 1
    text = to_manager[0].payload["text"]
    assert "Suspended: Northwind" in text and "Suspended: Southwind" in text


def test_a_late_update_of_the_backlog_reinstates_the_partner(berlin, partner, manager):
    lead = lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    for monday in (weeks_back(2), weeks_back(1)):
        WeeklyUpdateFactory(tenant=berlin, lead=lead, week=monday, late=True)
    done = run(berlin, at(MONDAY, 15))
    assert done.reinstated == [partner.pk]
    after = fresh(berlin, partner)
    assert (after.status, after.suspended_by_rule, after.suspension_reason) == ("active", False, "")
    with tenant_context(berlin):
        event = AuditEvent.objects.get(action="partner.reactivated", object_id=str(partner.pk))
    assert event.after["reason"] == "Backlog reported: no missed weeks left"
    assert len(emails(berlin, "compliance:reinstated:")) == 1
    assert any(
        "Reinstated: Northwind" in m.payload["text"] for m in emails(berlin, "compliance:summary:")
    )


def test_reporting_only_the_latest_week_is_enough_to_reinstate(berlin, partner):
    lead = lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    WeeklyUpdateFactory(tenant=berlin, lead=lead, week=weeks_back(2), late=True)
    # W49 still missing: one missed week, still suspended.
    assert run(berlin, at(MONDAY, 15)).reinstated == []
    assert fresh(berlin, partner).status == "suspended"


def test_a_partner_suspended_by_hand_is_not_reinstated_by_the_rule(berlin, partner, manager):
    lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2), weeks_back(1)])
    with tenant_context(berlin):
        tenancy_services.suspend_partner(partner=partner, by=manager.principal)
    assert run(berlin, at(MONDAY, 9)).reinstated == []
    assert fresh(berlin, partner).status == "suspended"


def test_a_partner_reactivated_by_hand_is_not_suspended_again_that_week(berlin, partner, manager):
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    with time_machine.travel(at(MONDAY, 10), tick=False), tenant_context(berlin):
        tenancy_services.reactivate_partner(partner=fresh(berlin, partner), by=manager.principal)
    assert run(berlin, at(MONDAY + timedelta(days=1), 9)).suspended == []
    assert fresh(berlin, partner).status == "active"


def test_open_leads_are_recalled_on_suspension_when_the_setting_is_on(berlin, partner):
    rep = make_actor(berlin, Role.REP, user__full_name="Riley Rep")
    set_rules(berlin, recall_on_suspension=True)
    lead = lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    done = run(berlin, at(MONDAY, 9))
    assert done.recalled == [lead.pk]
    with tenant_context(berlin):
        after = Lead.objects.get(pk=lead.pk)
        record = Assignment.objects.filter(lead_id=lead.pk).latest("id")
    assert (after.partner_id, after.rep_id) == (None, rep.user.pk)
    assert (record.kind, record.previous_partner_id) == (
        AssignmentKind.PARTNER_SUSPENDED,
        partner.pk,
    )


def test_open_leads_stay_with_the_partner_when_the_setting_is_off(berlin, partner):
    make_actor(berlin, Role.REP, user__full_name="Riley Rep")
    lead = lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    done = run(berlin, at(MONDAY, 9))
    assert done.recalled == []
    with tenant_context(berlin):
        assert Lead.objects.get(pk=lead.pk).partner_id == partner.pk


def test_another_tenants_partners_are_left_alone(berlin, actors):
    theirs = PartnerFactory(tenant=actors.tenant_b, name="Elsewhere")
    lead_of(actors.tenant_b, theirs, at(weeks_back(3), 9))
    run(berlin, at(MONDAY, 9))
    with tenant_context(actors.tenant_b):
        assert Partner.objects.get(pk=theirs.pk).status == "active"


def test_the_hourly_task_runs_the_rule_for_every_tenant(berlin, partner, settings):
    from leads.tasks import enforce_partner_compliance_of_tenant

    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    with time_machine.travel(at(MONDAY, 9), tick=False):
        assert (
            enforce_partner_compliance_of_tenant.apply(kwargs={"tenant_id": berlin.pk}).get() == 1
        )
    assert fresh(berlin, partner).status == "suspended"
    assert settings.CELERY_BEAT_SCHEDULE["enforce-partner-compliance"]["task"] == (
        "leads.tasks.enforce_partner_compliance"
    )


def test_the_run_reads_a_fixed_number_of_queries_when_nothing_changes(
    berlin, django_assert_max_num_queries
):
    for n in range(5):
        p = PartnerFactory(tenant=berlin, name=f"P{n}")
        lead_of(berlin, p, at(weeks_back(2), 9), reported=[weeks_back(2), weeks_back(1)])
    with (
        time_machine.travel(at(MONDAY, 9), tick=False),
        tenant_context(berlin),
        django_assert_max_num_queries(8),
    ):
        enforce_partner_compliance()


def test_a_partner_reinstated_by_the_rule_is_suspended_again_when_it_stops_reporting(
    berlin, partner
):
    # The rule's own reactivation is no manager's: it does not shield the partner later.
    lead = lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    for monday in (weeks_back(2), weeks_back(1)):
        WeeklyUpdateFactory(tenant=berlin, lead=lead, week=monday, late=True)
    run(berlin, at(MONDAY, 10))
    # Two weeks later nothing more was reported: suspended again.
    assert run(berlin, at(MONDAY + timedelta(weeks=2), 9)).suspended == [partner.pk]


def _key_of(tenant, partner) -> str:
    admin = make_actor(tenant, Role.ADMIN)
    with tenant_context(tenant):
        return tenancy_services.issue_api_key(
            name="CRM sync", partner=partner, by=admin.principal
        ).secret


def test_a_partner_suspended_by_the_rule_keeps_its_key_to_report_its_backlog(berlin, partner):
    from leadflow.tenancy.selectors import principal_for_secret

    secret = _key_of(berlin, partner)
    lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(3)])
    run(berlin, at(MONDAY, 9))
    assert fresh(berlin, partner).status == "suspended"
    caller = principal_for_secret(secret)
    assert caller is not None and caller.partner.pk == partner.pk


def test_a_partner_suspended_by_hand_loses_its_key_at_once(berlin, partner, manager):
    from leadflow.tenancy.selectors import principal_for_secret

    secret = _key_of(berlin, partner)
    with tenant_context(berlin):
        tenancy_services.suspend_partner(
            partner=partner, by=manager.principal, reason="contract ended"
        )
    assert principal_for_secret(secret) is None
