"""Territory rules: the service's checks and order, the rule pages and the rules API."""

from zoneinfo import ZoneInfo

import pytest

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import RoutingRule
from leads.services import teams as service
from tests.conftest import make_actor
from tests.leads.test_teams import client_of, make_rule, make_team

API = "/api/v1/routing-rules/"


@pytest.fixture
def team(actors):
    return make_team(actors, "DACH")


def order(actors) -> list[tuple[str, int]]:
    with tenant_context(actors.tenant_a):
        return [(r.name, r.position) for r in RoutingRule.objects.order_by("position", "id")]


def refused(actors, team, **values) -> RuleViolation:
    values.setdefault("name", "Rule")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refusal:
        service.create_rule(team=team, by=actors.owner.principal, **values)
    assert order(actors) == []  # nothing saved
    return refusal.value


# --- the service ------------------------------------------------------------------------


def test_a_rule_is_saved_with_values_trimmed_deduplicated_and_countries_in_capitals(actors, team):
    rule = make_rule(
        actors,
        team,
        name="  DACH  machinery ",
        countries=[" de", "AT", "De", "ch "],
        industries=["Machinery", " machinery", "Food  and drink"],
        regions=["", "Bavaria"],
    )
    assert rule.name == "DACH machinery"
    assert rule.countries == ["DE", "AT", "CH"]
    assert rule.industries == ["Machinery", "Food and drink"]
    assert rule.regions == ["Bavaria"]


def test_a_new_rule_comes_last(actors, team):
    make_rule(actors, team, name="First")
    make_rule(actors, team, name="Second")
    assert order(actors) == [("First", 1), ("Second", 2)]


@pytest.mark.parametrize("name", ["", "  ", "x" * 101])
def test_a_rule_name_is_1_to_100_characters(actors, team, name):
    assert refused(actors, team, name=name, countries=["DE"]).field == "name"


@pytest.mark.parametrize("code", ["XX", "UK", "Germany", "D"])
def test_countries_are_iso_codes(actors, team, code):
    refusal = refused(actors, team, countries=["DE", code])
    assert (refusal.field, refusal.code) == ("countries", "invalid_country")


def test_the_united_kingdom_is_explained_as_gb(actors, team):
    assert "GB" in refused(actors, team, countries=["UK"]).message


@pytest.mark.parametrize("field", ["regions", "industries"])
def test_a_list_has_at_most_50_values(actors, team, field):
    assert refused(actors, team, **{field: [f"v{n}" for n in range(51)]}).field == field


def test_fifty_values_are_accepted(actors, team):
    rule = make_rule(actors, team, countries=[], industries=[f"v{n}" for n in range(50)])
    assert len(rule.industries) == 50


def test_duplicates_do_not_count_toward_the_50(actors, team):
    rule = make_rule(actors, team, countries=[], regions=["North"] * 60)
    assert rule.regions == ["North"]


def test_a_null_character_is_refused_before_the_database_sees_it(actors, team):
    assert refused(actors, team, regions=["North\x00"]).field == "regions"


def test_a_value_over_100_characters_is_refused(actors, team):
    assert refused(actors, team, industries=["x" * 101]).code == "too_long"


def test_the_smallest_size_cannot_exceed_the_largest(actors, team):
    refusal = refused(actors, team, size_min=500, size_max=50)
    assert (refusal.field, refusal.code) == ("size_max", "below_minimum")


@pytest.mark.parametrize("value", [-1, True, "50", 10_000_001])
def test_a_size_is_a_whole_number_of_employees(actors, team, value):
    assert refused(actors, team, size_min=value).field == "size_min"


def test_a_rule_without_any_criterion_is_refused(actors, team):
    refusal = refused(actors, team, countries=[" ", ""])
    assert refusal.code == "no_criteria"
    assert "would catch every lead" in refusal.message


def test_a_size_alone_is_a_criterion(actors, team):
    assert make_rule(actors, team, countries=[], size_min=0).size_min == 0


def test_another_tenants_team_is_refused(actors):
    with tenant_context(actors.tenant_b):
        theirs = service.create_team(name="Theirs", by=actors.outsider.principal)
    assert refused(actors, theirs, countries=["DE"]).field == "team"


def test_a_rep_cannot_create_a_rule(actors, team):
    rep = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refusal:
        service.create_rule(name="R", team=team, countries=["DE"], by=rep.principal)
    assert refusal.value.code == "forbidden"


