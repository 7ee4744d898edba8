"""``partner_compliance``: the consecutive closed weeks a partner missed, read set-based."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leadflow.tenancy.context import tenant_context
from leads.models import LeadSettings
from leads.selectors.compliance import COMPLIANT, SUSPENDED, WARNED, partner_compliance
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


def partner_of(tenant, name="Northwind"):
    return PartnerFactory(tenant=tenant, name=name, contact_email=f"{name.lower()}@partner.test")


def lead_of(tenant, partner, assigned_at: datetime, reported=(), stage="accepted"):
    lead = LeadFactory(
        tenant=tenant,
        stage=stage,
        partner=partner,
        assigned_at=assigned_at,
        accepted_at=assigned_at,
        inquiry=InquiryFactory(tenant=tenant),
    )
    for monday in reported:
        WeeklyUpdateFactory(tenant=tenant, lead=lead, week=monday)
    return lead


def compliance(tenant, moment: datetime, ids=None):
    with time_machine.travel(moment, tick=False), tenant_context(tenant):
        return partner_compliance(ids)


def test_a_partner_that_reported_every_closed_week_is_compliant(berlin):
    partner = partner_of(berlin)
    lead_of(
        berlin,
        partner,
        at(weeks_back(3), 9),
        reported=[weeks_back(3), weeks_back(2), weeks_back(1)],
    )
    result = compliance(berlin, at(MONDAY, 9))[partner.pk]
    assert result.state == COMPLIANT
    assert result.missing_weeks == [] and result.reason == "" and result.report_by is None


def test_missed_weeks_are_the_consecutive_closed_weeks_newest_first(berlin):
    partner = partner_of(berlin)
    # W46 missed, W47 reported, W48 and W49 missed: two consecutive weeks.
    lead = lead_of(berlin, partner, at(weeks_back(4), 9), reported=[weeks_back(3)])
    result = compliance(berlin, at(MONDAY, 9))[partner.pk]
    assert result.missing_weeks == [weeks_back(1), weeks_back(2)]
    assert result.missing_leads == [lead.pk]
    assert result.reason == "No updates for 2 weeks: 2026-W48, 2026-W49 (1 lead)"


def test_one_missed_week_before_the_limit_warns_with_friday_five_pm_as_deadline(berlin):
    partner = partner_of(berlin)
    lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2)])
    result = compliance(berlin, at(MONDAY + timedelta(days=2), 12))[partner.pk]
    assert result.state == WARNED
    assert result.missing_weeks == [weeks_back(1)]
    assert result.report_by == at(MONDAY + timedelta(days=4), 17)


def test_a_late_update_fills_the_week(berlin):
    partner = partner_of(berlin)
    lead = lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2)])
    WeeklyUpdateFactory(tenant=berlin, lead=lead, week=weeks_back(1), late=True)
    assert compliance(berlin, at(MONDAY, 9))[partner.pk].state == COMPLIANT


def test_the_current_week_is_not_counted_until_it_closes(berlin):
    partner = partner_of(berlin)
    lead_of(berlin, partner, at(weeks_back(1), 9), reported=[weeks_back(1)])
    # Sunday 23:00 in Berlin: W50 still open.
    assert compliance(berlin, at(MONDAY + timedelta(days=6), 23))[partner.pk].state == COMPLIANT
    # Monday 00:30 in Berlin (still Sunday in UTC): W50 closed and missed.
    monday_after = compliance(berlin, at(MONDAY + timedelta(days=7), 0) + timedelta(minutes=30))
    assert monday_after[partner.pk].missing_weeks == [MONDAY]


def test_the_week_boundary_is_the_tenants_midnight_in_los_angeles(actors):
    actors.tenant_a.timezone = "America/Los_Angeles"
    actors.tenant_a.save()
    partner = partner_of(actors.tenant_a)
    lead_of(actors.tenant_a, partner, at(weeks_back(1), 9, LOS_ANGELES), reported=[weeks_back(1)])
    # Monday 03:00 in Berlin is still Sunday 18:00 in Los Angeles: W50 has not closed there.
    sunday_evening = at(MONDAY + timedelta(days=7), 3, BERLIN)
    assert compliance(actors.tenant_a, sunday_evening)[partner.pk].missing_weeks == []
    monday = at(MONDAY + timedelta(days=7), 0, LOS_ANGELES) + timedelta(minutes=5)
    assert compliance(actors.tenant_a, monday)[partner.pk].missing_weeks == [MONDAY]


def test_a_lead_assigned_in_the_last_two_business_days_owes_nothing_for_that_week(berlin):
    partner = partner_of(berlin)
    # Assigned on Thursday of W49: W49 was not owed.
    lead_of(berlin, partner, at(weeks_back(1) + timedelta(days=3), 9))
    assert compliance(berlin, at(MONDAY, 9))[partner.pk].missing_weeks == []


def test_closed_leads_owe_nothing(berlin):
    partner = partner_of(berlin)
    lead_of(berlin, partner, at(weeks_back(3), 9), stage="won")
    assert compliance(berlin, at(MONDAY, 9))[partner.pk].state == COMPLIANT


def test_with_a_limit_of_three_weeks_one_missed_week_is_no_warning(berlin):
    with tenant_context(berlin):
        LeadSettings.objects.create(tenant=berlin, suspend_after_weeks=3)
    partner = partner_of(berlin)
    lead_of(berlin, partner, at(weeks_back(2), 9), reported=[weeks_back(2)])
    assert compliance(berlin, at(MONDAY, 9))[partner.pk].state == COMPLIANT


def test_a_suspended_partner_reads_suspended_with_its_reason(berlin):
    partner = partner_of(berlin)
    with tenant_context(berlin):
        partner.status = "suspended"
        partner.suspension_reason = "Contract under review"
        partner.save()
    result = compliance(berlin, at(MONDAY, 9))[partner.pk]
    assert result.state == SUSPENDED and result.reason == "Contract under review"


def test_another_tenants_partner_is_left_out(berlin, actors):
    theirs = partner_of(actors.tenant_b, "Elsewhere")
    assert compliance(berlin, at(MONDAY, 9), ids=[theirs.pk]) == {}


@pytest.mark.parametrize("partners", [1, 6])
def test_the_query_count_is_fixed_in_the_number_of_partners(
    berlin, partners, django_assert_max_num_queries
):
    for n in range(partners):
        partner = partner_of(berlin, f"Partner{n}")
        lead_of(berlin, partner, at(weeks_back(3), 9), reported=[weeks_back(2)])
        lead_of(berlin, partner, at(weeks_back(1), 9))
    with (
        time_machine.travel(at(MONDAY, 9), tick=False),
        tenant_context(berlin),
        django_assert_max_num_queries(4),
    ):
        result = partner_compliance()
    assert len(result) == partners
    assert all(len(c.missing_weeks) == 1 for c in result.values())
