"""``/api/v1/targets/``: quarterly targets of reps, partners and teams (admins and managers).

``GET ?quarter=2026-Q4`` lists the quarter's targets (default: the tenant's
current quarter); ``POST`` sets one (an upsert per owner and quarter, through
the same service as the page ``/settings/targets/``); ``DELETE {id}`` removes
one. A malformed quarter is a 400 naming ``quarter``; another tenant's target
is a 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import Partner, User
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MANAGERS
from leads.models import Target, Team
from leads.selectors.targets import current_quarter, parse_quarter, targets_of
from leads.services.targets import MAX_COUNT, delete_target, set_target


class TargetOutput(serializers.ModelSerializer):
    quarter = serializers.SerializerMethodField(help_text="The quarter, e.g. 2026-Q4.")
    owner_name = serializers.SerializerMethodField(help_text="The rep's, partner's or team's name.")
    value = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)

    class Meta:
        model = Target
        fields = ["id", "quarter", "rep", "partner", "team", "owner_name", "value", "count"]
        fields += ["updated_at"]

    def get_quarter(self, target: Target) -> str:
        return f"{target.year}-Q{target.quarter}"

    def get_owner_name(self, target: Target) -> str:
        if target.rep is not None:
            return target.rep.display_name
        if target.partner is not None:
            return target.partner.name
        return target.team.name if target.team is not None else ""


class TargetInput(StrictSerializer):
    """Exactly one of ``rep``, ``partner``, ``team``; at least one of ``value`` and ``count``."""

    quarter = serializers.CharField(help_text="YYYY-Qn, from last year to two years ahead.")
    rep = serializers.IntegerField(required=False, min_value=1, help_text="A selling member's id.")
    partner = serializers.IntegerField(required=False, min_value=1)
    team = serializers.IntegerField(required=False, min_value=1)
    value = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Won value to reach, in the tenant's currency; 0 to 999,999,999,999.99.",
    )
    count = serializers.IntegerField(
        required=False, allow_null=True, help_text=f"Won leads to reach, 0 to {MAX_COUNT:,}."
    )


def _one(model, pk: int | None, field: str):
    """The current tenant's row (users: any; ``check_rep`` decides), or a 400 on ``field``."""
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise RuleViolation(field=field, code="not_found", message=f"No such {field}.")
    return found


QUARTER_PARAMETER = OpenApiParameter(
    "quarter",
    OpenApiTypes.STR,
    description="YYYY-Qn (default, or blank: the current quarter); anything else is a 400.",
    pattern=r"^([0-9]{4}-[Qq][1-4])?$",
)


class TargetViewSet(mixins.ListModelMixin, TenantViewSet):
    """Quarterly targets (value and count) that reports compare won leads against."""

    permission_classes = [role_required(*MANAGERS)]
    serializer_class = TargetOutput
    model = Target

    def scoped_queryset(self):
        if self.action != "list":
            return Target.objects.all()
        # Blank is "not given" (the current quarter), as a form's empty field sends it.
        text = (self.request.query_params.get("quarter") or "").strip()
        tz = times.zone(self.principal.tenant.timezone)
        quarter = parse_quarter(text) if text else current_quarter(tz)
        return targets_of(quarter)

    @extend_schema(parameters=[QUARTER_PARAMETER])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=TargetInput, responses=TargetOutput)
    def create(self, request):
        data = TargetInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        quarter = parse_quarter(fields["quarter"])
        target = set_target(
            year=quarter.year,
            quarter=quarter.number,
            rep=_one(User, fields.get("rep"), "rep"),
            partner=_one(Partner, fields.get("partner"), "partner"),
            team=_one(Team, fields.get("team"), "team"),
            value=fields.get("value"),
            count=fields.get("count"),
            by=self.principal,
        )
        return Response(TargetOutput(target).data, status=status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk=None):
        delete_target(target=self.get_object(), by=self.principal)
        return Response(status=status.HTTP_204_NO_CONTENT)
