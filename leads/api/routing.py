"""``/api/v1/teams/`` and ``/api/v1/routing-rules/``: the router's teams and territory rules.

Admins and managers read and change them (others, partners included, 403); another
tenant's id is a 404. Writes go through ``leads.services.teams``, the same as the
pages under ``/settings/routing/``: a refused value is a 400 naming its field and
nothing changes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from inquiries.services.validation import clean_country
from leadflow.lib.company_size import COMPANY_SIZE_MAX
from leadflow.lib.query_fields import ID_MAX
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import TIER_WEIGHTS, Membership, Partner
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MANAGERS
from leads.models import RoutingRule, Team, TeamMember
from leads.routing import LeadFacts
from leads.selectors import teams as team_reads
from leads.selectors.routing import preview_route
from leads.services import teams as service

# --- teams ---------------------------------------------------------------------------


class TeamPlaceOutput(serializers.Serializer):
    member = serializers.IntegerField(
        source="membership_id", allow_null=True, help_text="The membership id (a person)."
    )
    partner = serializers.IntegerField(source="partner_id", allow_null=True)
    name = serializers.SerializerMethodField(help_text="The person's or partner's name.")
    weight = serializers.IntegerField(
        allow_null=True,
        help_text="Turns per round as set; null: 1 for a person, the tier's for a partner.",
    )
    effective_weight = serializers.SerializerMethodField(help_text="The weight the router uses.")

    def get_name(self, place: TeamMember) -> str:
        if place.membership is not None:
            return place.membership.user.display_name
        assert place.partner is not None
        return place.partner.name

    def get_effective_weight(self, place: TeamMember) -> int:
        if place.weight is not None:
            return place.weight
        if place.partner is not None:
            return TIER_WEIGHTS[place.partner.tier]
        return 1


class TeamOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    members = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(TeamPlaceOutput(many=True))
    def get_members(self, team: Team) -> list[dict[str, Any]]:
        places = self.context["places"].get(team.pk, [])
        return TeamPlaceOutput(places, many=True).data


class TeamPlaceInput(StrictSerializer):
    member = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=ID_MAX,
        help_text="A membership id (rep, manager or admin).",
    )
    partner = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=ID_MAX, help_text="A partner id."
    )
    weight = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-ID_MAX,
        max_value=ID_MAX,
        help_text="1 to 10; null or left out: the default.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if (attrs.get("member") is None) == (attrs.get("partner") is None):
            raise serializers.ValidationError("Give either `member` or `partner`.")
        return attrs


class TeamInput(StrictSerializer):
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="1 to 100 characters, unique in the tenant ignoring case.",
    )
    members = TeamPlaceInput(
        many=True,
        required=False,
        help_text="The whole list, in order (their turns' order); replaces the current one.",
    )


TEAM_EXAMPLE = {
    "id": 3,
    "name": "DACH",
    "members": [
        {"member": 14, "partner": None, "name": "Riley Chen", "weight": 2, "effective_weight": 2},
        {
            "member": None,
            "partner": 5,
            "name": "Northwind Dealers",
            "weight": None,
            "effective_weight": 3,
        },
    ],
    "created_at": "2026-12-07T08:00:00Z",
}


def _members(places: list[dict[str, Any]]) -> list[tuple[Membership | Partner, int | None]]:
    """The input's ids as the tenant's rows (an unknown id is a 400 on ``members``)."""
    member_ids = [p["member"] for p in places if p.get("member") is not None]
    partner_ids = [p["partner"] for p in places if p.get("partner") is not None]
    people = Membership.objects.select_related("user").in_bulk(member_ids)
    partners = Partner.objects.in_bulk(partner_ids)
    chosen: list[tuple[Membership | Partner, int | None]] = []
    for place in places:
        if place.get("member") is not None:
            who: Membership | Partner | None = people.get(place["member"])
            missing = f"No member {place['member']} in this tenant."
        else:
            who = partners.get(place["partner"])
            missing = f"No partner {place['partner']} in this tenant."
        if who is None:
            raise ValidationError({"members": [missing]})
        chosen.append((who, place.get("weight")))
    return chosen


class TeamViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """The router's teams: people and partners who share leads by weighted round robin."""

    model = Team
    serializer_class = TeamOutput
    permission_classes = [role_required(*MANAGERS)]
    filter_backends: list = []

    def scoped_queryset(self):
        return team_reads.team_list()

    def _out(self, teams: list[Team]) -> Any:
        places = team_reads.members_of(teams)
        return TeamOutput(teams, many=True, context={"places": places}).data

    @extend_schema(
        responses=TeamOutput(many=True),
        examples=[OpenApiExample("A team", response_only=True, value=TEAM_EXAMPLE)],
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._out(list(page)))

    @extend_schema(responses=TeamOutput)
    def retrieve(self, request, pk=None):
        return Response(self._out([self.get_object()])[0])

    @extend_schema(
        request=TeamInput,
        responses={201: TeamOutput},
        examples=[
            OpenApiExample(
                "A rep with two turns and a partner at its tier's weight",
                request_only=True,
                value={
                    "name": "DACH",
                    "members": [{"member": 14, "weight": 2}, {"partner": 5, "weight": None}],
                },
            )
        ],
    )
    def create(self, request):
        data = TeamInput(data=request.data)
        data.is_valid(raise_exception=True)
        if "name" not in data.validated_data:
            raise ValidationError({"name": ["This field is required."]})
        members = _members(data.validated_data.get("members", []))
        team = service.save_team(
            team=None, name=data.validated_data["name"], members=members, by=self.principal
        )
        return Response(self._out([team])[0], status=status.HTTP_201_CREATED)

    @extend_schema(request=TeamInput, responses=TeamOutput)
    def partial_update(self, request, pk=None):
        team = self.get_object()
        data = TeamInput(data=request.data)
        data.is_valid(raise_exception=True)
        places = data.validated_data.get("members")
        team = service.save_team(
            team=team,
            name=data.validated_data.get("name", team.name),
            members=None if places is None else _members(places),
            by=self.principal,
        )
        return Response(self._out([team])[0])

    def destroy(self, request, pk=None):
        service.delete_team(team=self.get_object(), by=self.principal)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- rules ---------------------------------------------------------------------------


