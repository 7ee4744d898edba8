"""``GET /api/v1/reports/weekly/?week=YYYY-Www`` and ``GET/PUT /api/v1/reports/weekly/settings/``.

Managers and admins read every line and may narrow to one with ``owner``
(a rep's user id), ``partner`` or ``team``; a rep or a partner reads its own
line only (a narrowing to anyone else's is a 404, as is another tenant's id).
A malformed week, or one that does not exist (``2026-W60``) or has not begun,
is a 400 naming ``week``. The current week answers live figures marked
``provisional``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from leadflow.lib.query_fields import EmptyMeansNotGiven
from leadflow.tenancy.permissions import IsTenantCaller, role_required
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from reporting.weekly import rendering
from reporting.weekly.models import LineScope, WeeklyReportLine
from reporting.weekly.selectors import (
    BadWeek,
    NotVisible,
    WeekView,
    last_week,
    line_key,
    lost_by_reason,
    may_read_reports,
    parse_week,
    postponed_by_date,
    report_settings,
    week_view,
)
from reporting.weekly.services import update_report_settings

MAX_ID = 2**31 - 1


class WeeklyQuery(EmptyMeansNotGiven, serializers.Serializer):
    """A parameter given empty (``?owner=``) means the same as not given."""

    week = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    partner = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    team = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("owner", "partner", "team") if name in attrs]
        if len(given) > 1:
            raise ValidationError({given[1]: ["Give one of owner, partner and team."]})
        return attrs


class Counted(serializers.Serializer):
    count = serializers.IntegerField()
    lead_ids = serializers.ListField(child=serializers.IntegerField())


class WonFigure(Counted):
    value = serializers.CharField(help_text='The won leads\' value, to the cent ("1000.00").')


class ReasonCount(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class LostFigure(Counted):
    by_reason = ReasonCount(many=True)


class DateCount(serializers.Serializer):
    until = serializers.DateField()
    count = serializers.IntegerField()


class PostponedFigure(Counted):
    until = DateCount(many=True)


class QuarterFigure(serializers.Serializer):
    won_count = serializers.IntegerField(help_text="Won from the quarter's first day on.")
    won_value = serializers.CharField()
    target_count = serializers.IntegerField(allow_null=True)
    target_value = serializers.CharField(allow_null=True)


class LineOutput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=LineScope.choices)
    id = serializers.IntegerField(
        allow_null=True, help_text="The rep's user id, the partner's or the team's id (null: all)."
    )
    name = serializers.CharField()
    won = WonFigure()
    quarter = QuarterFigure()
    lost = LostFigure()
    postponed = PostponedFigure()
    progressed = Counted()
    touches = serializers.IntegerField()
    sla_breaches = Counted()
    missing_updates = Counted()
    changes_since = Counted(help_text="Leads whose place in a figure changed since the snapshot.")


class WeeklyReportOutput(serializers.Serializer):
    week = serializers.CharField(help_text="The ISO week, e.g. 2026-W53.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    timezone = serializers.CharField()
    provisional = serializers.BooleanField(
        help_text="true: computed now (the current week, or one never snapshotted)."
    )
    generated_at = serializers.DateTimeField(allow_null=True)
    previous = serializers.CharField()
    next = serializers.CharField(allow_null=True)
    lines = LineOutput(many=True)


def _counted(ids: list[int]) -> dict[str, Any]:
    return {"count": len(ids), "lead_ids": ids}


def line_output(view: WeekView, line: WeeklyReportLine) -> dict[str, Any]:
    """One line as the API gives it; money formatted as the CSV and the email format it."""
    shown = rendering.figures(line)
    return {
        "scope": line.scope,
        "id": line_key(line)[1],
        "name": line.name,
        "won": {**_counted(line.won_ids), "value": shown["won_value"]},
        "quarter": {
            "won_count": line.quarter_won_count,
            "won_value": shown["quarter_won_value"],
            "target_count": line.target_count,
            "target_value": shown["quarter_target_value"] or None,
        },
        "lost": {
            **_counted(line.lost_ids),
            "by_reason": [{"reason": r, "count": n} for r, n in lost_by_reason(line)],
        },
        "postponed": {
            **_counted(line.postponed_ids),
            "until": [{"until": d, "count": n} for d, n in postponed_by_date(line)],
        },
        "progressed": _counted(line.progressed_ids),
        "touches": line.touches,
        "sla_breaches": _counted(line.breach_ids),
        "missing_updates": _counted(line.missing_ids),
        "changes_since": _counted(view.changes_of(line)),
    }


def report_output(view: WeekView) -> dict[str, Any]:
    return WeeklyReportOutput(
        {
            "week": view.label,
            "starts_on": view.week,
            "ends_on": view.ends,
            "timezone": str(view.tz),
            "provisional": view.provisional,
            "generated_at": view.generated_at,
            "previous": view.previous,
            "next": view.next,
            "lines": [line_output(view, line) for line in view.lines],
        }
    ).data


def _id_parameter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        description=f"Only {what}'s line.",
    )


class WeeklyReportView(APIView):
    """The Monday report of one ISO week: per rep, partner, team and the tenant."""

    permission_classes = [IsTenantCaller]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "week",
                {"type": "string", "pattern": r"^([0-9]{4}-W[0-9]{2})?$"},
                description="YYYY-Www (default, or blank: last week). The current week is "
                "provisional; a malformed, non-existent or future week is a 400.",
            ),
            _id_parameter("owner", "this rep (user id)"),
            _id_parameter("partner", "this partner"),
            _id_parameter("team", "this team"),
        ],
        responses=WeeklyReportOutput,
    )
    def get(self, request):
        principal: Principal = request.auth
        if not may_read_reports(principal):
            raise PermissionDenied("Your role may not read the weekly report.")
        query = WeeklyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        text = (data.get("week") or "").strip()
        try:
            week = parse_week(text) if text else last_week(principal.tenant)
            scope, owner_id = _narrowing(data)
            view = week_view(principal, week, scope=scope, owner_id=owner_id)
        except BadWeek as refused:
            raise ValidationError({"week": [str(refused)]}) from None
        except NotVisible:
            raise NotFound() from None
        return Response(report_output(view))


def _narrowing(data: dict[str, Any]) -> tuple[str | None, int | None]:
    for name, scope in (("owner", LineScope.REP), ("partner", LineScope.PARTNER)):
        if name in data:
            return str(scope), data[name]
    if "team" in data:
        return str(LineScope.TEAM), data["team"]
    return None, None


class ReportSettingsOutput(serializers.Serializer):
    hour = serializers.IntegerField(
        help_text="Monday at this hour (0–23, the tenant's time zone) last week's report is made."
    )
    email_managers = serializers.BooleanField(help_text="Email the report to managers and admins.")
    email_owners = serializers.BooleanField(help_text="Email each rep and partner its own line.")


class ReportSettingsInput(StrictSerializer):
    hour = serializers.IntegerField(min_value=0, max_value=23)
    email_managers = serializers.BooleanField()
    email_owners = serializers.BooleanField()


class ReportSettingsView(APIView):
    """When the Monday report is made and who gets it (admins and managers)."""

    permission_classes = [role_required(*MANAGERS)]

    @extend_schema(responses=ReportSettingsOutput)
    def get(self, request):
        return Response(ReportSettingsOutput(report_settings()).data)

    @extend_schema(request=ReportSettingsInput, responses=ReportSettingsOutput)
    def put(self, request):
        data = ReportSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = update_report_settings(by=request.auth, **data.validated_data)
        return Response(ReportSettingsOutput(row).data)
