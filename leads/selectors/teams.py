"""Teams and territory rules as the routing pages and the API show them (reads only; the
writes are ``leads.services.teams``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from leadflow.tenancy.models import Membership, Partner, Role
from leads.models import RoutingRule, Team, TeamMember

# Members who may own leads in a team (a partner's user is the partner's, through the partner).
MEMBER_ROLES: tuple[str, ...] = (Role.REP, Role.MANAGER, Role.ADMIN)


def team_list() -> QuerySet[Team]:
    """The tenant's teams by name."""
    return Team.objects.order_by("name", "id")


def rule_list() -> QuerySet[RoutingRule]:
    """The tenant's rules in the router's order, with their team."""
    return RoutingRule.objects.select_related("team").order_by("position", "id")


def members_of(teams: Iterable[Team]) -> dict[int, list[TeamMember]]:
    """Each team's places in order, with the person (and their partner) or partner: one query."""
    ids = [team.pk for team in teams]
    places: dict[int, list[TeamMember]] = {pk: [] for pk in ids}
    rows = (
        TeamMember.objects.filter(team_id__in=ids)
        .select_related("membership__user", "membership__partner", "partner")
        .order_by("team_id", "position", "id")
    )
    for row in rows:
        places[row.team_id].append(row)
    return places


def member_choices() -> QuerySet[Membership]:
    """Who may be put in a team: active reps, managers and admins of the tenant (no partner's
    user: a partner takes its leads as the partner)."""
    return (
        Membership.objects.filter(is_active=True, role__in=MEMBER_ROLES, partner__isnull=True)
        .select_related("user")
        .order_by("user__full_name", "user__email", "id")
    )


def partner_choices() -> QuerySet[Partner]:
    return Partner.objects.order_by("name", "id")