def test_updating_changes_only_the_given_fields_and_is_audited(actors, team):
    rule = make_rule(actors, team, industries=["Machinery"])
    with tenant_context(actors.tenant_a):
        service.update_rule(rule=rule, countries=["AT"], by=actors.owner.principal)
        rule.refresh_from_db()
        event = AuditEvent.objects.get(action="routing.rule_changed")
    assert (rule.countries, rule.industries) == (["AT"], ["Machinery"])
    assert (event.before["countries"], event.after["countries"]) == (["DE"], ["AT"])


def test_a_refused_update_changes_nothing(actors, team):
    rule = make_rule(actors, team)
    with tenant_context(actors.tenant_a):
        with pytest.raises(RuleViolation):
            service.update_rule(rule=rule, name="New", countries=["XX"], by=actors.owner.principal)
        rule.refresh_from_db()
    assert (rule.name, rule.countries) == ("Germany", ["DE"])


def test_moving_a_rule_up_swaps_it_with_the_one_before(actors, team):
    for name in ("A", "B", "C"):
        make_rule(actors, team, name=name)
    with tenant_context(actors.tenant_a):
        rule = RoutingRule.objects.get(name="C")
        service.move_rule(rule=rule, direction="up", by=actors.owner.principal)
    assert order(actors) == [("A", 1), ("C", 2), ("B", 3)]


def test_moving_a_rule_down_swaps_it_with_the_one_after(actors, team):
    for name in ("A", "B", "C"):
        make_rule(actors, team, name=name)
    with tenant_context(actors.tenant_a):
        rule = RoutingRule.objects.get(name="A")
        service.move_rule(rule=rule, direction="down", by=actors.owner.principal)
    assert order(actors) == [("B", 1), ("A", 2), ("C", 3)]


@pytest.mark.parametrize(("name", "direction"), [("A", "up"), ("B", "down")])
def test_the_first_cannot_move_up_nor_the_last_down(actors, team, name, direction):
    for each in ("A", "B"):
        make_rule(actors, team, name=each)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refusal:
        rule = RoutingRule.objects.get(name=name)
        service.move_rule(rule=rule, direction=direction, by=actors.owner.principal)
    assert refusal.value.code == "at_edge"
    assert order(actors) == [("A", 1), ("B", 2)]


def test_deleting_a_rule_closes_the_gap(actors, team):
    for name in ("A", "B", "C"):
        make_rule(actors, team, name=name)
    with tenant_context(actors.tenant_a):
        service.delete_rule(rule=RoutingRule.objects.get(name="A"), by=actors.owner.principal)
    assert order(actors) == [("B", 1), ("C", 2)]


# --- pages ------------------------------------------------------------------------------


def rule_form(team, **changes) -> dict:
    data = {
        "name": "DACH",
        "team": str(team.pk),
        "countries": "DE, AT",
        "regions": "",
        "industries": "Machinery",
        "size_min": "",
        "size_max": "",
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_the_routing_page_lists_rules_in_order_with_criteria_in_words(actors, team):
    make_rule(actors, team, name="Big DACH", countries=["DE", "AT"], size_min=50, size_max=500)
    make_rule(actors, team, name="Machinery", countries=[], industries=["Machinery"])
    html = client_of(actors.owner).get("/settings/routing/").content.decode()
    assert html.index("Big DACH") < html.index("Machinery</strong>")
    assert "Country Germany (DE) or Austria (AT); 50 to 500 employees" in html
    assert "Industry Machinery" in html


def test_the_rule_form_creates_a_rule_from_comma_separated_text(actors, team):
    response = client_of(actors.owner).post("/settings/routing/rules/new/", rule_form(team))
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        rule = RoutingRule.objects.get()
    assert (rule.countries, rule.industries, rule.is_active) == (["DE", "AT"], ["Machinery"], True)


def test_a_bad_country_is_shown_on_its_field_and_nothing_is_saved(actors, team):
    response = client_of(actors.owner).post(
        "/settings/routing/rules/new/", rule_form(team, countries="DE, XX")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html and "&quot;XX&quot; is not a country code" in html
    assert order(actors) == []


def test_a_rule_with_no_criteria_is_refused_on_the_page(actors, team):
    response = client_of(actors.owner).post(
        "/settings/routing/rules/new/", rule_form(team, countries="", industries="")
    )
    assert response.status_code == 400
    assert "would catch every lead" in response.content.decode()


def test_the_edit_form_saves_a_changed_country(actors, team):
    rule = make_rule(actors, team)
    response = client_of(actors.owner).post(
        f"/settings/routing/rules/{rule.pk}/", rule_form(team, name="Germany", countries="CH")
    )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        rule.refresh_from_db()
    assert rule.countries == ["CH"]


def test_the_move_button_moves_a_rule(actors, team):
    make_rule(actors, team, name="A")
    second = make_rule(actors, team, name="B")
    client_of(actors.owner).post(f"/settings/routing/rules/{second.pk}/move/", {"direction": "up"})
    assert order(actors) == [("B", 1), ("A", 2)]


def test_the_rule_page_says_to_create_a_team_first(actors):
    html = client_of(actors.owner).get("/settings/routing/rules/new/").content.decode()
    assert 'data-testid="rule-no-teams"' in html


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER])
def test_the_rule_pages_are_for_admins_and_managers(actors, team, role):
    other = make_actor(actors.tenant_a, role)
    rule = make_rule(actors, team)
    client = client_of(other)
    assert client.get("/settings/routing/rules/new/").status_code == 403
    assert client.get(f"/settings/routing/rules/{rule.pk}/").status_code == 403
    assert client.post(f"/settings/routing/rules/{rule.pk}/delete/").status_code == 403
    assert order(actors) == [("Germany", 1)]


