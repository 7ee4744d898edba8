"""The dashboards' pages: figures link to their rows, CSV, errors, 404s, constant queries."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine
from django.test import Client

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from reporting.dashboards import services
from tests.factories import InquiryFactory
from tests.reporting.dashboard_data import NOW, PERIOD, DataSet, at, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(actors) -> DataSet:
    return build(actors.tenant_a)


def browser(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def page(actor, path, **params):
    with time_machine.travel(NOW, tick=False):
        return browser(actor).get(path, {**PERIOD, **params})


@pytest.mark.parametrize("board", ["funnel", "roi", "accountability", "nurture"])
def test_each_dashboard_shows_a_chart_and_links_figures_to_rows(data, board):
    response = page(data.manager, f"/reports/{board}/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "<svg" in text and 'data-testid="chart"' in text
    assert "/reports/rows/?" in text


def test_a_funnel_figure_links_to_as_many_rows(data):
    text = page(data.manager, "/reports/funnel/").content.decode()
    assert 'data-testid="figure">5</a>' in text  # MQLs
    rows = page(data.manager, "/reports/rows/", metric="funnel.mqls")
    assert rows.context["page"].paginator.count == 5


def test_a_table_exports_to_csv(data):
    response = page(data.manager, "/reports/roi.csv", table="0")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Campaign", "Spend", "Inquiries"]
    spring = next(r for r in rows if r[0] == "Spring webinar")
    assert spring[1:5] == ["1,000.00", "4", "3", "3"]


def test_a_bad_parameter_shows_a_message_and_no_figures(data):
    response = page(data.manager, "/reports/funnel/", source="fax")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="report-errors"' in text
    assert 'data-testid="chart"' not in text


def test_another_tenants_campaign_is_a_404_on_the_pages(data, actors):
    c1 = data.ids["c1"]
    assert page(actors.outsider, "/reports/funnel/", campaign=c1).status_code == 404
    assert page(actors.outsider, "/reports/funnel.csv", campaign=c1).status_code == 404
    rows = page(actors.outsider, "/reports/rows/", metric="funnel.inquiries", campaign=c1)
    assert rows.status_code == 404


def test_an_unknown_dashboard_is_a_404(data):
    assert page(data.manager, "/reports/everything/").status_code == 404


def _queries(django_assert_max_num_queries, actor, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert page(actor, path).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "path",
    [
        "/reports/funnel/",
        "/reports/roi/",
        "/reports/accountability/",
        "/reports/nurture/",
        "/api/v1/reports/funnel/",
    ],
)
def test_query_count_does_not_grow_with_the_data(data, path, django_assert_max_num_queries):
    actor = data.manager
    _api_queries(actor, "/api/v1/reports/nurture/")  # the token's first use is recorded once
    if path.startswith("/api/"):
        before = _api_queries(actor, path)
    else:
        before = _queries(django_assert_max_num_queries, actor, path)
    with tenant_context(data.tenant):
        for n in range(30):
            InquiryFactory(tenant=data.tenant, created_at=at(1 + n % 28), source="chat")
        services.refresh_rollups()
        assert Inquiry.objects.count() > 30
    if path.startswith("/api/"):
        after = _api_queries(actor, path)
    else:
        after = _queries(django_assert_max_num_queries, actor, path)
    assert after == before


def _api_queries(actor, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured, time_machine.travel(NOW, tick=False):
        assert actor.api().get(path, PERIOD).status_code == 200
    return len(captured)


@pytest.mark.parametrize("board", ["funnel", "roi", "accountability", "nurture"])
def test_every_figure_on_a_page_links_to_as_many_rows(data, board):
    """Each linked figure (tables and charts) opens a rows page counting exactly the figure."""
    import html
    import re

    text = page(data.manager, f"/reports/{board}/").content.decode()
    links = re.findall(
        r'<a href="(/reports/rows/\?[^"]+)" data-testid="figure">([0-9,.]+)</a>', text
    )
    assert links
    client = browser(data.manager)
    for href, figure in links:
        if "." in figure:  # money links to the leads it prices; its count is not the figure
            continue
        with time_machine.travel(NOW, tick=False):
            rows = client.get(html.unescape(href))
        assert rows.status_code == 200, href
        assert rows.context["page"].paginator.count == int(figure.replace(",", "")), href
