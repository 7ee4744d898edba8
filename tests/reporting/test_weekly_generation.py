"""The weekly snapshot: hand-computed figures, time zones, immutability, changes since."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leads.services.closing import reopen_lead
from leads.services.ownership import reassign_leads
from reporting.weekly.models import WeeklyReport, WeeklyReportLine
from reporting.weekly.selectors import (
    BadWeek,
    changed_leads,
    changes_since,
    line_key,
    lost_by_reason,
    parse_week,
    postponed_by_date,
    snapshot_lines,
)
from reporting.weekly.services import generate_weekly_report, run_weekly_report
from tests.conftest import make_actor
from tests.factories import LeadFactory, WeeklyUpdateFactory
from tests.reporting.weekly_data import W53, berlin, build, ids

MONDAY_AFTER = berlin(2027, 1, 4, 9)


def generate(data, week=W53, at=MONDAY_AFTER):
    with time_machine.travel(at, tick=False), tenant_context(data.tenant):
        return generate_weekly_report(week=week, by=Principal.system(data.tenant, "tests"))


def lines_by_key(tenant, report):
    with tenant_context(tenant):
        return {line_key(line): line for line in snapshot_lines(report)}


@pytest.fixture
def data(actors):
    return build(actors)


def test_week_53_across_the_year_boundary_has_the_hand_computed_figures(data):
    done = generate(data)
    assert done.created
    lines = lines_by_key(data.tenant, done.report)
    everyone = lines[("tenant", None)]
    assert (everyone.won_count, everyone.won_value) == (1, Decimal("1000.00"))
    assert everyone.won_ids == ids(data, "won_in")
    assert (everyone.quarter_won_count, everyone.quarter_won_value) == (2, Decimal("1500.00"))
    assert everyone.lost_ids == ids(data, "lost_riley", "lost_sam")
    assert lost_by_reason(everyone) == [("no budget", 2)]
    assert everyone.postponed_count == 1
    assert postponed_by_date(everyone) == [("2027-02-01", 1)]
    assert everyone.progressed_ids == ids(data, "progressed")
    assert everyone.touches == 2
    assert everyone.breach_ids == ids(data, "breached")
    assert everyone.missing_ids == ids(data, "missing")

    riley = lines[("rep", data.riley.user.pk)]
    assert riley.name == "Riley Rep"
    assert (riley.won_count, riley.won_value, riley.target_value) == (
        1,
        Decimal("1000.00"),
        Decimal("5000.00"),
    )
    assert riley.quarter_won_value == Decimal("1500.00")
    assert (riley.lost_count, riley.breach_count, riley.missing_count) == (1, 1, 0)

    sam = lines[("rep", data.sam.user.pk)]
    assert (sam.won_count, sam.lost_count, sam.progressed_count, sam.touches) == (0, 1, 1, 2)
    assert sam.missing_ids == ids(data, "missing")
    assert sam.target_value is None

    partner = lines[("partner", data.partner.pk)]
    assert (partner.name, partner.postponed_ids) == ("Northwind", ids(data, "postponed"))

    team = lines[("team", data.team.pk)]
    assert (team.name, team.won_ids, team.lost_ids) == (
        "North",
        ids(data, "won_in"),
        ids(data, "lost_sam"),
    )
    assert len(lines) == 5


def test_imported_outcomes_never_count(data):
    """The data set's imported "won" inquiry adds nothing: one won lead in the week, no more."""
    done = generate(data)
    everyone = lines_by_key(data.tenant, done.report)[("tenant", None)]
    assert everyone.won_count == 1


def test_the_snapshot_is_made_once_and_a_rerun_changes_and_sends_nothing(data):
    first = generate(data)
    with tenant_context(data.tenant):
        emails = OutboxMessage.objects.filter(key__startswith="weekly-report:").count()
        line_count = WeeklyReportLine.objects.count()
    assert first.emails == emails > 0
    LeadFactory(
        tenant=data.tenant,
        rep=data.riley.user,
        stage="won",
        value=Decimal("7"),
        closed_at=berlin(2026, 12, 29, 9),
    )
    again = generate(data, at=MONDAY_AFTER + timedelta(hours=3))
    assert (again.created, again.emails, again.report.pk) == (False, 0, first.report.pk)
    with tenant_context(data.tenant):
        assert OutboxMessage.objects.filter(key__startswith="weekly-report:").count() == emails
        assert WeeklyReportLine.objects.count() == line_count
        assert WeeklyReport.objects.count() == 1


