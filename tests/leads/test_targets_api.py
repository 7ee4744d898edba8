"""``/api/v1/targets/``: list by quarter, upsert, delete; roles, tenants and query counts."""

import pytest
import time_machine

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Target, Team
from leads.services.targets import set_target
from tests.conftest import make_actor
from tests.factories import PartnerFactory

API = "/api/v1/targets/"


@pytest.fixture(autouse=True)
def december_2026():
    with time_machine.travel("2026-12-07 10:00:00+00:00", tick=False):
        yield


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep").user


def target_of(actors, tenant=None, actor=None, **fields) -> Target:
    tenant = tenant or actors.tenant_a
    fields.setdefault("year", 2026)
    fields.setdefault("quarter", 4)
    fields.setdefault("value", "1000")
    fields.setdefault("count", 2)
    with tenant_context(tenant):
        return set_target(by=(actor or actors.owner).principal, **fields)


def test_the_list_shows_the_quarters_targets_with_owner_names(actors, rep):
    target_of(actors, rep=rep, value="25000.50")
    target_of(actors, rep=rep, quarter=3)
    response = actors.owner.api().get(API, {"quarter": "2026-Q4"})
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["quarter"] == "2026-Q4" and row["rep"] == rep.pk
    assert row["owner_name"] == "Riley Rep" and row["value"] == "25000.50" and row["count"] == 2


def test_the_list_defaults_to_the_current_quarter(actors, rep):
    target_of(actors, rep=rep, quarter=4)
    target_of(actors, rep=rep, quarter=1)
    rows = actors.owner.api().get(API).json()["results"]
    assert [row["quarter"] for row in rows] == ["2026-Q4"]


def test_a_blank_quarter_is_the_current_quarter(actors, rep):
    target_of(actors, rep=rep, quarter=4)
    rows = actors.owner.api().get(API, {"quarter": ""}).json()["results"]
    assert [row["quarter"] for row in rows] == ["2026-Q4"]


@pytest.mark.parametrize("quarter", ["2026-Q5", "Q4", "2026-4"])
def test_a_malformed_quarter_is_a_400_naming_the_parameter(actors, quarter):
    response = actors.owner.api().get(API, {"quarter": quarter})
    assert response.status_code == 400
    assert "quarter" in response.json()["errors"]


def test_post_creates_then_replaces_the_target(actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Dealer One")
    api = actors.owner.api()
    body = {"quarter": "2026-Q4", "partner": partner.pk, "value": "5000", "count": 4}
    first = api.post(API, body, format="json")
    second = api.post(API, {**body, "count": 6}, format="json")
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["count"] == 6 and second.json()["owner_name"] == "Dealer One"


def test_post_for_a_team(actors):
    with tenant_context(actors.tenant_a):
        team = Team.objects.create(tenant=actors.tenant_a, name="North")
    body = {"quarter": "2027-Q1", "team": team.pk, "count": 30}
    response = actors.owner.api().post(API, body, format="json")
    assert response.status_code == 200 and response.json()["team"] == team.pk


def test_a_bad_value_is_a_400_on_value_and_saves_nothing(actors, rep):
    body = {"quarter": "2026-Q4", "rep": rep.pk, "value": "-1", "count": 2}
    response = actors.owner.api().post(API, body, format="json")
    assert response.status_code == 400 and "value" in response.json()["errors"]
    with tenant_context(actors.tenant_a):
        assert not Target.objects.exists()


def test_a_malformed_quarter_in_the_body_is_a_400_on_quarter(actors, rep):
    body = {"quarter": "2026-Q5", "rep": rep.pk, "count": 2}
    response = actors.owner.api().post(API, body, format="json")
    assert response.status_code == 400 and "quarter" in response.json()["errors"]


def test_another_tenants_partner_is_a_400_not_found(actors):
    partner = PartnerFactory(tenant=actors.tenant_b)
    body = {"quarter": "2026-Q4", "partner": partner.pk, "count": 2}
    response = actors.owner.api().post(API, body, format="json")
    assert response.status_code == 400 and "partner" in response.json()["errors"]


def test_delete_removes_the_target(actors, rep):
    target = target_of(actors, rep=rep)
    assert actors.owner.api().delete(f"{API}{target.pk}/").status_code == 204
    with tenant_context(actors.tenant_a):
        assert not Target.objects.exists()


def test_another_tenants_target_is_a_404_and_stays(actors):
    theirs = target_of(
        actors,
        tenant=actors.tenant_b,
        actor=actors.outsider,
        rep=actors.outsider.user,
    )
    assert actors.owner.api().delete(f"{API}{theirs.pk}/").status_code == 404
    assert actors.owner.api().get(API).json()["results"] == []
    with tenant_context(actors.tenant_b):
        assert Target.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_get_403(actors, rep, role):
    target = target_of(actors, rep=rep)
    api = make_actor(actors.tenant_a, role).api()
    assert api.get(API).status_code == 403
    body = {"quarter": "2026-Q4", "rep": rep.pk, "count": 1}
    assert api.post(API, body, format="json").status_code == 403
    assert api.delete(f"{API}{target.pk}/").status_code == 403


def test_a_manager_may_use_it(actors, rep):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    body = {"quarter": "2026-Q4", "rep": rep.pk, "count": 1}
    assert manager.api().post(API, body, format="json").status_code == 200


def test_the_list_takes_the_same_queries_for_many_targets(actors, django_assert_max_num_queries):
    api = actors.owner.api()
    target_of(actors, rep=make_actor(actors.tenant_a, Role.REP).user)
    with django_assert_max_num_queries(20) as few:
        api.get(API)
    for _n in range(10):
        target_of(actors, rep=make_actor(actors.tenant_a, Role.REP).user)
        target_of(actors, partner=PartnerFactory(tenant=actors.tenant_a))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get(API).json()["results"]) == 21
