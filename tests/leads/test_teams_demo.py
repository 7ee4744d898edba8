"""The demo's routing: teams of reps and of partners of two tiers, rules and a default team."""

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.demo import seed_demo_people
from leads.demo import seed_demo_routing
from leads.models import LeadSettings, RoutingRule, Team
from leads.routing import LeadFacts
from leads.selectors.routing import preview_route
from leads.selectors.teams import members_of


def test_the_demo_seeds_teams_rules_and_a_default_team_once(db):
    acme = seed_demo_people().tenants[0]
    with tenant_context(acme):
        assert seed_demo_routing(tenant=acme) == 2
        assert seed_demo_routing(tenant=acme) == 0  # a second run adds nothing
        teams = {team.name: team for team in Team.objects.all()}
        channel = members_of([teams["Channel"]])[teams["Channel"].pk]
        assert sorted(place.partner.tier for place in channel) == ["gold", "silver"]
        assert list(RoutingRule.objects.values_list("position", flat=True)) == [1, 2]
        assert LeadSettings.objects.get().default_team == teams["North America"]
        decision = preview_route(facts=LeadFacts(country="BR"))
    assert decision.team_name == "Channel"
    assert decision.owner_name == "Northwind Dealers"  # gold: three turns of five