class RuleOutput(serializers.ModelSerializer):
    team = serializers.IntegerField(source="team_id")
    team_name = serializers.CharField(source="team.name")

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "position",
            "name",
            "team",
            "team_name",
            "countries",
            "regions",
            "industries",
            "size_min",
            "size_max",
            "is_active",
            "created_at",
            "updated_at",
        ]


class RuleInput(StrictSerializer):
    name = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="1 to 100 characters."
    )
    team = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="The team's id."
    )
    countries = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="ISO 3166-1 alpha-2 codes, at most 50; empty: any country.",
    )
    regions = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="At most 50, compared ignoring case; empty: any region.",
    )
    industries = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="At most 50, compared ignoring case; empty: any industry.",
    )
    size_min = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-ID_MAX,
        max_value=ID_MAX,
        help_text=f"Employees, 0 to {COMPANY_SIZE_MAX:,}, inclusive; null: no lower bound.",
    )
    size_max = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-ID_MAX,
        max_value=ID_MAX,
        help_text=f"Employees, 0 to {COMPANY_SIZE_MAX:,}, inclusive; null: no upper bound.",
    )
    is_active = serializers.BooleanField(required=False)


class MoveInput(StrictSerializer):
    direction = serializers.ChoiceField(choices=["up", "down"])


RULE_EXAMPLE = {
    "id": 8,
    "position": 1,
    "name": "DACH machinery",
    "team": 3,
    "team_name": "DACH",
    "countries": ["DE", "AT", "CH"],
    "regions": [],
    "industries": ["Machinery"],
    "size_min": 50,
    "size_max": None,
    "is_active": True,
    "created_at": "2026-12-07T08:00:00Z",
    "updated_at": "2026-12-07T08:00:00Z",
}


