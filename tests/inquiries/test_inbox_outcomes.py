# ruff: noqa: F401, F811  (the inbox tests' fixtures, imported to be used here)
"""The inbox's bulk outcome: won/lost/open with an optional close date and value, on a selection;
leads are left alone and named (sales records their outcome)."""

from datetime import date
from decimal import Decimal

import pytest

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from tests.inquiries.test_inbox import HTMX, marketer_client, outsider_client, people

pytestmark = pytest.mark.django_db


def outcome_of(actors, inquiry) -> tuple:
    with tenant_context(actors.tenant_a):
        row = Inquiry.objects.get(pk=inquiry.pk)
    return row.outcome, row.outcome_on, row.outcome_value


def post(client, **data):
    return client.post("/inquiries/bulk/", {"action": "outcome", "query": "", **data}, **HTMX)


def test_the_bulk_bar_offers_the_outcome(marketer_client, people):
    content = marketer_client.get("/inquiries/").content.decode()
    assert 'data-testid="bulk-outcome"' in content and 'value="outcome"' in content


def test_selected_inquiries_are_marked_won_with_date_and_value_and_leads_named(
    marketer_client,
    actors,
    people,
):
    with tenant_context(actors.tenant_a):
        moves = StageChange.objects.count()
    response = post(
        marketer_client,
        ids=[p.pk for p in people.values()],
        outcome="won",
        outcome_on="2026-01-31",
        outcome_value="1200.50",
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "2 inquiries marked won." in content
    assert "Left alone (leads — sales records their outcome): Sam Stone." in content
    assert outcome_of(actors, people["dana"]) == ("won", date(2026, 1, 31), Decimal("1200.50"))
    assert outcome_of(actors, people["sam"]) == ("", None, None)
    with tenant_context(actors.tenant_a):
        assert StageChange.objects.count() == moves  # no stage moved


def test_open_clears_the_outcome(marketer_client, actors, people):
    post(marketer_client, ids=[people["lee"].pk], outcome="lost")
    assert outcome_of(actors, people["lee"])[0] == "lost"
    response = post(marketer_client, ids=[people["lee"].pk], outcome="open")
    assert "1 inquiry reopened (no outcome)." in response.content.decode()
    assert outcome_of(actors, people["lee"]) == ("", None, None)


def test_only_leads_selected_is_refused_naming_each(marketer_client, actors, people):
    response = post(marketer_client, ids=[people["sam"].pk], outcome="won")
    assert response.status_code == 409
    content = response.content.decode()
    assert "Sam Stone: a lead — sales records its outcome." in content


@pytest.mark.parametrize(
    "data, message",
    [
        ({"outcome": ""}, "Choose won, lost or open."),
        ({"outcome": "won", "outcome_on": "2999-01-01"}, "cannot close in the future"),
        ({"outcome": "won", "outcome_value": "-5"}, "greater than or equal to 0"),
        ({"outcome": "open", "outcome_value": "10"}, "Give won or lost"),
        ({"outcome": "won", "all_matching": "1"}, "not on all matching"),
    ],
)
def test_bad_input_is_shown_in_the_bulk_bar_and_changes_nothing(
    marketer_client,
    actors,
    people,
    data,
    message,
):
    response = post(marketer_client, ids=[people["lee"].pk], **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert outcome_of(actors, people["lee"]) == ("", None, None)


def test_another_tenants_inquiry_is_a_404(outsider_client, actors, people):
    response = post(outsider_client, ids=[people["lee"].pk], outcome="won")
    assert response.status_code == 404
    assert outcome_of(actors, people["lee"]) == ("", None, None)
