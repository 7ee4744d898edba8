"""Tasks on inquiries: set one, list those due today (mine or everyone's), mark one done."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from inquiries.models import InquiryTask
from inquiries.services.reminders import complete_task, create_task
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def mql(actors):
    return InquiryFactory(tenant=actors.tenant_a, stage="mql")


def task(actors, inquiry, by, hours: float, **kwargs) -> InquiryTask:
    with tenant_context(actors.tenant_a):
        return create_task(
            inquiry=inquiry, due_at=timezone.now() + timedelta(hours=hours), by=by, **kwargs
        )


def test_a_task_defaults_to_whoever_sets_it(actors, qualifier, mql):
    made = task(actors, mql, qualifier.principal, 2, note="Call back")
    assert (made.assignee_id, made.note) == (qualifier.user.pk, "Call back")


def test_a_task_for_a_rep_is_refused(actors, qualifier, mql):
    rep = make_actor(actors.tenant_a, Role.REP)
    with pytest.raises(RuleViolation) as refused:
        task(actors, mql, qualifier.principal, 2, assignee=rep.user)
    assert refused.value.field == "assignee"


def test_completing_twice_is_refused(actors, qualifier, mql):
    made = task(actors, mql, qualifier.principal, 2)
    with tenant_context(actors.tenant_a):
        complete_task(task=made, by=qualifier.principal)
        with pytest.raises(RuleViolation):
            complete_task(task=made, by=qualifier.principal)


def test_post_a_task_is_201(actors, qualifier, mql):
    response = qualifier.api().post(
        "/api/v1/tasks/",
        {"inquiry": mql.pk, "due_at": "2026-12-15T10:00:00-06:00", "note": "Call back Tuesday"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["inquiry"], body["assignee_name"], body["done"]) == (
        mql.pk,
        "Quinn Qualifier",
        False,
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"inquiry": None, "due_at": "2026-12-15T10:00:00Z"}, "inquiry"),
        ({"inquiry": 2**31, "due_at": "2026-12-15T10:00:00Z"}, "inquiry"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": "2090-01-01T10:00:00Z"}, "due_at"),
        ({"due_at": "2026-12-15T10:00:00Z", "assignee": 2**31}, "assignee"),
    ],
)
def test_a_bad_task_is_400_naming_the_field(actors, qualifier, mql, payload, field):
    payload = {"inquiry": mql.pk, **payload}
    response = qualifier.api().post("/api/v1/tasks/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    with tenant_context(actors.tenant_a):
        assert InquiryTask.objects.count() == 0


def test_a_task_on_another_tenants_inquiry_is_400_no_such_inquiry(actors, mql):
    response = actors.outsider.api().post(
        "/api/v1/tasks/", {"inquiry": mql.pk, "due_at": "2026-12-15T10:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert "inquiry" in response.json()["errors"]


def test_due_today_lists_late_and_today_not_tomorrow_in_the_callers_zone(actors, qualifier, mql):
    actors.tenant_a.timezone = "America/Chicago"
    actors.tenant_a.save()
    at = datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    with time_machine.travel(at, tick=False):
        late = task(actors, mql, qualifier.principal, -3)
        tonight = task(actors, mql, qualifier.principal, 12)  # 21:00 Chicago, 03:00 UTC
        tomorrow = task(actors, mql, qualifier.principal, 26)
        body = qualifier.api().get("/api/v1/tasks/?due=today").json()
        every = qualifier.api().get("/api/v1/tasks/").json()
    assert [row["id"] for row in body["results"]] == [late.pk, tonight.pk]
    assert [row["id"] for row in every["results"]] == [late.pk, tonight.pk, tomorrow.pk]


def test_mine_true_lists_only_the_callers_tasks(actors, qualifier, mql):
    mine = task(actors, mql, qualifier.principal, 1)
    task(actors, mql, actors.teammate.principal, 1)
    body = qualifier.api().get("/api/v1/tasks/?mine=true").json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert qualifier.api().get("/api/v1/tasks/?mine=false").json()["count"] == 2


@pytest.mark.parametrize("query", ["due=tomorrow", "mine=yes", "due=0"])
def test_a_bad_filter_is_400(actors, qualifier, query):
    assert qualifier.api().get(f"/api/v1/tasks/?{query}").status_code == 400


def test_an_empty_filter_means_not_given(actors, qualifier, mql):
    task(actors, mql, qualifier.principal, 1)
    api = qualifier.api()
    assert api.get("/api/v1/tasks/?due=&mine=").json() == api.get("/api/v1/tasks/").json()


def test_complete_through_the_api_drops_it_from_the_list(actors, qualifier, mql):
    made = task(actors, mql, qualifier.principal, 1)
    api = qualifier.api()
    response = api.post(f"/api/v1/tasks/{made.pk}/complete/")
    assert response.status_code == 200 and response.json()["done"] is True
    assert api.post(f"/api/v1/tasks/{made.pk}/complete/").status_code == 400
    assert api.get("/api/v1/tasks/").json()["count"] == 0


def test_another_tenants_task_is_404_and_not_listed(actors, qualifier, mql):
    made = task(actors, mql, qualifier.principal, 1)
    api = actors.outsider.api()
    assert api.post(f"/api/v1/tasks/{made.pk}/complete/").status_code == 404
    assert api.get("/api/v1/tasks/").json()["count"] == 0


def test_the_task_list_takes_the_same_queries_for_1_and_20_tasks(
    actors, qualifier, django_assert_max_num_queries
):
    api = qualifier.api()
    task(actors, InquiryFactory(tenant=actors.tenant_a), qualifier.principal, 1)
    with django_assert_max_num_queries(20) as one:
        api.get("/api/v1/tasks/?due=all")
    for n in range(19):
        task(actors, InquiryFactory(tenant=actors.tenant_a), actors.teammate.principal, n + 2)
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = api.get("/api/v1/tasks/?due=all").json()
    assert body["count"] == 20 and len({row["assignee_name"] for row in body["results"]}) == 2
