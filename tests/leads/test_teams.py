"""The router's teams: the service's rules, the team pages and ``/api/v1/teams/``."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, PartnerTier, Role
from leads.models import LeadSettings, Team, TeamMember
from leads.services import teams as service
from tests.conftest import make_actor
from tests.factories import PartnerFactory

# --- helpers shared with test_routing_rules*.py -------------------------------------------


def make_team(actors, name="DACH", members=()):
    with tenant_context(actors.tenant_a):
        team = service.create_team(name=name, by=actors.owner.principal)
        if members:
            service.set_team_members(team=team, members=list(members), by=actors.owner.principal)
    return team


def make_rule(actors, team, name="Germany", **criteria):
    criteria.setdefault("countries", ["DE"])
    with tenant_context(actors.tenant_a):
        return service.create_rule(name=name, team=team, by=actors.owner.principal, **criteria)


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def team_names(actors) -> list[str]:
    """The tenant's teams (read inside its scope: row-level security hides it otherwise)."""
    with tenant_context(actors.tenant_a):
        return list(Team.objects.order_by("name").values_list("name", flat=True))


def default_team_id(actors):
    with tenant_context(actors.tenant_a):
        row = LeadSettings.objects.first()
        return row.default_team_id if row else None


def places(actors, team) -> list[tuple[str, int | None, int]]:
    with tenant_context(actors.tenant_a):
        rows = TeamMember.objects.filter(team=team).order_by("position")
        return [(row.key, row.weight, row.position) for row in rows]


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind", tier=PartnerTier.GOLD)


# --- the service: teams ---------------------------------------------------------------


def test_a_manager_creates_a_team_with_its_name_trimmed_and_audited(actors, manager):
    with tenant_context(actors.tenant_a):
        team = service.create_team(name="  DACH   North ", by=manager.principal)
        assert team.name == "DACH North"
        assert AuditEvent.objects.filter(action="routing.team_created").count() == 1


@pytest.mark.parametrize("role", [Role.MARKETER, Role.QUALIFIER, Role.REP])
def test_only_admins_and_managers_create_teams(actors, role):
    other = make_actor(actors.tenant_a, role)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.create_team(name="DACH", by=other.principal)
    assert refused.value.code == "forbidden"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_team_name_is_1_to_100_characters(actors, name):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.create_team(name=name, by=actors.owner.principal)
    assert refused.value.field == "name"
    assert team_names(actors) == []


def test_a_team_name_is_unique_ignoring_case(actors):
    make_team(actors, "DACH")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.create_team(name="dach", by=actors.owner.principal)
    assert refused.value.code == "duplicate"


def test_another_tenant_may_use_the_same_team_name(actors):
    make_team(actors, "DACH")
    with tenant_context(actors.tenant_b):
        assert service.create_team(name="DACH", by=actors.outsider.principal).name == "DACH"


def test_renaming_a_team_to_its_own_name_in_another_case_is_allowed(actors):
    team = make_team(actors, "dach")
    with tenant_context(actors.tenant_a):
        assert service.rename_team(team=team, name="DACH", by=actors.owner.principal).name == "DACH"


def test_members_keep_the_given_order_as_their_positions(actors, rep, manager, partner):
    team = make_team(actors)
    with tenant_context(actors.tenant_a):
        service.set_team_members(
            team=team,
            members=[(partner, None), (rep.membership, 3), (manager.membership, None)],
            by=actors.owner.principal,
        )
    assert places(actors, team) == [
        (f"p{partner.pk}", None, 1),
        (f"m{rep.membership.pk}", 3, 2),
        (f"m{manager.membership.pk}", None, 3),
    ]


def test_setting_members_replaces_the_previous_list(actors, rep, partner):
    team = make_team(actors, members=[(rep.membership, None), (partner, 2)])
    with tenant_context(actors.tenant_a):
        service.set_team_members(team=team, members=[(partner, 4)], by=actors.owner.principal)
    assert places(actors, team) == [(f"p{partner.pk}", 4, 1)]


@pytest.mark.parametrize("weight", [0, 11, True])
def test_a_weight_is_1_to_10_or_none(actors, rep, weight):
    team = make_team(actors)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.set_team_members(
            team=team, members=[(rep.membership, weight)], by=actors.owner.principal
        )
    assert refused.value.field == "weight"


@pytest.mark.parametrize("role", [Role.MARKETER, Role.QUALIFIER])
def test_marketers_and_qualifiers_cannot_be_in_a_team(actors, role):
    other = make_actor(actors.tenant_a, role, user__full_name="Quinn Other")
    team = make_team(actors)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.set_team_members(
            team=team, members=[(other.membership, None)], by=actors.owner.principal
        )
    assert refused.value.code == "role"


def test_a_partners_user_is_refused_as_a_person(actors, partner):
    user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    team = make_team(actors)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.set_team_members(
            team=team, members=[(user.membership, None)], by=actors.owner.principal
        )
    assert refused.value.code == "role"


