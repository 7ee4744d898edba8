"""The Monday digest's late backlog: earlier weeks with no update, listed below this week's."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from leads.selectors.weekly import late_window
from leads.services.digests import digest_rows, queue_missing_update_digests
from leads.services.updates import mark_reported
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, WeeklyUpdateFactory

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-W50: Monday 7 December.
MONDAY = date(2026, 12, 7)


def report_week(tenant, lead, week, **fields):
    """An update for ``week``, keeping the lead's weeks as ``record_weekly_update`` does."""
    with tenant_context(tenant), transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        update = WeeklyUpdateFactory(tenant=tenant, lead=lead, week=week, **fields)
        last, mask = mark_reported(locked.last_update_week, locked.reported_weeks, week)
        Lead.objects.filter(pk=lead.pk).update(last_update_week=last, reported_weeks=mask)
    return update


def at(day: date, hour: int, minute: int = 0, tz=BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def zone(actors, name: str):
    actors.tenant_a.timezone = name
    actors.tenant_a.save()
    return actors.tenant_a


@pytest.fixture
def berlin(actors):
    return zone(actors, "Europe/Berlin")


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep").membership.user


def lead_of(tenant, rep, assigned_at: datetime, reported=(), company="Acme", **fields):
    """An accepted lead of ``rep`` assigned at ``assigned_at``, with updates for ``reported``."""
    lead = LeadFactory(
        tenant=tenant,
        stage="accepted",
        rep=rep,
        assigned_at=assigned_at,
        accepted_at=fields.pop("accepted_at", assigned_at),
        inquiry=InquiryFactory(tenant=tenant, first_name="Pat", last_name="Buyer", company=company),
        **fields,
    )
    for monday in reported:
        report_week(tenant, lead, monday)
    return lead


def weeks_back(n: int, monday: date = MONDAY) -> date:
    return monday - timedelta(weeks=n)


def run(tenant, moment: datetime) -> int:
    with time_machine.travel(moment, tick=False), tenant_context(tenant):
        return queue_missing_update_digests()


def texts(tenant) -> list[str]:
    with tenant_context(tenant):
        messages = OutboxMessage.objects.filter(key__startswith="digest:missing:").order_by("id")
        return [m.payload["text"] for m in messages]


def test_the_late_weeks_are_listed_below_this_weeks_leads(berlin, rep):
    # Assigned on Monday of W46; reported W48 only: W46, W47 and W49 are late, W50 missing.
    lead = lead_of(berlin, rep, at(weeks_back(4), 9), reported=[weeks_back(2)])
    assert run(berlin, at(MONDAY, 7)) == 1
    [text] = texts(berlin)
    assert "1 lead still needs this week's update (2026-W50)" in text
    late = "- Late: 3 weeks missing for Pat Buyer (Acme) — 2026-W46, 2026-W47, 2026-W49"
    assert late in text
    assert text.index("this week's update") < text.index(late)
    assert f"/leads/{lead.pk}/" in text.split("Late:")[1]


def test_an_owner_with_only_a_backlog_still_gets_one_email(berlin, rep):
    lead_of(berlin, rep, at(weeks_back(2), 9), reported=[MONDAY, weeks_back(2)])
    assert run(berlin, at(MONDAY, 7)) == 1
    [text] = texts(berlin)
    assert "Every lead has this week's update (2026-W50)" in text
    assert "Late: 1 week missing for Pat Buyer (Acme) — 2026-W49" in text


def test_the_backlog_looks_back_eight_weeks_at_most(berlin, rep):
    lead_of(berlin, rep, at(weeks_back(20), 9))
    run(berlin, at(MONDAY, 7))
    [text] = texts(berlin)
    assert "Late: 8 weeks missing" in text
    assert "2026-W42" in text and "2026-W41" not in text


def test_weeks_before_the_assignment_are_not_late(berlin, rep):
    # Assigned on Thursday of W48 (the last two business days): W48 was not owed.
    lead_of(berlin, rep, at(weeks_back(2) + timedelta(days=3), 9))
    run(berlin, at(MONDAY, 7))
    [text] = texts(berlin)
    assert "Late: 1 week missing for Pat Buyer (Acme) — 2026-W49" in text


def test_weeks_that_ended_before_the_acceptance_are_not_late(berlin, rep):
    # Assigned in W46 but accepted only on Tuesday of W49.
    accepted = at(weeks_back(1) + timedelta(days=1), 10)
    lead_of(berlin, rep, at(weeks_back(4), 9), accepted_at=accepted)
    run(berlin, at(MONDAY, 7))
    [text] = texts(berlin)
    assert "— 2026-W49:" in text and "W48" not in text


def test_a_rerun_sends_nothing_twice(berlin, rep):
    lead_of(berlin, rep, at(weeks_back(2), 9), reported=[MONDAY])
    assert run(berlin, at(MONDAY, 7)) == 1
    assert run(berlin, at(MONDAY, 9)) == 0
    assert run(berlin, at(MONDAY + timedelta(days=4), 18)) == 0
    assert len(texts(berlin)) == 1


def test_across_the_week_boundary_this_week_becomes_late(berlin, rep):
    lead_of(berlin, rep, at(weeks_back(1), 9), reported=[weeks_back(1)])
    run(berlin, at(MONDAY, 7))
    # Sunday 23:59 is still W50: nothing new. Monday 07:00 of W51: W50 is now late.
    assert run(berlin, at(MONDAY + timedelta(days=6), 23, 59)) == 0
    assert run(berlin, at(MONDAY + timedelta(weeks=1), 7)) == 1
    first, second = texts(berlin)
    assert "Late:" not in first
    assert "Late: 1 week missing for Pat Buyer (Acme) — 2026-W50" in second


def test_berlin_after_the_october_change_reads_thursday_in_local_time(actors, rep):
    tenant = zone(actors, "Europe/Berlin")
    # Thursday 22 October 00:30 in Berlin (summer time) is Wednesday 22:30 UTC: in Berlin it
    # is the week's Thursday, so W43 was not owed. Clocks go back on 25 October.
    lead_of(tenant, rep, at(date(2026, 10, 22), 0, 30), reported=[date(2026, 11, 2)])
    monday = date(2026, 11, 2)  # W45, winter time
    assert run(tenant, at(monday, 6, 59)) == 0
    assert run(tenant, at(monday, 7)) == 1
    [text] = texts(tenant)
    assert "Late: 1 week missing for Pat Buyer (Acme) — 2026-W44:" in text


def test_new_york_after_the_november_change_reads_wednesday_in_local_time(actors, rep):
    tenant = zone(actors, "America/New_York")
    # Wednesday 28 October 23:30 in New York (EDT) is Thursday 03:30 UTC: owed in New York.
    # Clocks go back on 1 November; W45 is reported, W44 is late.
    lead_of(
        tenant,
        rep,
        at(date(2026, 10, 28), 23, 30, tz=NEW_YORK),
        reported=[date(2026, 11, 2), date(2026, 11, 9)],
    )
    monday = date(2026, 11, 9)
    assert run(tenant, at(monday, 6, 59, tz=NEW_YORK)) == 0
    assert run(tenant, at(monday, 7, tz=NEW_YORK)) == 1
    [text] = texts(tenant)
    assert "Late: 1 week missing for Pat Buyer (Acme) — 2026-W44:" in text


def test_the_backlog_email_shows_no_score_and_no_internal_notes(berlin, rep):
    lead = lead_of(
        berlin,
        rep,
        at(weeks_back(3), 9),
        reported=[MONDAY],
        score=87,
        next_step="Internal: CFO is hesitant",
    )
    report_week(tenant=berlin, lead=lead, week=weeks_back(3), note="Secret margin talk")
    run(berlin, at(MONDAY, 7))
    with tenant_context(berlin):
        payload = OutboxMessage.objects.get().payload
    blob = payload["subject"] + payload["text"]
    assert "Late:" in blob
    assert "87" not in blob and "CFO" not in blob and "Secret" not in blob


def test_another_tenants_backlog_never_appears(actors, berlin, rep):
    outsider = make_actor(actors.tenant_b, Role.REP).membership.user
    lead_of(actors.tenant_b, outsider, at(weeks_back(3), 9), company="Elsewhere")
    lead_of(berlin, rep, at(weeks_back(3), 9), reported=[MONDAY])
    run(berlin, at(MONDAY, 7))
    [text] = texts(berlin)
    assert "Elsewhere" not in text
    assert texts(actors.tenant_b) == []


def test_the_selection_takes_one_query_whatever_the_owners(berlin, django_assert_max_num_queries):
    for _n in range(5):
        owner = make_actor(berlin, Role.REP).membership.user
        lead_of(berlin, owner, at(weeks_back(3), 9), reported=[MONDAY])
        lead_of(berlin, owner, at(weeks_back(2), 9))
    with tenant_context(berlin), django_assert_max_num_queries(1):
        rows = digest_rows(MONDAY, BERLIN)
    assert len(rows) == 5
    assert all(len(row.late) == 2 and len(row.missing) == 1 for row in rows)


def test_the_window_is_the_eight_mondays_before_oldest_first():
    assert late_window(MONDAY) == [MONDAY - timedelta(weeks=n) for n in range(8, 0, -1)]


def test_two_updates_in_one_week_count_as_that_week_once(berlin, rep):
    lead = lead_of(berlin, rep, at(weeks_back(3), 9), reported=[MONDAY, weeks_back(3)])
    for _n in range(2):
        report_week(tenant=berlin, lead=lead, week=weeks_back(1))
    run(berlin, at(MONDAY, 7))
    [text] = texts(berlin)
    assert "Late: 1 week missing for Pat Buyer (Acme) — 2026-W48:" in text


def test_an_email_lists_at_most_25_leads_and_counts_the_rest(berlin, rep):
    # 30 leads missing this week, 5 of them with a late week too: 25 listed, 5 more counted.
    leads = [lead_of(berlin, rep, at(weeks_back(1), 9)) for _n in range(30)]
    run(berlin, at(MONDAY, 7))
    [text] = texts(berlin)
    assert "30 leads still need this week's update (2026-W50)" in text
    assert sum(f"/leads/{lead.pk}/" in text for lead in leads) == 25
    assert "And 5 more — see My week: /leads/week/" in text
    assert all(f"/leads/{lead.pk}/" not in text for lead in leads[25:])


def test_the_cap_counts_leads_in_one_query(berlin, rep, django_assert_max_num_queries):
    for _n in range(27):
        lead_of(berlin, rep, at(weeks_back(2), 9), reported=[MONDAY])
    with tenant_context(berlin), django_assert_max_num_queries(1):
        [row] = digest_rows(MONDAY, BERLIN)
    assert (len(row.late), row.late_count, row.unlisted) == (25, 27, 2)
    assert row.missing == [] and row.missing_count == 0


def test_the_sqlite_fallback_gives_the_rows_of_the_postgresql_query(berlin, rep):
    from leads.services import digests
    from tests.factories import PartnerFactory

    other = make_actor(berlin, Role.REP).membership.user
    partner = PartnerFactory(tenant=berlin, contact_email="dealer@example.com")
    for _n in range(27):
        lead_of(berlin, rep, at(weeks_back(3), 9), reported=[MONDAY])
    lead_of(berlin, rep, at(weeks_back(2), 9))
    lead_of(berlin, other, at(weeks_back(4), 9), reported=[weeks_back(2)])
    lead_of(berlin, None, at(weeks_back(3), 9), partner=partner, company="")
    with tenant_context(berlin):
        postgresql = digests._owner_rows(MONDAY, BERLIN)
        fallback = digests._owner_rows_in_python(MONDAY, BERLIN)

    def comparable(rows):
        found = {}
        for row in rows:
            listed = list(zip(row.keys, row.persons, strict=True))
            found[(row.partner_id, row.rep_id)] = (row[2:5], listed, row[7:])
        return found

    assert len(postgresql) == 3
    assert comparable(fallback) == comparable(postgresql)
