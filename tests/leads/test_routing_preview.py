"""The router's reads: which team a lead's facts name and who in it would get the lead.

``preview_route`` writes nothing; every skip comes from what is stored (leave,
deactivation, suspension, capacity, a clashing meeting, a declined owner).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import PartnerStatus, PartnerTier, Role
from leads.models import LeadSettings, Team
from leads.routing import LeadFacts
from leads.selectors.routing import ALL_REPS, preview_route
from tests.conftest import make_actor
from tests.factories import (
    LeadFactory,
    MembershipFactory,
    PartnerFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
)

DE = LeadFacts(country="DE", industry="Logistics", company_size=200)


@pytest.fixture
def central(actors):
    return TeamFactory(tenant=actors.tenant_a, name="Central")


def member(actors, team, name, *, role=Role.REP, **membership):
    actor = make_actor(actors.tenant_a, role, user__full_name=name, **membership)
    TeamMemberFactory(tenant=actors.tenant_a, team=team, membership=actor.membership)
    return actor


def preview(actors, facts=DE, **kwargs):
    with tenant_context(actors.tenant_a):
        return preview_route(facts=facts, **kwargs)


def test_the_first_matching_rule_names_the_team(actors, central):
    other = TeamFactory(tenant=actors.tenant_a, name="North")
    member(actors, other, "Nora North")
    sam = member(actors, central, "Sam Central")
    RoutingRuleFactory(tenant=actors.tenant_a, name="Nordics", team=other, countries=["SE"])
    RoutingRuleFactory(tenant=actors.tenant_a, name="DACH", team=central, countries=["de", "AT"])
    decision = preview(actors)
    assert decision.rule == "DACH" and decision.team == central
    assert decision.rep == sam.user and decision.owner_name == "Sam Central"
    assert decision.reason == "Rule “DACH” → team Central → Sam Central (turn 1)"


def test_an_inactive_rule_is_not_used(actors, central):
    member(actors, central, "Mia Central", role=Role.MANAGER)
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"], is_active=False)
    rep = make_actor(actors.tenant_a, Role.REP, user__full_name="Una Fallback")
    decision = preview(actors)
    assert decision.team is None and decision.team_name == ALL_REPS
    assert decision.rep == rep.user


def test_no_match_goes_to_the_default_team(actors, central):
    sam = member(actors, central, "Sam Central")
    RoutingRuleFactory(
        tenant=actors.tenant_a, team=TeamFactory(tenant=actors.tenant_a), countries=["FR"]
    )
    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(tenant=actors.tenant_a, default_team=central)
    decision = preview(actors)
    assert decision.rule == "" and decision.team == central and decision.rep == sam.user
    assert decision.reason.startswith("No rule matched → default team Central → Sam Central")


def test_without_rules_the_active_reps_take_turns(actors):
    first = make_actor(actors.tenant_a, Role.REP, user__full_name="Ada One")
    second = make_actor(actors.tenant_a, Role.REP, user__full_name="Bo Two")
    make_actor(actors.tenant_a, Role.REP, user__full_name="Gone", is_active=False)
    make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Mia Manager")
    decision = preview(actors)
    assert decision.team_name == ALL_REPS and decision.rep == first.user
    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(
            tenant=actors.tenant_a, rotation=dict(decision.state.current_weights)
        )
    assert preview(actors).rep == second.user


def test_a_member_on_leave_today_is_skipped(actors, central):
    today = timezone.now().date()
    member(actors, central, "Sam Leave", leave_from=today - timedelta(days=1), leave_until=today)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, name="DACH", team=central, countries=["DE"])
    decision = preview(actors)
    assert decision.rep == robin.user
    assert decision.skips == [("Sam Leave", "on_leave")]
    assert (
        decision.reason
        == "Rule “DACH” → team Central → Robin Rep (turn 2; skipped: Sam Leave on leave)"
    )


def test_leave_ended_yesterday_does_not_skip(actors, central):
    sam = member(
        actors, central, "Sam Back", leave_from=date(2020, 1, 1), leave_until=date(2020, 1, 9)
    )
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    assert preview(actors).rep == sam.user


def test_a_deactivated_member_is_skipped(actors, central):
    member(actors, central, "Dee Gone", is_active=False)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    decision = preview(actors)
    assert decision.rep == robin.user and decision.skips == [("Dee Gone", "deactivated")]


def test_a_member_whose_user_is_deactivated_is_skipped(actors, central):
    member(actors, central, "Dee Gone", user__is_active=False)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    decision = preview(actors)
    assert decision.rep == robin.user and decision.skips == [("Dee Gone", "deactivated")]


def test_a_suspended_partner_is_skipped(actors, central):
    partner = PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", status=PartnerStatus.SUSPENDED
    )
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    decision = preview(actors)
    assert decision.rep == robin.user and decision.skips == [("Northwind", "suspended")]


def test_an_active_partner_gets_the_lead_with_its_tier_weight(actors, central):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind", tier=PartnerTier.GOLD)
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    decision = preview(actors)
    assert decision.partner == partner and decision.rep is None
    # Gold weighs 3, the rep 1: the partner wins and drops by the total (3 - 4).
    assert dict(decision.state.current_weights) == {
        f"p{partner.pk}": -1,
        f"m{robin.membership.pk}": 1,
    }


def test_a_member_at_capacity_is_skipped(actors, central):
    sam = member(actors, central, "Sam Full", capacity=2)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    LeadFactory.create_batch(2, tenant=actors.tenant_a, rep=sam.user)
    LeadFactory(tenant=actors.tenant_a, rep=sam.user, stage="won")  # closed: not counted
    decision = preview(actors)
    assert decision.rep == robin.user and decision.skips == [("Sam Full", "at_capacity")]


def test_a_partner_at_capacity_is_skipped(actors, central):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind", capacity=1)
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    LeadFactory(tenant=actors.tenant_a, partner=partner)
    decision = preview(actors)
    assert decision.rep == robin.user and decision.skips == [("Northwind", "at_capacity")]


def test_a_member_with_a_meeting_at_that_time_is_skipped(actors, central):
    sam = member(actors, central, "Sam Busy")
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    LeadFactory(
        tenant=actors.tenant_a,
        rep=sam.user,
        appointment__starts_at=at,
        appointment__duration_minutes=60,
    )
    decision = preview(actors, starts_at=at + timedelta(minutes=30))
    assert decision.rep == robin.user and decision.skips == [("Sam Busy", "double_booked")]
    # Right after the meeting ends the member is free again.
    assert preview(actors, starts_at=at + timedelta(minutes=60)).rep == sam.user


def test_a_cancelled_meeting_does_not_make_a_member_busy(actors, central):
    sam = member(actors, central, "Sam Free")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    LeadFactory(
        tenant=actors.tenant_a,
        rep=sam.user,
        appointment__starts_at=at,
        appointment__cancelled_at=timezone.now(),
    )
    assert preview(actors, starts_at=at).rep == sam.user


def test_an_owner_who_declined_the_lead_is_skipped(actors, central):
    sam = member(actors, central, "Sam Declined")
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    decision = preview(actors, exclude={f"m{sam.membership.pk}"})
    assert decision.rep == robin.user and decision.skips == [("Sam Declined", "declined")]


def test_nobody_eligible_gives_no_owner_and_says_why(actors, central):
    member(actors, central, "Dee Gone", is_active=False)
    RoutingRuleFactory(tenant=actors.tenant_a, name="DACH", team=central, countries=["DE"])
    decision = preview(actors)
    assert decision.rep is None and decision.partner is None and decision.turn is None
    assert decision.reason == "Rule “DACH” → team Central → nobody eligible (Dee Gone deactivated)"


def test_the_preview_writes_nothing(actors, central):
    member(actors, central, "Sam Central")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    preview(actors)
    preview(actors)
    with tenant_context(actors.tenant_a):
        assert Team.objects.get(pk=central.pk).rotation == {}
        assert not LeadSettings.objects.exists()


def test_the_rotation_stored_on_the_team_gives_the_next_turn(actors, central):
    sam = member(actors, central, "Sam Central")
    robin = member(actors, central, "Robin Rep")
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    first = preview(actors)
    with tenant_context(actors.tenant_a):
        Team.objects.filter(pk=central.pk).update(rotation=dict(first.state.current_weights))
    second = preview(actors)
    assert (first.rep, first.turn) == (sam.user, 1)
    assert (second.rep, second.turn) == (robin.user, 2)


@pytest.mark.parametrize("size", [2, 12])
def test_the_preview_reads_a_fixed_number_of_queries(
    actors, central, size, django_assert_max_num_queries
):
    for n in range(size):
        rep = member(actors, central, f"Rep {n}")
        LeadFactory(tenant=actors.tenant_a, rep=rep.user)
    partner = PartnerFactory(tenant=actors.tenant_a)
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    RoutingRuleFactory(tenant=actors.tenant_a, team=central, countries=["DE"])
    with django_assert_max_num_queries(6):
        preview(actors, starts_at=timezone.now() + timedelta(days=1))


def test_another_tenants_teams_and_reps_are_never_candidates(actors):
    MembershipFactory(tenant=actors.tenant_b, role=Role.REP)
    other = TeamFactory(tenant=actors.tenant_b, name="Theirs")
    RoutingRuleFactory(tenant=actors.tenant_b, team=other, countries=["DE"])
    decision = preview(actors)
    assert decision.team is None and decision.rep is None
