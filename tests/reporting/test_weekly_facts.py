"""The week's facts kept up to date by what changed: their snapshot is the full pass's."""

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from leads.services.closing import reopen_lead
from leads.services.ownership import reassign_leads
from leads.services.updates import record_weekly_update
from reporting.weekly.models import WeekFact, WeekFactState
from reporting.weekly.selectors import (
    JSON_COLUMNS,
    LINE_COLUMNS,
    Window,
    figures_sql,
    snapshot_lines,
)
from reporting.weekly.services import (
    bring_week_facts_up_to_date,
    generate_weekly_report,
    keep_week_facts,
    run_weekly_report,
)
from tests.factories import TouchFactory
from tests.reporting.weekly_data import W53, berlin, build

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = Window.of(W53, BERLIN)
FILLED = berlin(2027, 1, 1, 10)
CHANGED = berlin(2027, 1, 2, 15)
MONDAY_AFTER = berlin(2027, 1, 4, 9)


@pytest.fixture
def data(actors):
    return build(actors)


def comparable(line: dict[str, Any]) -> dict[str, Any]:
    """A line's figures with its lists sorted (a list's order is not a figure)."""
    return {
        column: sorted(value, key=str) if isinstance(value, list) else value
        for column, value in line.items()
    }


def full_pass(tenant) -> dict[tuple, dict[str, Any]]:
    """Every line of W53 as the full per-lead pass computes it now."""
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(figures_sql(), WINDOW.params(tenant.pk))
        rows = [
            {
                column: json.loads(value) if column in JSON_COLUMNS else value
                for column, value in zip(LINE_COLUMNS, row, strict=True)
            }
            for row in cursor.fetchall()
        ]
    return {(r["scope"], r["rep_id"], r["partner_id"], r["team_id"]): comparable(r) for r in rows}


def stored(tenant, report) -> dict[tuple, dict[str, Any]]:
    with tenant_context(tenant):
        lines = snapshot_lines(report)
    result = {}
    for line in lines:
        row = {column: getattr(line, column) for column in LINE_COLUMNS if column != "rep_id"}
        row["rep_id"] = line.rep_id
        row["partner_id"] = line.partner_id
        result[(line.scope, line.rep_id, line.partner_id, line.team_id)] = comparable(row)
    return result


def fill(data) -> None:
    with time_machine.travel(FILLED, tick=False), tenant_context(data.tenant):
        assert bring_week_facts_up_to_date(WINDOW, tenant_id=data.tenant.pk)


def test_a_snapshot_from_facts_changed_since_their_fill_is_the_full_pass(data):
    fill(data)
    with time_machine.travel(CHANGED, tick=False), tenant_context(data.tenant):
        by = Principal.system(data.tenant, "tests")
        reopen_lead(lead=data.leads["won_in"], by=by)
        assert reassign_leads(lead_ids=[data.leads["exempt"].pk], rep=data.sam.user, by=by) == 1
        record_weekly_update(lead=data.leads["missing"], status="progress", note="Met", by=by)
        TouchFactory(tenant=data.tenant, lead=data.leads["missing"], user=data.sam.user, at=CHANGED)
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        done = generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
    made, now = stored(data.tenant, done.report), full_pass(data.tenant)
    assert set(made) == set(now)
    differing = {
        (key, column): (made[key][column], now[key][column])
        for key in made
        for column in LINE_COLUMNS
        if made[key][column] != now[key][column]
    }
    assert differing == {}


def test_a_lead_the_router_took_from_its_owner_after_the_fill_leaves_that_owners_line(data):
    """The router writes an Assignment record a lead and one audit row a run: the records
    are what tells the facts (and "changes since") that the owner changed."""
    from leads.models import AssignmentKind, Lead
    from leads.services.routing import route_leads

    fill(data)
    lead = data.leads["missing"]
    with time_machine.travel(CHANGED, tick=False), tenant_context(data.tenant):
        before = Lead.objects.get(pk=lead.pk).rep_id
        by = Principal.system(data.tenant, "tests")
        route_leads(leads=[lead], kind=AssignmentKind.RECALL_IDLE, by=by)
        assert Lead.objects.get(pk=lead.pk).rep_id != before
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        done = generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
    made = stored(data.tenant, done.report)
    assert made == full_pass(data.tenant)
    assert lead.pk not in made[("rep", before, None, None)]["missing_ids"]