def test_another_tenants_rule_is_404_on_every_page(actors, team):
    rule = make_rule(actors, team)
    client = client_of(actors.outsider)
    assert client.get(f"/settings/routing/rules/{rule.pk}/").status_code == 404
    assert client.post(f"/settings/routing/rules/{rule.pk}/", rule_form(team)).status_code == 404
    move = client.post(f"/settings/routing/rules/{rule.pk}/move/", {"direction": "up"})
    assert move.status_code == 404
    assert client.post(f"/settings/routing/rules/{rule.pk}/delete/").status_code == 404
    assert order(actors) == [("Germany", 1)]


# --- API --------------------------------------------------------------------------------


def test_the_api_creates_a_rule_with_its_position(actors, team):
    make_rule(actors, team, name="First")
    response = actors.owner.api().post(
        API,
        {"name": "DACH", "team": team.pk, "countries": ["de", "at"], "size_min": 50},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["position"], body["countries"], body["team_name"]) == (2, ["DE", "AT"], "DACH")


def test_the_api_answers_a_bad_country_with_a_field_error(actors, team):
    response = actors.owner.api().post(
        API, {"name": "DACH", "team": team.pk, "countries": ["XX"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["countries"]
    assert order(actors) == []


def test_the_api_answers_a_huge_team_id_with_a_400(actors):
    response = actors.owner.api().post(
        API, {"name": "X", "team": 10**30, "countries": ["DE"]}, format="json"
    )
    assert response.status_code == 400


def test_the_api_needs_a_name_and_a_team(actors):
    response = actors.owner.api().post(API, {"countries": ["DE"]}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "team"}


def test_the_api_refuses_another_tenants_team(actors):
    with tenant_context(actors.tenant_b):
        theirs = service.create_team(name="Theirs", by=actors.outsider.principal)
    response = actors.owner.api().post(
        API, {"name": "X", "team": theirs.pk, "countries": ["DE"]}, format="json"
    )
    assert response.status_code == 400
    assert "team" in response.json()["errors"]


def test_the_api_patches_a_rule(actors, team):
    rule = make_rule(actors, team)
    response = actors.owner.api().patch(
        f"{API}{rule.pk}/", {"is_active": False, "regions": ["Bavaria"]}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["regions"]) == (False, ["Bavaria"])


def test_the_api_moves_a_rule_and_answers_the_new_order(actors, team):
    make_rule(actors, team, name="A")
    second = make_rule(actors, team, name="B")
    response = actors.owner.api().post(
        f"{API}{second.pk}/move/", {"direction": "up"}, format="json"
    )
    assert response.status_code == 200
    assert [(r["name"], r["position"]) for r in response.json()] == [("B", 1), ("A", 2)]


def test_the_api_refuses_moving_the_first_rule_up(actors, team):
    rule = make_rule(actors, team)
    response = actors.owner.api().post(f"{API}{rule.pk}/move/", {"direction": "up"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "at_edge"


def test_the_api_deletes_a_rule(actors, team):
    rule = make_rule(actors, team)
    assert actors.owner.api().delete(f"{API}{rule.pk}/").status_code == 204
    assert order(actors) == []


def test_the_rules_api_is_for_admins_and_managers(actors, team):
    rep = make_actor(actors.tenant_a, Role.REP)
    rule = make_rule(actors, team)
    assert rep.api().get(API).status_code == 403
    assert actors.teammate.api().delete(f"{API}{rule.pk}/").status_code == 403
    assert order(actors) == [("Germany", 1)]


def test_a_manager_uses_the_rules_api(actors, team):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    make_rule(actors, team)
    assert len(manager.api().get(API).json()["results"]) == 1


def test_another_tenants_rule_is_404_in_the_api(actors, team):
    rule = make_rule(actors, team)
    api = actors.outsider.api()
    assert api.get(f"{API}{rule.pk}/").status_code == 404
    assert api.patch(f"{API}{rule.pk}/", {"name": "Mine"}, format="json").status_code == 404
    assert api.post(f"{API}{rule.pk}/move/", {"direction": "up"}, format="json").status_code == 404
    assert api.delete(f"{API}{rule.pk}/").status_code == 404
    assert order(actors) == [("Germany", 1)]


def test_the_rule_list_costs_the_same_queries_for_one_rule_or_many(
    actors, team, django_assert_max_num_queries
):
    make_rule(actors, team, name="Rule 0")
    api = actors.owner.api()
    with django_assert_max_num_queries(20) as one:
        assert api.get(API).status_code == 200
    other = make_team(actors, "Other")
    for n in range(1, 6):
        make_rule(actors, other if n % 2 else team, name=f"Rule {n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = api.get(API)
    assert len(response.json()["results"]) == 6


# --- the tester -------------------------------------------------------------------------


def test_the_tester_names_the_rule_team_and_owner(actors, team):
    rep = make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")
    with tenant_context(actors.tenant_a):
        service.set_team_members(
            team=team, members=[(rep.membership, None)], by=actors.owner.principal
        )
    make_rule(actors, team, name="Germany", countries=["DE"])
    response = client_of(actors.owner).get("/settings/routing/", {"try-country": "de"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Rule “Germany” → team DACH → Riley Rep (turn 1)" in html


def test_the_tester_on_the_rule_page_starts_from_a_lead_the_rule_catches(actors, team):
    rule = make_rule(actors, team, name="Austria", countries=["AT"])
    html = client_of(actors.owner).get(f"/settings/routing/rules/{rule.pk}/").content.decode()
    assert 'name="try-country" value="AT"' in html
    assert 'data-testid="tester-result"' not in html


def test_the_tester_refuses_a_bad_country_on_its_field(actors, team):
    response = client_of(actors.owner).get("/settings/routing/", {"try-country": "XX"})
    html = response.content.decode()
    assert "&quot;XX&quot; is not a country code" in html
    assert 'data-testid="tester-result"' not in html


def test_the_tester_skips_an_owner_booked_at_the_appointments_time(actors, team):
    from tests.leads.conftest import book_for

    busy = make_actor(actors.tenant_a, Role.REP, user__full_name="Busy Bee")
    free = make_actor(actors.tenant_a, Role.REP, user__full_name="Free Fox")
    with tenant_context(actors.tenant_a):
        service.set_team_members(
            team=team,
            members=[(busy.membership, None), (free.membership, None)],
            by=actors.owner.principal,
        )
    make_rule(actors, team, name="Germany", countries=["DE"])
    lead = book_for(actors, busy)
    with tenant_context(actors.tenant_a):
        starts = lead.appointment.starts_at
    local = starts.astimezone(ZoneInfo(actors.tenant_a.timezone))  # the tester's zone
    response = client_of(actors.owner).get(
        "/settings/routing/",
        {
            "try-country": "DE",
            "try-day": local.date().isoformat(),
            "try-time": local.strftime("%H:%M"),
        },
    )
    html = response.content.decode()
    assert "Free Fox (turn 2; skipped: Busy Bee booked at that time)" in html


PREVIEW = "/api/v1/routing/preview/"


def test_the_preview_api_answers_the_decision(actors, team):
    rep = make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")
    with tenant_context(actors.tenant_a):
        service.set_team_members(
            team=team, members=[(rep.membership, None)], by=actors.owner.principal
        )
    make_rule(actors, team, name="Germany", countries=["DE"])
    response = actors.owner.api().post(PREVIEW, {"country": "de"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["rule"], body["team"], body["rep"], body["turn"]) == (
        "Germany",
        team.pk,
        rep.user.pk,
        1,
    )
    assert body["reason"] == "Rule “Germany” → team DACH → Riley Rep (turn 1)"


def test_the_preview_api_refuses_a_bad_country(actors):
    response = actors.owner.api().post(PREVIEW, {"country": "XX"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["country"]


def test_the_preview_api_is_for_admins_and_managers(actors):
    assert actors.teammate.api().post(PREVIEW, {}, format="json").status_code == 403


def test_the_preview_api_never_reads_another_tenants_rules(actors, team):
    make_rule(actors, team, name="Germany", countries=["DE"])
    body = actors.outsider.api().post(PREVIEW, {"country": "DE"}, format="json").json()
    assert (body["rule"], body["team"]) == ("", None)
