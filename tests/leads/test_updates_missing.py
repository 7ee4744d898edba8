"""Missing weekly updates: ISO week 53, year end, a DST change, the two-business-day exemption."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow.tenancy.context import tenant_context
from leads.models import Lead
from leads.selectors.weekly import current_week, missing_update
from tests.factories import LeadFactory, WeeklyUpdateFactory

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    return actors.tenant_a


def lead_assigned(tenant, at, stage="accepted"):
    return LeadFactory(tenant=tenant, stage=stage, assigned_at=at)


def missing(tenant, week) -> set[int]:
    with tenant_context(tenant):
        return set(
            missing_update(Lead.objects.all(), week=week, tz=BERLIN).values_list("pk", flat=True)
        )


W53 = date(2026, 12, 28)
W01 = date(2027, 1, 4)


def test_an_open_lead_without_an_update_in_week_53_is_missing(berlin):
    lead = lead_assigned(berlin, datetime(2026, 12, 1, tzinfo=UTC))
    assert missing(berlin, W53) == {lead.pk}


def test_an_update_for_week_53_clears_it_and_week_1_of_2027_owes_again(berlin):
    lead = lead_assigned(berlin, datetime(2026, 12, 1, tzinfo=UTC))
    WeeklyUpdateFactory(tenant=berlin, lead=lead, week=W53)
    assert missing(berlin, W53) == set()
    assert missing(berlin, W01) == {lead.pk}


def test_new_years_eve_evening_belongs_to_week_53(berlin):
    # 31 December 23:30 UTC is 1 January 00:30 in Berlin — still the Friday of 2026-W53.
    assert current_week(BERLIN, datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == W53
    # Sunday 3 January 23:30 UTC is Monday 4 January in Berlin: 2027-W01.
    assert current_week(BERLIN, datetime(2027, 1, 3, 23, 30, tzinfo=UTC)) == W01


def test_a_lead_assigned_on_the_thursday_of_week_53_is_not_missing_that_week(berlin):
    lead = lead_assigned(berlin, datetime(2026, 12, 31, 9, tzinfo=BERLIN))
    assert missing(berlin, W53) == set()
    assert missing(berlin, W01) == {lead.pk}


def test_a_lead_assigned_on_wednesday_is_missing_that_week(berlin):
    lead = lead_assigned(berlin, datetime(2026, 12, 30, 23, 59, tzinfo=BERLIN))
    assert missing(berlin, W53) == {lead.pk}


def test_the_exemption_starts_at_local_midnight_not_utc(berlin):
    # Wednesday 23:30 UTC is Thursday 00:30 in Berlin: exempt.
    lead_assigned(berlin, datetime(2026, 12, 30, 23, 30, tzinfo=UTC))
    assert missing(berlin, W53) == set()


def test_a_lead_assigned_on_the_thursday_of_the_spring_dst_week_is_exempt(berlin):
    week = date(2026, 3, 23)  # summer time begins on Sunday the 29th
    exempt = lead_assigned(berlin, datetime(2026, 3, 26, 0, 0, tzinfo=BERLIN))
    owing = lead_assigned(berlin, datetime(2026, 3, 25, 23, 59, tzinfo=BERLIN))
    assert missing(berlin, week) == {owing.pk}
    assert missing(berlin, date(2026, 3, 30)) == {exempt.pk, owing.pk}


def test_the_sunday_night_of_the_autumn_dst_change_is_still_that_week(berlin):
    # 25 October 2026 (clocks go back): 22:30 UTC is 23:30 CET, still the week of the 19th.
    assert current_week(BERLIN, datetime(2026, 10, 25, 22, 30, tzinfo=UTC)) == date(2026, 10, 19)
    assert current_week(BERLIN, datetime(2026, 10, 25, 23, 30, tzinfo=UTC)) == date(2026, 10, 26)


@pytest.mark.parametrize("stage", ["awaiting_acceptance", "won", "lost", "postponed"])
def test_a_lead_not_accepted_or_sql_is_never_missing(berlin, stage):
    lead_assigned(berlin, datetime(2026, 12, 1, tzinfo=UTC), stage=stage)
    assert missing(berlin, W53) == set()


def test_an_sql_lead_is_missing_like_an_accepted_one(berlin):
    lead = lead_assigned(berlin, datetime(2026, 12, 1, tzinfo=UTC), stage="sql")
    assert missing(berlin, W53) == {lead.pk}


def test_a_late_update_for_a_past_week_clears_that_week_only(berlin):
    lead = lead_assigned(berlin, datetime(2026, 12, 1, tzinfo=UTC))
    WeeklyUpdateFactory(tenant=berlin, lead=lead, week=W53 - timedelta(weeks=1), late=True)
    assert missing(berlin, W53 - timedelta(weeks=1)) == set()
    assert missing(berlin, W53) == {lead.pk}
