"""``/reports/weekly/``: who reads which lines, figures linking to their leads, changes since."""

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from leads.services.closing import reopen_lead
from reporting.weekly.tasks import generate_weekly_report_of_tenant
from tests.factories import LeadFactory, WeeklyUpdateFactory
from tests.reporting.weekly_data import W53, berlin, build

TUESDAY_AFTER = berlin(2027, 1, 5, 10)


@pytest.fixture
def data(actors):
    built = build(actors)
    with time_machine.travel(berlin(2027, 1, 4, 9), tick=False):
        generate_weekly_report_of_tenant.apply(kwargs={"tenant_id": built.tenant.pk}).get()
    return built


def fetch(actor, path):
    client = Client()
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        client.force_login(actor.user)
        return client.get(path)


def test_the_manager_sees_every_line_with_links_to_the_leads(data):
    page = fetch(data.manager, "/reports/weekly/?week=2026-W53").content.decode()
    for name in ("Everyone", "North", "Riley Rep", "Sam Seller", "Northwind"):
        assert name in page
    assert "<svg" in page
    assert "/reports/weekly/leads/?week=2026-W53&amp;scope=rep&amp;id=" in page
    assert "2026-W52" in page and "2027-W01" in page  # previous / next


def test_a_rep_sees_only_its_own_line(data):
    page = fetch(data.riley, "/reports/weekly/?week=2026-W53").content.decode()
    assert "Riley Rep" in page
    assert "Sam Seller" not in page and "Northwind" not in page


def test_a_partner_user_sees_only_its_partner(data):
    page = fetch(data.partner_user, "/reports/weekly/?week=2026-W53").content.decode()
    assert "Northwind" in page and "Riley Rep" not in page


def test_a_figure_lists_the_leads_behind_it(data):
    path = f"/reports/weekly/leads/?week=2026-W53&scope=rep&id={data.sam.user.pk}&figure=missing"
    page = fetch(data.manager, path).content.decode()
    assert f"/leads/{data.leads['missing'].pk}/" in page
    assert f"/leads/{data.leads['progressed'].pk}/" not in page


def test_the_figure_page_reads_a_fixed_number_of_queries(data):
    path = "/reports/weekly/leads/?week=2026-W53&scope=tenant&figure=lost"
    with CaptureQueriesContext(connection) as few:
        fetch(data.manager, path)
    with tenant_context(data.tenant):
        for _ in range(5):
            LeadFactory(
                tenant=data.tenant,
                rep=data.sam.user,
                stage="lost",
                lost_reason="no budget",
                closed_at=berlin(2026, 12, 29, 9),
            )
    # The snapshot does not grow, so the live pass adds rows to compare, never queries.
    with CaptureQueriesContext(connection) as more:
        fetch(data.manager, path)
    assert len(more) == len(few)


def test_another_tenants_report_and_people_are_404(actors, data):
    other = f"/reports/weekly/leads/?week=2026-W53&scope=rep&id={data.riley.user.pk}&figure=won"
    assert fetch(actors.outsider, other).status_code == 404
    page = fetch(actors.outsider, "/reports/weekly/?week=2026-W53").content.decode()
    assert "Riley Rep" not in page
    assert (
        fetch(data.riley, other.replace(str(data.riley.user.pk), str(data.sam.user.pk))).status_code
        == 404
    )


def test_a_marketer_may_not_open_it(actors, data):
    assert fetch(actors.teammate, "/reports/weekly/").status_code == 403


def test_a_bad_week_says_so_and_shows_last_week(data):
    page = fetch(data.manager, "/reports/weekly/?week=2026-W60").content.decode()
    assert "2026 has no ISO week 60." in page
    assert (
        fetch(
            data.manager, "/reports/weekly/leads/?week=2026-W60&scope=tenant&figure=won"
        ).status_code
        == 404
    )


def test_changes_since_the_snapshot_are_counted_and_listed(data):
    with time_machine.travel(TUESDAY_AFTER, tick=False), tenant_context(data.tenant):
        reopen_lead(lead=data.leads["won_in"], by=Principal.system(data.tenant, "tests"))
    page = fetch(data.manager, "/reports/weekly/?week=2026-W53").content.decode()
    assert "1 change since, view them" in page
    path = f"/reports/weekly/leads/?week=2026-W53&scope=rep&id={data.riley.user.pk}&figure=changes"
    changes = fetch(data.manager, path).content.decode()
    assert f"/leads/{data.leads['won_in'].pk}/" in changes
    # The snapshot's figure still reads 1 won.
    api = data.manager.api()
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        body = api.get("/api/v1/reports/weekly/", {"week": "2026-W53"}).json()
    assert body["lines"][0]["won"]["count"] == 1
    assert body["lines"][0]["changes_since"]["lead_ids"] == [data.leads["won_in"].pk]


def test_the_csv_download(data):
    response = fetch(data.manager, "/reports/weekly/export.csv?week=2026-W53")
    assert response["Content-Type"] == "text/csv"
    assert 'filename="weekly-report-2026-W53.csv"' in response["Content-Disposition"]
    assert response.content.decode().splitlines()[0].startswith("scope,name,won,won_value")


def test_the_past_week_page_reads_a_fixed_number_of_queries_however_many_leads_changed(actors):
    built = build(actors)
    with tenant_context(built.tenant):
        owed = [
            LeadFactory(
                tenant=built.tenant,
                rep=built.sam.user,
                stage="accepted",
                assigned_at=berlin(2026, 12, 1, 9),
            )
            for _ in range(5)
        ]
    with time_machine.travel(berlin(2027, 1, 4, 9), tick=False):
        generate_weekly_report_of_tenant.apply(kwargs={"tenant_id": built.tenant.pk}).get()
    with CaptureQueriesContext(connection) as few:
        fetch(built.manager, "/reports/weekly/?week=2026-W53")
    with time_machine.travel(TUESDAY_AFTER, tick=False), tenant_context(built.tenant):
        for lead in owed:
            WeeklyUpdateFactory(
                tenant=built.tenant, lead=lead, week=W53, status="progress", late=True
            )
    with CaptureQueriesContext(connection) as more:
        page = fetch(built.manager, "/reports/weekly/?week=2026-W53").content.decode()
    assert len(more) == len(few)
    assert "5 changes since, view them" in page


def test_a_past_weeks_page_reads_the_snapshot_not_every_lead_again(data):
    with CaptureQueriesContext(connection) as read:
        fetch(data.manager, "/reports/weekly/?week=2026-W53")
    statements = " ".join(query["sql"] for query in read.captured_queries)
    assert "reporting_weeklyreportline" in statements
    assert "GROUPING SETS" not in statements
