"""The inbox finds anyone: title, industry, country, size band, partner, untouched, task due;
the filters read as a sentence; saved views shared with the team."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from inquiries.models import SavedView
from inquiries.services import triage
from inquiries.services.reminders import create_task
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory, PartnerFactory, TouchFactory


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def people(actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Metal VAR")
    return {
        "cto": InquiryFactory(
            tenant=actors.tenant_a,
            title="CTO",
            industry="Logistics",
            country="DE",
            company_size=300,
            stage="mql",
        ),
        "buyer": InquiryFactory(
            tenant=actors.tenant_a,
            title="Head of Procurement",
            industry="manufacturing",
            country="US",
            company_size=20,
            partner=partner,
        ),
        "other": InquiryFactory(tenant=actors.tenant_b, title="CTO", industry="Logistics"),
        "partner": partner,
    }


def ids(api, **query) -> set[int]:
    response = api.get("/api/v1/inquiries/?" + urlencode(query))
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_title_industry_country_and_size_band_find_the_person(actors, qualifier, people):
    api = qualifier.api()
    cto, buyer = people["cto"].pk, people["buyer"].pk
    assert ids(api, title="cto") == {cto}
    assert ids(api, title="procure") == {buyer}
    assert ids(api, industry="logistics") == {cto}
    assert ids(api, country="de") == {cto}
    assert ids(api, size="250-999") == {cto}
    assert ids(api, size="1-49") == {buyer}
    assert ids(api, partner=people["partner"].pk) == {buyer}


def test_no_touch_yet_leaves_out_anyone_touched(actors, qualifier, people):
    TouchFactory(tenant=actors.tenant_a, inquiry=people["cto"])
    assert ids(qualifier.api(), touched="none") == {people["buyer"].pk}


def test_task_due_finds_people_with_a_task_due_today_or_late(actors, qualifier, people):
    with tenant_context(actors.tenant_a):
        create_task(
            inquiry=people["cto"],
            due_at=timezone.now() - timedelta(hours=1),
            by=qualifier.principal,
        )
        create_task(
            inquiry=people["buyer"],
            due_at=timezone.now() + timedelta(days=3),
            by=qualifier.principal,
        )
    api = qualifier.api()
    assert ids(api, task="due") == {people["cto"].pk}
    assert ids(api, task="open") == {people["cto"].pk, people["buyer"].pk}


@pytest.mark.parametrize(
    "query", [{"size": "huge"}, {"touched": "yes"}, {"task": "tomorrow"}, {"country": "DEU"}]
)
def test_a_bad_value_is_400_naming_the_filter(actors, qualifier, query):
    response = qualifier.api().get("/api/v1/inquiries/?" + urlencode(query))
    assert response.status_code == 400
    assert set(query) <= set(response.json()["errors"])


def test_the_chips_read_as_a_sentence_and_each_removes_itself(actors, qualifier, client, people):
    client.force_login(qualifier.user)
    query = {
        "stage": "mql",
        "industry": "Logistics",
        "country": "de",
        "size": "250-999",
        "touched": "none",
        "assigned": "me",
    }
    content = client.get("/inquiries/?" + urlencode(query)).content.decode()
    assert "Showing MQLs" in content
    for words in (
        "in Logistics",
        "from DE",
        "at companies of 250–999 employees",
        "assigned to me",
        "with no touch yet",
    ):
        assert words in content
    assert "?stage=mql&amp;industry=Logistics&amp;size=250-999&amp;touched=none" in content


def test_a_shared_view_shows_for_the_team_and_only_its_owner_deletes_it(actors, qualifier, client):
    with tenant_context(actors.tenant_a):
        view = triage.save_inbox_view(
            name="Untouched DACH",
            query="touched=none&country=DE",
            shared=True,
            by=qualifier.principal,
        )
        triage.save_inbox_view(name="Mine only", query="stage=mql", by=qualifier.principal)
    client.force_login(actors.teammate.user)
    content = client.get("/inquiries/").content.decode()
    assert "Untouched DACH" in content and "shared by Quinn Qualifier" in content
    assert "Mine only" not in content
    api = actors.teammate.api()
    listed = api.get("/api/v1/inquiries/saved-views/").json()
    assert [row["name"] for row in listed["results"]] == ["Untouched DACH"]
    assert api.delete(f"/api/v1/inquiries/saved-views/{view.pk}/").status_code == 404
    with tenant_context(actors.tenant_a):
        assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_shared_view_is_not_seen_by_another_tenant(actors, qualifier):
    with tenant_context(actors.tenant_a):
        view = triage.save_inbox_view(
            name="Team view", query="stage=mql", shared=True, by=qualifier.principal
        )
    api = actors.outsider.api()
    assert api.get(f"/api/v1/inquiries/saved-views/{view.pk}/").status_code == 404
    assert api.get("/api/v1/inquiries/saved-views/").json()["count"] == 0


def test_shared_through_the_api(actors, qualifier):
    response = qualifier.api().post(
        "/api/v1/inquiries/saved-views/",
        {"name": "Due today", "query": "task=due", "shared": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["shared"], response.json()["owner"]) == (True, "Quinn Qualifier")


@pytest.mark.parametrize("rows", [1, 15])
def test_new_filters_keep_the_api_list_query_count(
    actors, qualifier, django_assert_max_num_queries, rows
):
    for _ in range(rows):
        InquiryFactory(tenant=actors.tenant_a, industry="Logistics", title="CTO", stage="mql")
    api = qualifier.api()
    url = "/api/v1/inquiries/?" + urlencode(
        {
            "industry": "logistics",
            "title": "cto",
            "touched": "none",
            "task": "open",
            "size": "5000+",
        }
    )
    api.get(url)
    with django_assert_max_num_queries(8):
        api.get(url)