def test_a_snapshot_row_cannot_be_updated(data):
    done = generate(data)
    with tenant_context(data.tenant):
        with pytest.raises(DatabaseError), transaction.atomic():
            WeeklyReportLine.objects.filter(report=done.report).update(won_count=99)
        with pytest.raises(DatabaseError), transaction.atomic():
            WeeklyReport.objects.filter(pk=done.report.pk).update(week=date(2026, 12, 21))


def test_late_updates_and_reopened_leads_show_beside_the_snapshot(data):
    done = generate(data)
    with time_machine.travel(berlin(2027, 1, 5, 10), tick=False), tenant_context(data.tenant):
        WeeklyUpdateFactory(
            tenant=data.tenant, lead=data.leads["missing"], week=W53, status="progress", late=True
        )
        reopen_lead(lead=data.leads["won_in"], by=Principal.system(data.tenant, "tests"))
        stored = snapshot_lines(done.report)
        changed = changes_since(stored, changed_leads(done.report, ZoneInfo("Europe/Berlin")))
    assert changed[("tenant", None)] == ids(data, "missing", "won_in")
    assert changed[("rep", data.sam.user.pk)] == ids(data, "missing")
    assert changed[("rep", data.riley.user.pk)] == ids(data, "won_in")
    assert changed[("partner", data.partner.pk)] == []
    # The snapshot itself is as it was.
    everyone = lines_by_key(data.tenant, done.report)[("tenant", None)]
    assert (everyone.won_count, everyone.missing_count) == (1, 1)


def test_a_lead_given_to_another_owner_after_the_snapshot_shows_on_both_lines(data):
    done = generate(data)
    missing = data.leads["missing"]
    with time_machine.travel(berlin(2027, 1, 5, 10), tick=False), tenant_context(data.tenant):
        by = Principal.system(data.tenant, "tests")
        assert reassign_leads(lead_ids=[missing.pk], rep=data.riley.user, by=by) == 1
        changed = changes_since(
            snapshot_lines(done.report), changed_leads(done.report, ZoneInfo("Europe/Berlin"))
        )
    assert changed[("rep", data.sam.user.pk)] == ids(data, "missing")
    # Given after the week's Thursday, it owes Riley no update for that week: not in a figure
    # of Riley's line then or now.
    assert changed[("rep", data.riley.user.pk)] == []
    assert changed[("tenant", None)] == ids(data, "missing")


def test_a_past_week_with_nothing_changed_since_lists_no_changes(data):
    done = generate(data)
    with tenant_context(data.tenant):
        changed = changes_since(
            snapshot_lines(done.report), changed_leads(done.report, ZoneInfo("Europe/Berlin"))
        )
    assert set(map(tuple, changed.values())) == {()}


class Undone(Exception):
    """Rolls a snapshot back, so the same week can be made again."""


def snapshot_queries(data) -> list[str]:
    by = Principal.system(data.tenant, "tests")
    with (
        CaptureQueriesContext(connection) as made,
        pytest.raises(Undone),
        time_machine.travel(MONDAY_AFTER, tick=False),
        tenant_context(data.tenant),
        transaction.atomic(),
    ):
        assert generate_weekly_report(week=W53, by=by, send=False).created
        raise Undone
    return [query["sql"] for query in made.captured_queries]


def test_the_snapshot_takes_the_same_queries_however_many_leads(data):
    few = snapshot_queries(data)
    with tenant_context(data.tenant):
        for stage, closed in (("won", True), ("lost", True), ("accepted", False)):
            for _ in range(10):
                LeadFactory(
                    tenant=data.tenant,
                    rep=data.sam.user,
                    stage=stage,
                    value=Decimal("10.00") if stage == "won" else None,
                    lost_reason="no budget" if stage == "lost" else "",
                    closed_at=berlin(2026, 12, 29, 9) if closed else None,
                    assigned_at=berlin(2026, 12, 1, 9),
                )
    more = snapshot_queries(data)
    assert len(more) == len(few)
    assert sum("INSERT INTO reporting_weeklyreportline" in sql for sql in more) == 1


def test_a_week_that_has_not_ended_is_refused(data):
    from leadflow.lib.rules import RuleViolation

    with pytest.raises(RuleViolation) as refused:
        generate(data, week=date(2027, 1, 4), at=berlin(2027, 1, 6, 9))
    assert refused.value.field == "week"