def test_a_deactivated_member_is_refused(actors, rep):
    with tenant_context(actors.tenant_a):
        rep.membership.is_active = False
        rep.membership.save(update_fields=["is_active"])
    team = make_team(actors)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.set_team_members(
            team=team, members=[(rep.membership, None)], by=actors.owner.principal
        )
    assert refused.value.code == "inactive"


def test_the_same_person_twice_is_refused_and_nothing_changes(actors, rep, partner):
    team = make_team(actors, members=[(partner, None)])
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.set_team_members(
            team=team,
            members=[(rep.membership, 1), (rep.membership, 2)],
            by=actors.owner.principal,
        )
    assert refused.value.code == "duplicate"
    assert places(actors, team) == [(f"p{partner.pk}", None, 1)]


def test_another_tenants_partner_is_refused(actors):
    theirs = PartnerFactory(tenant=actors.tenant_b)
    team = make_team(actors)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.set_team_members(team=team, members=[(theirs, None)], by=actors.owner.principal)
    assert refused.value.code == "unknown"


def test_deleting_a_team_a_rule_uses_is_refused(actors):
    team = make_team(actors)
    make_rule(actors, team, name="Germany")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        service.delete_team(team=team, by=actors.owner.principal)
    assert refused.value.code == "in_use"
    assert "“Germany”" in refused.value.message
    assert team_names(actors) == ["DACH"]


def test_deleting_the_default_team_clears_the_setting(actors, rep):
    team = make_team(actors, members=[(rep.membership, None)])
    with tenant_context(actors.tenant_a):
        service.set_default_team(team=team, by=actors.owner.principal)
        service.delete_team(team=team, by=actors.owner.principal)
        assert LeadSettings.objects.get().default_team_id is None
        assert not TeamMember.objects.exists()


def test_the_default_team_is_set_and_cleared(actors):
    team = make_team(actors)
    with tenant_context(actors.tenant_a):
        assert service.set_default_team(team=team, by=actors.owner.principal).default_team == team
        assert service.set_default_team(team=None, by=actors.owner.principal).default_team is None
        assert AuditEvent.objects.filter(action="routing.default_team_set").count() == 2


def test_save_team_creates_nothing_when_a_member_is_refused(actors):
    other = make_actor(actors.tenant_a, Role.MARKETER)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation):
        service.save_team(
            team=None, name="DACH", members=[(other.membership, None)], by=actors.owner.principal
        )
    assert team_names(actors) == []


# --- pages ------------------------------------------------------------------------------