def test_a_touch_written_after_the_fill_counts_in_the_snapshot(data):
    fill(data)
    with time_machine.travel(CHANGED, tick=False), tenant_context(data.tenant):
        TouchFactory(tenant=data.tenant, lead=data.leads["missing"], user=data.sam.user, at=CHANGED)
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        done = generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
    everyone = stored(data.tenant, done.report)[("tenant", None, None, None)]
    assert everyone["touches"] == 3  # the two of the data set, and this one


def test_a_lead_closed_after_the_fill_leaves_the_missing_and_joins_the_won(data):
    fill(data)
    with time_machine.travel(CHANGED, tick=False), tenant_context(data.tenant):
        record_weekly_update(
            lead=data.leads["missing"],
            status="won",
            value=Decimal("250.00"),
            by=Principal.system(data.tenant, "tests"),
        )
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        done = generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
    everyone = stored(data.tenant, done.report)[("tenant", None, None, None)]
    assert everyone["missing_ids"] == []
    assert sorted(everyone["won_ids"]) == sorted(
        [data.leads["won_in"].pk, data.leads["missing"].pk]
    )


def test_the_hourly_beat_fills_the_current_weeks_facts(data):
    with time_machine.travel(FILLED, tick=False), tenant_context(data.tenant):
        run_weekly_report()
        assert list(WeekFactState.objects.values_list("week", flat=True)) == [W53]
        # All nine leads of the data set count in W53 (one in the quarter's won only).
        assert WeekFact.objects.filter(week=W53).count() == 9


def test_the_facts_of_a_snapshotted_week_are_deleted_by_the_next_upkeep(data):
    fill(data)
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
        assert WeekFact.objects.filter(week=W53).exists()
        keep_week_facts()
        assert not WeekFact.objects.filter(week=W53).exists()
        assert not WeekFactState.objects.filter(week=W53).exists()


def full_pass_in(tenant, window: Window) -> dict[tuple, dict[str, Any]]:
    """Every line of ``window``'s week as the full per-lead pass computes it now."""
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(figures_sql(), window.params(tenant.pk))
        rows = [
            {
                column: json.loads(value) if column in JSON_COLUMNS else value
                for column, value in zip(LINE_COLUMNS, row, strict=True)
            }
            for row in cursor.fetchall()
        ]
    return {(r["scope"], r["rep_id"], r["partner_id"], r["team_id"]): comparable(r) for r in rows}


def test_a_team_deleted_after_the_fill_leaves_the_snapshot_as_the_full_pass(data):
    """Deleting a team sets its leads' team to none (no audit row a lead): the facts must
    not keep the deleted team's line (its name is gone: the snapshot could not be written)."""
    from leads.services.teams import delete_team

    fill(data)
    with time_machine.travel(CHANGED, tick=False), tenant_context(data.tenant):
        delete_team(team=data.team, by=data.manager.principal)
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        done = generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
    made = stored(data.tenant, done.report)
    assert made == full_pass(data.tenant)
    assert not [key for key in made if key[0] == "team"]


def test_the_tenants_time_zone_changed_after_the_fill_moves_the_snapshots_week(data):
    """The facts were worked out on the old zone's week; a new zone's week is another
    window (won_in closed Mon 00:30 Berlin, still Sunday in New York): the snapshot
    is the full pass on the new window."""
    from leadflow.tenancy.services import set_tenant_timezone

    fill(data)
    with time_machine.travel(CHANGED, tick=False), tenant_context(data.tenant):
        set_tenant_timezone(timezone_name="America/New_York", by=data.manager.principal)
    with time_machine.travel(MONDAY_AFTER, tick=False), tenant_context(data.tenant):
        done = generate_weekly_report(week=W53, by=Principal.system(data.tenant, "tests"))
    made = stored(data.tenant, done.report)
    assert made == full_pass_in(data.tenant, Window.of(W53, ZoneInfo("America/New_York")))
    assert data.leads["won_in"].pk not in made[("tenant", None, None, None)]["won_ids"]