@pytest.mark.parametrize(
    "text", ["2026-W60", "2025-W53", "2026-53", "2026-W5", "W53", "", "0001-W01", "0000-W00"]
)
def test_malformed_or_missing_weeks_are_refused(text):
    with pytest.raises(BadWeek):
        parse_week(text)


def test_2026_has_a_week_53():
    assert parse_week("2026-W53") == date(2026, 12, 28)
    assert parse_week("2027-W01") == date(2027, 1, 4)


def test_the_week_ends_at_local_midnight_across_a_dst_change(actors):
    """New York leaves daylight time on Sunday 1 November 2026: W44 ends at 05:00 UTC, not 04:00."""
    tenant = actors.tenant_a
    tenant.timezone = "America/New_York"
    tenant.save(update_fields=["timezone"])
    rep = make_actor(tenant, Role.REP, user__full_name="Nia York").user
    ny = ZoneInfo("America/New_York")
    with tenant_context(tenant):
        last_hour = LeadFactory(
            tenant=tenant,
            rep=rep,
            stage="won",
            value=10,
            closed_at=datetime(2026, 11, 1, 23, 30, tzinfo=ny),
        )
        LeadFactory(
            tenant=tenant,
            rep=rep,
            stage="won",
            value=20,
            closed_at=datetime(2026, 11, 2, 0, 30, tzinfo=ny),
        )
        first_hour = LeadFactory(
            tenant=tenant,
            rep=rep,
            stage="lost",
            lost_reason="no budget",
            closed_at=datetime(2026, 10, 26, 0, 15, tzinfo=ny),
        )
    with (
        time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=ny), tick=False),
        tenant_context(tenant),
    ):
        done = generate_weekly_report(week=date(2026, 10, 26), by=Principal.system(tenant, "t"))
        [everyone] = [line for line in snapshot_lines(done.report) if line.scope == "tenant"]
    assert everyone.won_ids == [last_hour.pk]
    assert everyone.lost_ids == [first_hour.pk]


def test_a_tenant_east_of_utc_starts_its_monday_on_sunday_utc(actors):
    """Auckland (UTC+13 in December): W50 starts Sunday 6 December 11:00 UTC."""
    tenant = actors.tenant_a
    tenant.timezone = "Pacific/Auckland"
    tenant.save(update_fields=["timezone"])
    rep = make_actor(tenant, Role.REP, user__full_name="Aroha Rep").user
    utc = ZoneInfo("UTC")
    with tenant_context(tenant):
        monday_early = LeadFactory(
            tenant=tenant,
            rep=rep,
            stage="lost",
            lost_reason="no budget",
            closed_at=datetime(2026, 12, 6, 12, tzinfo=utc),
        )
        LeadFactory(
            tenant=tenant,
            rep=rep,
            stage="lost",
            lost_reason="no budget",
            closed_at=datetime(2026, 12, 6, 10, tzinfo=utc),
        )
    auckland = ZoneInfo("Pacific/Auckland")
    with (
        time_machine.travel(datetime(2026, 12, 14, 9, tzinfo=auckland), tick=False),
        tenant_context(tenant),
    ):
        done = generate_weekly_report(week=date(2026, 12, 7), by=Principal.system(tenant, "t"))
        [everyone] = [line for line in snapshot_lines(done.report) if line.scope == "tenant"]
    assert everyone.lost_ids == [monday_early.pk]


def test_the_beat_waits_for_the_tenants_monday_hour(data):
    with tenant_context(data.tenant):
        with time_machine.travel(berlin(2027, 1, 4, 7, 59), tick=False):
            assert run_weekly_report() is None
        with time_machine.travel(berlin(2027, 1, 4, 8, 0), tick=False):
            done = run_weekly_report()
    assert done is not None and done.created and done.report.week == W53


def test_a_week_with_no_leads_has_one_empty_tenant_line(actors):
    tenant = actors.tenant_a
    moment = datetime(2026, 12, 8, 9, tzinfo=ZoneInfo("UTC"))
    with time_machine.travel(moment, tick=False), tenant_context(tenant):
        done = generate_weekly_report(week=date(2026, 11, 30), by=Principal.system(tenant, "t"))
        [line] = snapshot_lines(done.report)
    assert (line.scope, line.won_count, line.won_value, line.won_ids) == ("tenant", 0, 0, [])
