"""``/api/v1/reports/weekly/``: weeks, visibility, narrowing, settings; one figure everywhere."""

import csv
import io
import re

import pytest
import time_machine
from django.test import Client

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from reporting.weekly.tasks import generate_weekly_report_of_tenant
from tests.conftest import make_actor
from tests.reporting.weekly_data import berlin, build, ids

URL = "/api/v1/reports/weekly/"
TUESDAY_AFTER = berlin(2027, 1, 5, 10)


@pytest.fixture
def data(actors):
    built = build(actors)
    with time_machine.travel(berlin(2027, 1, 4, 9), tick=False):
        generate_weekly_report_of_tenant.apply(kwargs={"tenant_id": built.tenant.pk}).get()
    return built


def get(actor, **params):
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        return actor.api().get(URL, params)


def names(response):
    return [line["name"] for line in response.json()["lines"]]


def test_a_manager_reads_every_line_of_last_week_by_default(data):
    response = get(data.manager)
    assert response.status_code == 200
    body = response.json()
    assert (body["week"], body["provisional"], body["previous"], body["next"]) == (
        "2026-W53",
        False,
        "2026-W52",
        "2027-W01",
    )
    assert names(response) == ["Everyone", "North", "Riley Rep", "Sam Seller", "Northwind"]
    everyone = body["lines"][0]
    assert everyone["won"] == {"count": 1, "value": "1000.00", "lead_ids": ids(data, "won_in")}
    assert everyone["lost"]["by_reason"] == [{"reason": "no budget", "count": 2}]
    assert everyone["postponed"]["until"] == [{"until": "2027-02-01", "count": 1}]
    assert everyone["missing_updates"]["lead_ids"] == ids(data, "missing")
    assert everyone["changes_since"]["count"] == 0


def test_a_rep_reads_only_its_own_line(data):
    response = get(data.riley, week="2026-W53")
    assert names(response) == ["Riley Rep"]
    assert response.json()["lines"][0]["quarter"]["target_value"] == "5000.00"
    assert get(data.riley, week="2026-W53", owner=data.sam.user.pk).status_code == 404


def test_a_partner_reads_only_its_own_line(data):
    response = get(data.partner_user, week="2026-W53")
    assert names(response) == ["Northwind"]


def test_a_marketer_may_not_read_it(actors, data):
    assert get(actors.teammate).status_code == 403


def test_a_manager_narrows_to_an_owner_or_a_team(data):
    assert names(get(data.manager, owner=data.sam.user.pk)) == ["Sam Seller"]
    assert names(get(data.manager, team=data.team.pk)) == ["North"]
    assert names(get(data.manager, partner=data.partner.pk)) == ["Northwind"]


def test_an_empty_narrowing_parameter_means_not_given(data):
    response = get(data.manager, week="2026-W53", owner="", team="")
    assert response.status_code == 200
    assert names(response) == ["Everyone", "North", "Riley Rep", "Sam Seller", "Northwind"]


def test_another_tenants_people_are_a_404(actors, data):
    stranger = make_actor(actors.tenant_b, Role.REP, user__full_name="Other Tenant Rep")
    assert get(data.manager, owner=stranger.user.pk).status_code == 404
    response = get(actors.outsider, week="2026-W53")
    assert response.status_code == 200
    assert "Riley Rep" not in response.content.decode()
    assert get(actors.outsider, owner=data.riley.user.pk).status_code == 404


@pytest.mark.parametrize("week", ["2026-W60", "2025-W53", "2026-53", "next week", "2027-W09"])
def test_a_bad_week_is_a_400_naming_week(data, week):
    response = get(data.manager, week=week)
    assert response.status_code == 400
    assert "week" in response.json()["errors"]


@pytest.mark.parametrize("params", [{"owner": 0}, {"team": "x"}, {"owner": 2**31}])
def test_bad_ids_are_400s(data, params):
    response = get(data.manager, **params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(params)


def test_the_current_week_is_provisional_and_live(data):
    response = get(data.manager, week="2027-W01")
    body = response.json()
    assert body["provisional"] is True and body["generated_at"] is None and body["next"] is None
    assert body["lines"][0]["touches"] == 1  # the touch of Monday 4 January 00:30


def test_settings_get_and_put(data):
    api = data.manager.api()
    assert api.get(URL + "settings/").json() == {
        "hour": 8,
        "email_managers": True,
        "email_owners": True,
    }
    response = api.put(
        URL + "settings/", {"hour": 6, "email_managers": True, "email_owners": False}, format="json"
    )
    assert response.status_code == 200 and response.json()["hour"] == 6
    refused = api.put(
        URL + "settings/",
        {"hour": 24, "email_managers": True, "email_owners": False},
        format="json",
    )
    assert refused.status_code == 400 and "hour" in refused.json()["errors"]
    assert data.riley.api().get(URL + "settings/").status_code == 403


def test_the_same_figure_is_identical_in_page_api_csv_and_email(data):
    """Riley's won value, lost count and missing leads: one value in all four places."""
    line = next(
        x for x in get(data.manager, week="2026-W53").json()["lines"] if x["name"] == "Riley Rep"
    )
    api_figures = (str(line["won"]["count"]), line["won"]["value"], str(line["lost"]["count"]))

    client = Client()
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        client.force_login(data.manager.user)
        csv_body = client.get("/reports/weekly/export.csv?week=2026-W53").content.decode()
        page = client.get("/reports/weekly/?week=2026-W53").content.decode()
    [csv_row] = [r for r in csv.DictReader(io.StringIO(csv_body)) if r["name"] == "Riley Rep"]
    assert (csv_row["won"], csv_row["won_value"], csv_row["lost"]) == api_figures

    with tenant_context(data.tenant):
        email = OutboxMessage.objects.get(key=f"weekly-report:2026-W53:user:{data.manager.user.pk}")
    attachment = email.payload["attachments"][0]["content"]
    [email_row] = [r for r in csv.DictReader(io.StringIO(attachment)) if r["name"] == "Riley Rep"]
    assert (email_row["won"], email_row["won_value"], email_row["lost"]) == api_figures
    assert csv_row == email_row

    riley_row = re.search(
        rf'data-testid="line-rep-{data.riley.user.pk}">(.*?)</tr>', page, flags=re.S
    ).group(1)
    assert f">{api_figures[0]}</a>" in riley_row
    assert f'data-testid="figure-won-value">{api_figures[1]}</td>' in riley_row
    assert f'data-testid="figure-lost">{api_figures[2]}</a>' in riley_row
    assert api_figures[1] in email.payload["html"]
