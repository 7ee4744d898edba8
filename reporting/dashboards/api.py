"""``/api/v1/reports/…``: the manager dashboards and the rows behind every figure.

``GET funnel/``, ``roi/``, ``accountability/``, ``nurture/`` answer the
figures of the period (``from``/``to``, tenant's time zone) for the filters
given; ``GET rows/?metric=…`` lists, paginated, the inquiries or leads a
figure counts (its ``count`` equals the figure). Every member and partner may
read them; a rep or a partner gets only their own figures. A malformed
parameter is a 400 naming it; another tenant's campaign, partner or rep is a
404. Figures come from the rollups (refreshed every minute by the beat job);
rows from the base tables.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leadflow.lib.pagination import PageNumberPagination
from leadflow.tenancy.permissions import IsTenantCaller
from reporting.dashboards import query, selectors

MONEY = {"max_digits": 16, "decimal_places": 2}
RATE = {"max_digits": 8, "decimal_places": 4, "allow_null": True}


class FunnelStepOutput(serializers.Serializer):
    key = serializers.CharField(help_text="The figure's metric is `funnel.<key>`.")
    label = serializers.CharField()
    count = serializers.IntegerField()
    rate_from_previous = serializers.DecimalField(**RATE, help_text="count ÷ previous step's.")
    rate_from_inquiry = serializers.DecimalField(**RATE, help_text="count ÷ inquiries.")
    median_days = serializers.DecimalField(
        max_digits=8,
        decimal_places=1,
        allow_null=True,
        help_text="Median whole days spent in this stage (completed stays); null: none yet.",
    )


class FunnelOutput(serializers.Serializer):
    steps = FunnelStepOutput(many=True)
    value_won = serializers.DecimalField(**MONEY)
    history_won = serializers.IntegerField(help_text="Won known only from imported history.")
    include_history = serializers.BooleanField()


class CampaignRoiOutput(serializers.Serializer):
    campaign_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    spend = serializers.DecimalField(**MONEY)
    inquiries = serializers.IntegerField()
    mqls = serializers.IntegerField()
    leads = serializers.IntegerField()
    won = serializers.IntegerField()
    value_won = serializers.DecimalField(**MONEY)
    leads_per_1000 = serializers.DecimalField(
        max_digits=16, decimal_places=2, allow_null=True, help_text="Marketing: leads ÷ spend."
    )
    cost_per_inquiry = serializers.DecimalField(**MONEY, allow_null=True)
    cost_per_mql = serializers.DecimalField(**MONEY, allow_null=True)
    cost_per_lead = serializers.DecimalField(**MONEY, allow_null=True)
    cost_per_win = serializers.DecimalField(**MONEY, allow_null=True)
    win_rate = serializers.DecimalField(**RATE, help_text="Sales: won ÷ leads.")


class RoiOutput(serializers.Serializer):
    campaigns = CampaignRoiOutput(many=True)
    total = CampaignRoiOutput()
    target_value = serializers.DecimalField(**MONEY, allow_null=True)
    value_to_target = serializers.DecimalField(**RATE, help_text="Sales: value won ÷ target.")
    include_history = serializers.BooleanField()


class OwnerOutput(serializers.Serializer):
    rep_id = serializers.IntegerField(allow_null=True)
    partner_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    open = serializers.IntegerField()
    missing = serializers.IntegerField(help_text="Open leads without this week's update.")
    breached = serializers.IntegerField(help_text="Acceptance windows breached in the period.")
    stale = serializers.IntegerField(help_text="Open leads untouched for `stale_days`.")
    unworked = serializers.IntegerField(help_text="Open leads with no touch at all.")
    money_at_risk = serializers.DecimalField(**MONEY, help_text="unworked × cost per lead.")


class BucketOutput(serializers.Serializer):
    touches = serializers.CharField(help_text="0–7, 8-12 or 13+.")
    leads = serializers.IntegerField()


class ComplianceOutput(serializers.Serializer):
    partner_id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "warned", "suspended"])
    open = serializers.IntegerField()
    missing = serializers.IntegerField()


class AccountabilityOutput(serializers.Serializer):
    owners = OwnerOutput(many=True)
    total = OwnerOutput()
    histogram = BucketOutput(many=True)
    touch_cliff = serializers.IntegerField()
    touch_minimum = serializers.IntegerField()
    cost_per_lead = serializers.DecimalField(**MONEY)
    partners = ComplianceOutput(many=True)
    stale_days = serializers.IntegerField()


class NurtureMonthOutput(serializers.Serializer):
    month = serializers.DateField()
    nurtured = serializers.IntegerField()
    nurtured_won = serializers.IntegerField()
    never = serializers.IntegerField()
    never_won = serializers.IntegerField()
    nurtured_rate = serializers.DecimalField(**RATE)
    never_rate = serializers.DecimalField(**RATE)


class NurtureOutput(serializers.Serializer):
    months = NurtureMonthOutput(many=True)
    total = NurtureMonthOutput()
    nurtured_benchmark = serializers.ListField(
        child=serializers.DecimalField(max_digits=4, decimal_places=2),
        help_text="The articles' 15–20% for nurtured not-ready leads.",
    )
    never_benchmark = serializers.ListField(
        child=serializers.DecimalField(max_digits=4, decimal_places=2),
        help_text="The articles' 8–10% without nurture.",
    )


class ProgramFunnelOutput(serializers.Serializer):
    program_id = serializers.IntegerField()
    name = serializers.CharField()
    long_term = serializers.BooleanField()
    paused = serializers.BooleanField()
    enrolled = serializers.IntegerField(help_text="People enrolled in the period.")
    engaged = serializers.IntegerField(help_text="Of them, engaged while enrolled (or beyond).")
    mqls = serializers.IntegerField(help_text="Of them, became an MQL after enrolling.")
    leads = serializers.IntegerField(help_text="Of them, became a lead after enrolling.")
    won = serializers.IntegerField(help_text="Of them, with such a lead won.")
    rates = serializers.DictField(
        child=serializers.DecimalField(**RATE), help_text="Each step ÷ enrolled."
    )


class ProgramsOutput(serializers.Serializer):
    programs = ProgramFunnelOutput(many=True)


class RowOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["inquiry", "lead"])
    id = serializers.IntegerField()
    inquiry_id = serializers.IntegerField()
    name = serializers.CharField()
    company = serializers.CharField()
    stage = serializers.CharField()
    created_at = serializers.DateTimeField()
    touches = serializers.IntegerField(allow_null=True)


def _validated(request: Request, serializer: type[serializers.Serializer]) -> dict[str, Any]:
    data = serializer(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class _Report(APIView):
    permission_classes = [IsTenantCaller]
    query_class: type[serializers.Serializer] = query.ReportQuery

    def scope(self, request: Request) -> selectors.Scope:
        return query.scope_of(request.auth, _validated(request, self.query_class))


class FunnelView(_Report):
    """Inquiry → MQL → lead → SAL → SQL → won, conversion rates and median days in stage."""

    query_class = query.HistoryQuery

    @extend_schema(parameters=[query.HistoryQuery], responses=FunnelOutput)
    def get(self, request: Request) -> Response:
        return Response(FunnelOutput(selectors.funnel(self.scope(request))).data)


class RoiView(_Report):
    """Marketing's (leads ÷ spend, cost per step) and sales' (won ÷ leads, value ÷ target)."""

    query_class = query.HistoryQuery

    @extend_schema(parameters=[query.HistoryQuery], responses=RoiOutput)
    def get(self, request: Request) -> Response:
        return Response(RoiOutput(selectors.roi(self.scope(request))).data)


class AccountabilityView(_Report):
    """Per rep and partner: open, missing updates, breaches, stale, money at risk; compliance."""

    @extend_schema(parameters=[query.ReportQuery], responses=AccountabilityOutput)
    def get(self, request: Request) -> Response:
        return Response(AccountabilityOutput(selectors.accountability(self.scope(request))).data)


class NurtureView(_Report):
    """Won ÷ inquiries, nurtured versus never nurtured, by month, beside the articles' rates."""

    @extend_schema(parameters=[query.ReportQuery], responses=NurtureOutput)
    def get(self, request: Request) -> Response:
        return Response(NurtureOutput(selectors.nurture_effect(self.scope(request))).data)


