"""Outcomes in bulk (history): set on inquiries that are not leads, shown on the page and API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from inquiries.models import Inquiry
from inquiries.services.outcomes import record_outcomes
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from tests.factories import InquiryFactory

URL = "/api/v1/inquiries/outcomes/"


@pytest.fixture
def three(actors):
    tenant = actors.owner.tenant
    with tenant_context(tenant):
        return [
            InquiryFactory(tenant=tenant, stage="nurture"),
            InquiryFactory(tenant=tenant, stage="inquiry"),
            InquiryFactory(tenant=tenant, stage="lead"),
        ]


def outcomes(actors) -> list[tuple]:
    with tenant_context(actors.owner.tenant):
        return list(
            Inquiry.objects.order_by("pk").values_list(
                "outcome", "outcome_on", "outcome_value", "stage"
            )
        )


def test_outcomes_are_set_in_bulk_and_leads_left_alone(actors, three):
    api = actors.owner.api()
    with tenant_context(actors.owner.tenant):
        moves = StageChange.objects.count()
    body = {
        "ids": [i.pk for i in three],
        "outcome": "won",
        "closed_on": "2026-01-31",
        "value": "1200.50",
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"matched": 3, "changed": 2, "leads_left_alone": 1}
    assert outcomes(actors) == [
        ("won", date(2026, 1, 31), Decimal("1200.50"), "nurture"),
        ("won", date(2026, 1, 31), Decimal("1200.50"), "inquiry"),
        ("", None, None, "lead"),
    ]
    with tenant_context(actors.owner.tenant):
        assert StageChange.objects.count() == moves
    shown = api.get(f"/api/v1/inquiries/{three[0].pk}/").json()
    assert (shown["outcome"], shown["outcome_on"], shown["outcome_value"]) == (
        "won",
        "2026-01-31",
        "1200.50",
    )


def test_the_inquiry_page_shows_the_outcome(client, actors, three):
    actors.owner.api().post(
        URL, {"ids": [three[0].pk], "outcome": "lost", "closed_on": "2026-02-03"}, format="json"
    )
    client.force_login(actors.owner.user)
    page = client.get(f"/inquiries/{three[0].pk}/").content.decode()
    assert 'data-testid="inquiry-outcome">Lost · closed 3 Feb 2026</dd>' in page
    page = client.get(f"/inquiries/{three[1].pk}/").content.decode()
    assert 'data-testid="inquiry-outcome">Open</dd>' in page


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [], "outcome": "won"}, "ids"),
        ({"ids": [0], "outcome": "won"}, "ids"),
        ({"ids": [1], "outcome": "maybe"}, "outcome"),
        ({"ids": [1], "outcome": "won", "value": "-1"}, "value"),
        ({"ids": [1], "outcome": "won", "closed_on": "31/01/2026"}, "closed_on"),
        ({"ids": [1], "outcome": "won", "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_400_on_the_field_and_changes_nothing(actors, three, body, field):
    body = {**body, "ids": [three[0].pk] if body["ids"] == [1] else body["ids"]}
    response = actors.owner.api().post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert outcomes(actors)[0][0] == ""


def test_a_future_close_date_and_all_leads_are_refused(actors, three):
    api = actors.owner.api()
    future = api.post(
        URL, {"ids": [three[0].pk], "outcome": "won", "closed_on": "2099-01-01"}, format="json"
    )
    assert (future.status_code, future.json()["code"]) == (400, "invalid")
    leads = api.post(URL, {"ids": [three[2].pk], "outcome": "won"}, format="json")
    assert (leads.status_code, leads.json()["code"]) == (409, "already_lead")


def test_another_tenants_inquiry_is_404_and_unchanged(actors, three):
    response = actors.outsider.api().post(
        URL, {"ids": [three[0].pk], "outcome": "won"}, format="json"
    )
    assert response.status_code == 404
    assert outcomes(actors)[0][0] == ""


def test_a_bulk_outcome_costs_the_same_few_queries_for_any_number(
    actors, django_assert_num_queries
):
    tenant = actors.owner.tenant
    with tenant_context(tenant):
        many = [InquiryFactory(tenant=tenant).pk for _ in range(30)]
        # count, the ids not leads, the update, the audit row (in one savepoint)
        with django_assert_num_queries(6):
            result = record_outcomes(ids=many, outcome="lost", by=actors.owner.principal)
    assert (result.matched, result.changed) == (30, 30)