def _rule_values(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    if "team" in values:
        team = Team.objects.filter(pk=values["team"]).first()
        if team is None:
            raise ValidationError({"team": [f"No team {values['team']} in this tenant."]})
        values["team"] = team
    return values


class RoutingRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    """Territory rules in the router's order (``position`` 1..n; the first match wins)."""

    model = RoutingRule
    serializer_class = RuleOutput
    permission_classes = [role_required(*MANAGERS)]
    filter_backends: list = []

    def scoped_queryset(self):
        return team_reads.rule_list()

    @extend_schema(
        responses=RuleOutput(many=True),
        examples=[OpenApiExample("A rule", response_only=True, value=RULE_EXAMPLE)],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=RuleInput,
        responses={201: RuleOutput},
        examples=[
            OpenApiExample(
                "Machinery makers of 50 people or more in DACH",
                request_only=True,
                value={
                    "name": "DACH machinery",
                    "team": 3,
                    "countries": ["DE", "AT", "CH"],
                    "industries": ["Machinery"],
                    "size_min": 50,
                },
            )
        ],
    )
    def create(self, request):
        data = RuleInput(data=request.data)
        data.is_valid(raise_exception=True)
        missing = [name for name in ("name", "team") if name not in data.validated_data]
        if missing:
            raise ValidationError({name: ["This field is required."] for name in missing})
        rule = service.create_rule(**_rule_values(data.validated_data), by=self.principal)
        return Response(RuleOutput(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RuleInput, responses=RuleOutput)
    def partial_update(self, request, pk=None):
        rule = self.get_object()
        data = RuleInput(data=request.data)
        data.is_valid(raise_exception=True)
        rule = service.update_rule(
            rule=rule, **_rule_values(data.validated_data), by=self.principal
        )
        return Response(RuleOutput(rule).data)

    def destroy(self, request, pk=None):
        service.delete_rule(rule=self.get_object(), by=self.principal)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=MoveInput,
        responses=RuleOutput(many=True),
        description="Swap the rule with the one before (`up`) or after it (`down`); "
        "answers the rules in their new order.",
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        rule = self.get_object()
        data = MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        service.move_rule(rule=rule, direction=data.validated_data["direction"], by=self.principal)
        return Response(RuleOutput(team_reads.rule_list(), many=True).data)


# --- the tester ----------------------------------------------------------------------


class PreviewInput(StrictSerializer):
    country = serializers.CharField(
        required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2; blank: not known."
    )
    region = serializers.CharField(required=False, allow_blank=True, max_length=100)
    industry = serializers.CharField(required=False, allow_blank=True, max_length=100)
    company_size = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=COMPANY_SIZE_MAX
    )
    starts_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="The appointment's start (30 minutes); owners booked then are skipped.",
    )

    def validate_country(self, value: str) -> str:
        if not value.strip():
            return ""
        try:
            return clean_country(value)
        except ValueError as refused:
            raise serializers.ValidationError(str(refused)) from None


class PreviewSkip(serializers.Serializer):
    owner = serializers.CharField()
    reason = serializers.CharField(help_text="deactivated, suspended, on_leave, at_capacity, …")


class PreviewOutput(serializers.Serializer):
    rule = serializers.CharField(help_text="The matching rule's name; blank: none matched.")
    team = serializers.IntegerField(allow_null=True, help_text="null: round robin over all reps.")
    team_name = serializers.CharField()
    rep = serializers.IntegerField(allow_null=True, help_text="The owner's user id.")
    partner = serializers.IntegerField(allow_null=True)
    owner_name = serializers.CharField(help_text="Blank when nobody is eligible.")
    turn = serializers.IntegerField(allow_null=True, help_text="The owner's place in the team.")
    skips = PreviewSkip(many=True)
    reason = serializers.CharField(help_text="The decision in one sentence.")


class RoutingPreviewView(APIView):
    """Which owner would get a lead with these facts now, and why. Assigns nothing."""

    permission_classes = [role_required(*MANAGERS)]

    @extend_schema(
        request=PreviewInput,
        responses=PreviewOutput,
        examples=[
            OpenApiExample(
                "A German lead",
                request_only=True,
                value={"country": "DE", "industry": "Machinery", "company_size": 120},
            ),
            OpenApiExample(
                "The decision",
                response_only=True,
                value={
                    "rule": "DACH machinery",
                    "team": 3,
                    "team_name": "DACH",
                    "rep": 31,
                    "partner": None,
                    "owner_name": "Riley Chen",
                    "turn": 1,
                    "skips": [{"owner": "Jonas Weber", "reason": "on_leave"}],
                    "reason": "Rule “DACH machinery” → team DACH → Riley Chen "
                    "(turn 1; skipped: Jonas Weber on leave)",
                },
            ),
        ],
    )
    def post(self, request):
        data = PreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        decision = preview_route(
            facts=LeadFacts(
                country=values.get("country", ""),
                region=values.get("region", "").strip(),
                industry=values.get("industry", "").strip(),
                company_size=values.get("company_size"),
            ),
            starts_at=values.get("starts_at"),
            duration_minutes=30,
        )
        return Response(
            PreviewOutput(
                {
                    "rule": decision.rule,
                    "team": decision.team.pk if decision.team else None,
                    "team_name": decision.team_name,
                    "rep": decision.rep.pk if decision.rep else None,
                    "partner": decision.partner.pk if decision.partner else None,
                    "owner_name": decision.owner_name,
                    "turn": decision.turn,
                    "skips": decision.skips_record(),
                    "reason": decision.reason,
                }
            ).data
        )