class NurtureProgramsView(_Report):
    """Per nurture program: enrolled → engaged → MQL → lead → won, of those enrolled in the
    period."""

    query_class = query.ProgramQuery

    @extend_schema(parameters=[query.ProgramQuery], responses=ProgramsOutput)
    def get(self, request: Request) -> Response:
        programs = selectors.nurture_programs(self.scope(request))
        return Response(ProgramsOutput({"programs": programs}).data)


def row_of(record: Any, kind: str) -> dict[str, Any]:
    if kind == "inquiry":
        return {
            "kind": kind,
            "id": record.pk,
            "inquiry_id": record.pk,
            "name": f"{record.first_name} {record.last_name}".strip() or record.email,
            "company": record.company,
            "stage": record.stage,
            "created_at": record.created_at,
            "touches": None,
        }
    profile = record.profile or {}
    name = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
    return {
        "kind": kind,
        "id": record.pk,
        "inquiry_id": record.inquiry_id,
        "name": name or profile.get("email", "") or f"Lead {record.pk}",
        "company": profile.get("company", ""),
        "stage": record.stage,
        "created_at": record.created_at,
        "touches": record.touches,
    }


def rows_of(metric: str, scope: selectors.Scope) -> tuple[str, Any]:
    """The queryset behind ``metric`` (newest first) and the kind of its rows."""
    if metric in selectors.INQUIRY_METRICS | selectors.PROGRAM_METRICS:
        return "inquiry", selectors.inquiry_rows(metric, scope).order_by("-created_at", "-id")
    return "lead", selectors.lead_rows(metric, scope).order_by("-created_at", "-id")


class RowsView(_Report):
    """The rows behind one figure, paginated: its `count` equals the figure."""

    query_class = query.RowsQuery
    pagination_class = PageNumberPagination

    @extend_schema(parameters=[query.RowsQuery], responses=RowOutput(many=True))
    def get(self, request: Request) -> Response:
        fields = _validated(request, query.RowsQuery)
        scope = query.scope_of(request.auth, fields)
        kind, found = rows_of(fields["metric"], scope)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(
            RowOutput([row_of(r, kind) for r in page or []], many=True).data
        )
