"""Queries that match nothing or fall outside a column's range: answers, never a 500.

A search made only of symbols matches nothing; a score bound past the column's
range is a field error; a page number past any possible row is a 404. The
API list, the CSV export, saved views and the inbox page agree.
"""

import csv
import io

import pytest

from inquiries.selectors.inbox import capped_counts, filter_inbox
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def someone(actors):
    return InquiryFactory(tenant=actors.tenant_a, first_name="Dana", score=40)


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


# --- 6. A search of symbols only ----------------------------------------------------


@pytest.mark.parametrize("q", ["!", "?!*", "()"])
def test_a_search_of_symbols_only_is_an_empty_list(actors, someone, q):
    response = actors.teammate.api().get("/api/v1/inquiries/", {"q": q})
    assert response.status_code == 200
    assert (response.json()["count"], response.json()["results"]) == (0, [])


def test_a_search_of_symbols_only_is_an_empty_sorted_list(actors, someone):
    response = actors.teammate.api().get("/api/v1/inquiries/", {"q": "!", "sort": "score"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_capped_count_of_a_queryset_that_matches_nothing_is_zero(actors, someone):
    with tenant_context(actors.tenant_a):
        bound = filter_inbox({"q": "!"}, user_id=None)
        assert bound.is_valid()
        counts = capped_counts({"none": bound.qs, "all": filter_inbox({}, user_id=None).qs})
    assert (counts["none"].value, counts["all"].value) == (0, 1)


def test_a_saved_view_searching_symbols_only_opens_as_an_empty_list(actors, someone):
    api = actors.teammate.api()
    saved = api.post(
        "/api/v1/inquiries/saved-views/", {"name": "Bang", "query": "q=!"}, format="json"
    )
    assert saved.status_code == 201
    response = api.get(saved.json()["inquiries_url"])
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_the_page_searching_symbols_only_says_nothing_matches(marketer_client, someone):
    response = marketer_client.get("/inquiries/", {"q": "!"})
    assert response.status_code == 200
    assert "No inquiries match these filters" in response.content.decode()


def test_the_export_searching_symbols_only_is_a_complete_header_only_file(actors, someone):
    response = actors.teammate.api().get("/api/v1/inquiries/export.csv", {"q": "!"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0][0] == "id"
    assert text.endswith("\r\n")


# --- 7. Score bounds past the column's range ----------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("score_min", "2147483648"),
        ("score_max", "-9223372036854775808"),
        ("score_min", "1e400"),
        ("score_max", "NaN"),
    ],
)
def test_a_score_bound_out_of_range_is_a_field_error(actors, someone, name, value):
    response = actors.teammate.api().get("/api/v1/inquiries/", {name: value})
    assert response.status_code == 400
    assert name in response.json()["errors"]


def test_the_page_shows_a_score_bound_out_of_range_as_a_message(marketer_client, someone):
    response = marketer_client.get("/inquiries/", {"score_min": "2147483648"})
    content = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in content
    assert "score_min" in content


def test_the_export_refuses_a_score_bound_out_of_range(actors, someone):
    response = actors.teammate.api().get(
        "/api/v1/inquiries/export.csv", {"score_max": "-9223372036854775808"}
    )
    assert response.status_code == 400
    assert "score_max" in response.json()["errors"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("campaign", "99999999999999999999"),
        ("assigned", "99999999999999999999"),
    ],
)
def test_other_bounds_out_of_range_are_field_errors(actors, someone, name, value):
    response = actors.teammate.api().get("/api/v1/inquiries/", {name: value})
    assert response.status_code == 400
    assert name in response.json()["errors"]


@pytest.mark.parametrize(
    ("params", "matches"),
    [
        ({"created_from": "9999-12-31"}, 0),
        ({"created_to": "0001-01-01"}, 0),
        ({"activity_from": "0001-01-01"}, 1),
        ({"created_from": "0001-01-01", "created_to": "9999-12-31"}, 1),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_bounds_like_any_other(
    actors, someone, settings, params, matches
):
    with tenant_context(actors.tenant_a):
        someone.last_activity_at = someone.created_at
        someone.save(update_fields=["last_activity_at"])
    actors.tenant_a.timezone = "Asia/Tokyo"
    actors.tenant_a.save(update_fields=["timezone"])
    response = actors.teammate.api().get("/api/v1/inquiries/", params)
    assert response.status_code == 200
    assert response.json()["count"] == matches


def test_a_custom_number_filter_that_is_not_finite_is_an_error(actors, someone):
    api = actors.owner.api()
    api.post(
        "/api/v1/custom-fields/",
        {"key": "budget", "label": "Budget", "kind": "number"},
        format="json",
    )
    response = api.get("/api/v1/inquiries/", {"cf_budget": "1e400"})
    assert response.status_code == 400


# --- 8. Page numbers past any possible row -------------------------------------------


@pytest.mark.parametrize("page", ["200000000000000000", "9223372036854775808"])
def test_a_page_past_any_possible_row_is_404(actors, someone, page):
    response = actors.teammate.api().get("/api/v1/inquiries/", {"page": page})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_page_past_any_possible_row_is_404_on_other_lists(actors):
    response = actors.owner.api().get("/api/v1/partners/", {"page": "200000000000000000"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "cursor",
    [
        # ["score", 10**30, 1], ["score", 1, 10**30] and ["recent", "0001-01-01T00:00+05:00", 1]
        "WyJzY29yZSIsMTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMCwxXQ",
        "WyJzY29yZSIsMSwxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ",
        "WyJyZWNlbnQiLCIwMDAxLTAxLTAxVDAwOjAwKzA1OjAwIiwxXQ",
    ],
)
def test_a_cursor_out_of_range_is_404(actors, someone, cursor):
    sort = "score" if cursor.startswith("WyJzY29y") else "recent"
    response = actors.teammate.api().get("/api/v1/inquiries/", {"sort": sort, "cursor": cursor})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_page_with_a_cursor_out_of_range_starts_over(marketer_client, someone):
    cursor = "WyJzY29yZSIsMSwxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ"
    response = marketer_client.get("/inquiries/", {"sort": "score", "cursor": cursor})
    assert response.status_code == 200
    assert "That page link has expired" in response.content.decode()