def test_the_routing_page_shows_teams_members_and_who_is_on_leave(actors, manager, rep, partner):
    today = timezone.localdate()
    with tenant_context(actors.tenant_a):
        rep.membership.leave_from = today - timedelta(days=1)
        rep.membership.leave_until = today + timedelta(days=3)
        rep.membership.save(update_fields=["leave_from", "leave_until"])
    make_team(actors, "DACH", members=[(rep.membership, 2), (partner, None)])
    response = client_of(manager).get("/settings/routing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Riley Rep" in html and "weight 2" in html
    assert "Northwind" in html and "Partner, Gold · weight 3 (default)" in html
    assert 'data-testid="on-leave"' in html


def test_the_routing_page_says_what_happens_without_rules_or_teams(actors, manager):
    html = client_of(manager).get("/settings/routing/").content.decode()
    assert "No rules: every lead goes to round robin over all active reps" in html
    assert "No teams yet." in html


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_the_routing_pages_are_for_admins_and_managers(actors, role):
    other = make_actor(actors.tenant_a, role)
    team = make_team(actors)
    for path in ("/settings/routing/", "/settings/routing/teams/new/"):
        assert client_of(other).get(path).status_code == 403
    assert client_of(other).get(f"/settings/routing/teams/{team.pk}/").status_code == 403


def test_another_tenants_team_page_is_404(actors):
    team = make_team(actors)
    client = client_of(actors.outsider)
    assert client.get(f"/settings/routing/teams/{team.pk}/").status_code == 404
    assert client.post(f"/settings/routing/teams/{team.pk}/delete/").status_code == 404
    assert team_names(actors) == ["DACH"]


def test_the_team_form_creates_a_team_with_ticked_members_and_weights(actors, rep, partner):
    response = client_of(actors.owner).post(
        "/settings/routing/teams/new/",
        {
            "name": "Channel",
            f"member_m{rep.membership.pk}": "1",
            f"weight_m{rep.membership.pk}": "2",
            f"member_p{partner.pk}": "1",
            f"weight_p{partner.pk}": "",
        },
    )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        team = Team.objects.get(name="Channel")
    assert places(actors, team) == [(f"m{rep.membership.pk}", 2, 1), (f"p{partner.pk}", None, 2)]


def test_a_bad_weight_on_the_team_form_shows_on_its_row_and_saves_nothing(actors, rep):
    response = client_of(actors.owner).post(
        "/settings/routing/teams/new/",
        {
            "name": "Channel",
            f"member_m{rep.membership.pk}": "1",
            f"weight_m{rep.membership.pk}": "11",
        },
    )
    assert response.status_code == 400
    assert "weight: give a whole number from 1 to 10" in response.content.decode()
    assert team_names(actors) == []


def test_a_duplicate_team_name_shows_on_the_name_field(actors):
    make_team(actors, "DACH")
    response = client_of(actors.owner).post("/settings/routing/teams/new/", {"name": "dach"})
    assert response.status_code == 400
    assert 'id="team-name-error"' in response.content.decode()


def test_deleting_a_team_in_use_from_its_page_says_why(actors):
    team = make_team(actors)
    make_rule(actors, team)
    client = client_of(actors.owner)
    response = client.post(f"/settings/routing/teams/{team.pk}/delete/", follow=True)
    assert "Rules send leads to this team" in response.content.decode()
    assert team_names(actors) == ["DACH"]


def test_the_default_team_picker_sets_the_default(actors):
    team = make_team(actors)
    response = client_of(actors.owner).post(
        "/settings/routing/default-team/", {"default_team": str(team.pk)}
    )
    assert response.status_code == 302
    assert default_team_id(actors) == team.pk


def test_the_default_team_picker_refuses_another_tenants_team(actors):
    with tenant_context(actors.tenant_b):
        theirs = service.create_team(name="Theirs", by=actors.outsider.principal)
    client_of(actors.owner).post("/settings/routing/default-team/", {"default_team": theirs.pk})
    assert default_team_id(actors) is None


# --- API --------------------------------------------------------------------------------

API = "/api/v1/teams/"


def test_the_api_creates_a_team_with_members(actors, rep, partner):
    response = actors.owner.api().post(
        API,
        {
            "name": "DACH",
            "members": [{"member": rep.membership.pk, "weight": 2}, {"partner": partner.pk}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [(m["name"], m["weight"], m["effective_weight"]) for m in body["members"]] == [
        ("Riley Rep", 2, 1 * 2),
        ("Northwind", None, 3),
    ]


def test_the_api_refuses_a_place_with_both_member_and_partner(actors, rep, partner):
    response = actors.owner.api().post(
        API,
        {"name": "DACH", "members": [{"member": rep.membership.pk, "partner": partner.pk}]},
        format="json",
    )
    assert response.status_code == 400
    assert "members" in response.json()["errors"]


def test_the_api_refuses_another_tenants_member_as_unknown(actors):
    theirs = make_actor(actors.tenant_b, Role.REP)
    response = actors.owner.api().post(
        API, {"name": "DACH", "members": [{"member": theirs.membership.pk}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["members"]
    assert team_names(actors) == []


def test_the_api_renames_a_team_and_keeps_its_members(actors, rep):
    team = make_team(actors, members=[(rep.membership, None)])
    response = actors.owner.api().patch(f"{API}{team.pk}/", {"name": "DACH+"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "DACH+"
    assert len(response.json()["members"]) == 1


def test_the_api_refuses_deleting_a_team_in_use(actors):
    team = make_team(actors)
    make_rule(actors, team)
    response = actors.owner.api().delete(f"{API}{team.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "in_use"


def test_the_api_deletes_an_unused_team(actors):
    team = make_team(actors)
    assert actors.owner.api().delete(f"{API}{team.pk}/").status_code == 204
    assert team_names(actors) == []


def test_the_teams_api_is_for_admins_and_managers(actors, rep):
    assert rep.api().get(API).status_code == 403
    assert actors.teammate.api().post(API, {"name": "X"}, format="json").status_code == 403


def test_another_tenants_team_is_404_in_the_api(actors):
    team = make_team(actors)
    api = actors.outsider.api()
    assert api.get(f"{API}{team.pk}/").status_code == 404
    assert api.patch(f"{API}{team.pk}/", {"name": "Mine"}, format="json").status_code == 404
    assert api.delete(f"{API}{team.pk}/").status_code == 404


def test_the_team_list_costs_the_same_queries_for_one_team_or_many(
    actors, rep, partner, django_assert_max_num_queries
):
    make_team(actors, "A", members=[(rep.membership, None), (partner, None)])
    api = actors.owner.api()
    with django_assert_max_num_queries(20) as one:
        assert api.get(API).status_code == 200
    for n in range(5):
        make_team(actors, f"Team {n}", members=[(rep.membership, 2), (partner, None)])
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = api.get(API)
    assert len(response.json()["results"]) == 6


def test_the_routing_page_costs_the_same_queries_for_one_team_or_many(
    actors, rep, partner, django_assert_max_num_queries
):
    team = make_team(actors, "A", members=[(rep.membership, None), (partner, None)])
    make_rule(actors, team, name="Rule A")
    client = client_of(actors.owner)
    with django_assert_max_num_queries(40) as one:
        assert client.get("/settings/routing/").status_code == 200
    for n in range(4):
        other = make_team(actors, f"Team {n}", members=[(rep.membership, 2), (partner, None)])
        make_rule(actors, other, name=f"Rule {n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get("/settings/routing/").content.decode()
    assert html.count('data-testid="team-card"') == 5
