"""Each dashboard's figures against the fixed data set (tests/reporting/dashboard_data.py)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from tests.reporting.dashboard_data import NOW, PERIOD, DataSet, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(actors) -> DataSet:
    return build(actors.tenant_a)


def get(actor, path, **params):
    with time_machine.travel(NOW, tick=False):
        return actor.api().get(f"/api/v1/reports/{path}/", {**PERIOD, **params})


def steps(body):
    return {s["key"]: s for s in body["steps"]}


def test_funnel_counts_each_step_of_the_cohort_in_the_tenant_zone(data):
    body = get(data.manager, "funnel").json()
    found = steps(body)
    # i2 arrived on 28 Feb in New York; i3 on 31 Mar there (1 Apr in UTC).
    counts = {key: found[key]["count"] for key in found}
    assert counts == {"inquiries": 7, "mqls": 5, "leads": 4, "sals": 3, "sqls": 2, "won": 2}
    assert found["mqls"]["rate_from_previous"] == "0.7143"
    assert found["won"]["rate_from_inquiry"] == "0.2857"
    assert body["value_won"] == "6000.00"  # the reopened lead's $700 is not won
    assert body["history_won"] == 1


def test_funnel_medians_are_the_whole_days_in_each_stage(data):
    found = steps(get(data.manager, "funnel").json())
    medians = {key: found[key]["median_days"] for key in found}
    # inquiry [1,1,2,1,1]; mql [2,1,4]; lead [1,2,3]; SAL [3,1 (before the reopen),2]; SQL [3]
    assert medians == {
        "inquiries": "1.0",
        "mqls": "2.0",
        "leads": "2.0",
        "sals": "2.0",
        "sqls": "3.0",
        "won": None,
    }


def test_imported_history_counts_in_the_funnel_only_when_asked(data):
    found = steps(get(data.manager, "funnel", include_history="true").json())
    counts = {key: found[key]["count"] for key in found}
    assert counts == {"inquiries": 7, "mqls": 6, "leads": 5, "sals": 4, "sqls": 3, "won": 3}


def test_filters_narrow_the_funnel(data):
    by_source = steps(get(data.manager, "funnel", source="download").json())
    assert by_source["inquiries"]["count"] == 1
    by_campaign = steps(get(data.manager, "funnel", campaign=data.ids["c2"]).json())
    assert (by_campaign["inquiries"]["count"], by_campaign["leads"]["count"]) == (2, 1)
    by_partner = steps(get(data.manager, "funnel", partner=data.ids["p1"]).json())
    assert (by_partner["inquiries"]["count"], by_partner["leads"]["count"]) == (1, 1)


def test_roi_shows_both_departments_formulas_per_campaign(data):
    body = get(data.manager, "roi").json()
    rows = {row["name"]: row for row in body["campaigns"]}
    spring = rows["Spring webinar"]
    assert (spring["inquiries"], spring["mqls"], spring["leads"], spring["won"]) == (4, 3, 3, 2)
    assert spring["leads_per_1000"] == "3.00"
    assert spring["cost_per_inquiry"] == "250.00"
    assert spring["cost_per_mql"] == "333.33"
    assert spring["cost_per_lead"] == "333.33"
    assert spring["cost_per_win"] == "500.00"
    assert spring["win_rate"] == "0.6667"
    show = rows["Trade show"]
    assert (show["cost_per_lead"], show["cost_per_win"], show["win_rate"]) == (
        "500.00",
        None,
        "0.0000",
    )
    assert rows["No campaign"]["inquiries"] == 1
    assert body["total"]["spend"] == "1500.00"
    assert body["total"]["value_won"] == "6000.00"
    assert body["target_value"] == "12000.00"
    assert body["value_to_target"] == "0.5000"


def test_roi_counts_imported_history_only_when_asked(data):
    plain = {r["name"]: r for r in get(data.manager, "roi").json()["campaigns"]}
    history = get(data.manager, "roi", include_history="true").json()
    rows = {r["name"]: r for r in history["campaigns"]}
    assert plain["No campaign"]["won"] == 0
    assert rows["No campaign"]["won"] == 1
    assert history["total"]["won"] == 3


def test_accountability_per_owner_with_money_at_risk(data):
    body = get(data.manager, "accountability").json()
    owners = {row["name"]: row for row in body["owners"]}
    assert set(owners) == {data.rep2.user.display_name, "Northwind"}
    rep2 = owners[data.rep2.user.display_name]
    assert (rep2["open"], rep2["missing"], rep2["breached"], rep2["stale"], rep2["unworked"]) == (
        1, 1, 0, 1, 0,
    )  # fmt: skip
    north = owners["Northwind"]
    assert (north["open"], north["missing"], north["breached"], north["stale"]) == (1, 0, 1, 1)
    assert (north["unworked"], north["money_at_risk"]) == (1, "200.00")
    assert body["total"]["money_at_risk"] == "200.00"
    assert body["stale_days"] == 7


def test_accountability_histogram_shows_the_cliff_against_eight_to_twelve(data):
    body = get(data.manager, "accountability").json()
    histogram = {b["touches"]: b["leads"] for b in body["histogram"]}
    # L1 won with 4 touches, L8 with 9; L4's win was reopened: not closed.
    assert histogram == {
        "0": 0, "1": 0, "2": 0, "3": 0, "4": 1, "5": 0, "6": 0, "7": 0, "8-12": 1, "13+": 0,
    }  # fmt: skip
    assert (body["touch_cliff"], body["touch_minimum"]) == (4, 8)


def test_accountability_lists_partner_compliance(data):
    body = get(data.manager, "accountability").json()
    status = {p["name"]: p["status"] for p in body["partners"]}
    assert status == {"Northwind": "active", "Southwind": "suspended", "Westwind": "warned"}


def test_accountability_refuses_imported_history(data):
    response = get(data.manager, "rows", metric="accountability.open", include_history="true")
    assert response.status_code == 400
    assert "include_history" in response.json()["errors"]


def test_nurture_effect_compares_nurtured_with_never_nurtured(data):
    body = get(data.manager, "nurture").json()
    total = body["total"]
    assert (total["nurtured"], total["nurtured_won"], total["nurtured_rate"]) == (2, 1, "0.5000")
    assert (total["never"], total["never_won"], total["never_rate"]) == (5, 1, "0.2000")
    assert [m["month"] for m in body["months"]] == ["2026-03-01"]
    assert body["nurtured_benchmark"] == ["0.15", "0.20"]
    assert body["never_benchmark"] == ["0.08", "0.10"]


def test_a_rep_sees_only_their_own_figures(data):
    found = steps(get(data.rep1, "funnel").json())
    assert (found["inquiries"]["count"], found["won"]["count"]) == (2, 2)
    owners = get(data.rep2, "accountability").json()["owners"]
    assert [o["name"] for o in owners] == [data.rep2.user.display_name]
    # Asking for someone else's figures still gives one's own.
    assert (
        get(data.rep1, "rows", metric="funnel.inquiries", rep=data.rep2.user.pk).json()["count"]
        == 2
    )


def test_a_partner_sees_only_its_own_figures(data):
    found = steps(get(data.partner_user, "funnel").json())
    assert (found["inquiries"]["count"], found["leads"]["count"]) == (1, 1)
    body = get(data.partner_user, "accountability").json()
    assert [o["name"] for o in body["owners"]] == ["Northwind"]
    assert [p["name"] for p in body["partners"]] == ["Northwind"]


@pytest.mark.parametrize("report", ["funnel", "roi", "accountability", "nurture", "rows"])
def test_another_tenants_campaign_or_partner_is_a_404(data, actors, report):
    params = {"metric": "funnel.inquiries"} if report == "rows" else {}
    if report == "accountability":
        params["partner"] = data.ids["p1"]
    else:
        params["campaign"] = data.ids["c1"]
    assert get(actors.outsider, report, **params).status_code == 404


def test_another_tenant_sees_none_of_these_figures(data, actors):
    found = steps(get(actors.outsider, "funnel").json())
    assert found["inquiries"]["count"] == 0
    assert get(actors.outsider, "rows", metric="funnel.inquiries").json()["count"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30"},
        {"from": "2026-04-01", "to": "2026-03-01"},
        {"source": "fax"},
        {"campaign": "1.0"},
        {"campaign": "0"},
        {"partner": str(2**31)},
        {"include_history": "maybe"},
        {"from": "1999-12-31"},
    ],
)
def test_bad_parameters_are_a_400_naming_them(data, params):
    response = get(data.manager, "funnel", **params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) & set(params)


def test_rows_need_a_known_metric(data):
    assert get(data.manager, "rows").status_code == 400
    assert get(data.manager, "rows", metric="funnel.nope").status_code == 400


TILES = [
    ("funnel", {}, lambda b: {f"funnel.{s['key']}": s["count"] for s in b["steps"]}),
    (
        "funnel",
        {"include_history": "true"},
        lambda b: {f"funnel.{s['key']}": s["count"] for s in b["steps"]},
    ),
    (
        "nurture",
        {},
        lambda b: (
            {f"nurture.{k}": b["total"][k] for k in ("nurtured", "nurtured_won", "never")}
            | {"nurture.never_won": b["total"]["never_won"]}
        ),
    ),
    (
        "accountability",
        {},
        lambda b: (
            {f"accountability.{k}": b["total"][k] for k in ("open", "missing")}
            | {f"accountability.{k}": b["total"][k] for k in ("breached", "stale", "unworked")}
            | {f"accountability.touches.{h['touches']}": h["leads"] for h in b["histogram"]}
        ),
    ),
]


@pytest.mark.parametrize(("report", "params", "tiles"), TILES)
def test_every_tiles_rows_count_equals_the_tile(data, report, params, tiles):
    figures = tiles(get(data.manager, report, **params).json())
    assert figures
    for metric, figure in figures.items():
        rows = get(data.manager, "rows", metric=metric, **params).json()
        assert rows["count"] == figure, metric


def test_every_roi_tiles_rows_count_equals_the_tile(data):
    body = get(data.manager, "roi").json()
    for row in body["campaigns"]:
        if row["campaign_id"] is None:
            continue
        for key in ("inquiries", "mqls", "leads", "won"):
            rows = get(
                data.manager, "rows", metric=f"funnel.{key}", campaign=row["campaign_id"]
            ).json()
            assert rows["count"] == row[key], (row["name"], key)


def test_an_owners_rows_count_equals_their_accountability_row(data):
    body = get(data.manager, "accountability").json()
    for owner in body["owners"]:
        narrowed = {"rep": owner["rep_id"]} if owner["rep_id"] else {"partner": owner["partner_id"]}
        for key in ("open", "missing", "breached", "stale", "unworked"):
            rows = get(data.manager, "rows", metric=f"accountability.{key}", **narrowed).json()
            assert rows["count"] == owner[key], (owner["name"], key)


def test_value_won_is_in_decimal_money(data):
    body = get(data.manager, "funnel").json()
    assert Decimal(body["value_won"]) == Decimal("6000")


def _accountability_queries(data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leadflow.lib import times
    from leadflow.tenancy.context import tenant_context
    from reporting.dashboards import selectors

    tz = times.zone(data.tenant.timezone)
    scope = selectors.Scope(
        tenant=data.tenant,
        tz=tz,
        first=datetime.date(2026, 1, 1),
        last=datetime.date(2026, 3, 31),
        now=NOW,
    )
    with tenant_context(data.tenant), CaptureQueriesContext(connection) as captured:
        board = selectors.accountability(scope)
    return len(captured), board


def test_accountability_reads_as_many_queries_however_many_leads_and_owners(data):
    """More leads, more owners, more months and touch buckets: the same queries."""
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Role
    from reporting.dashboards import services
    from tests.conftest import make_actor
    from tests.factories import LeadFactory, PartnerFactory, TouchFactory
    from tests.reporting.dashboard_data import at

    before, small = _accountability_queries(data)
    with tenant_context(data.tenant):
        reps = [make_actor(data.tenant, Role.REP).user for _ in range(3)]
        partner = PartnerFactory(tenant=data.tenant, name="Eastwind")
        for n in range(24):
            owner = {"partner": partner} if n % 4 == 0 else {"rep": reps[n % 3]}
            when = at(1 + n % 28, month=1 + n % 3)
            lead = LeadFactory(
                tenant=data.tenant,
                created_at=when,
                assigned_at=when,
                stage=("accepted", "won", "lost", "awaiting_acceptance")[n % 4],
                closed_at=when if n % 4 in (1, 2) else None,
                breached_at=when if n % 4 == 3 else None,
                **owner,
            )
            for _ in range(n % 14):
                TouchFactory(tenant=data.tenant, lead=lead, user=reps[0], at=when)
        services.refresh_rollups()
    after, large = _accountability_queries(data)
    assert large.total.open > small.total.open
    assert sum(b.leads for b in large.histogram) > sum(b.leads for b in small.histogram)
    assert len(large.owners) > len(small.owners)
    assert after == before
