"""The dashboards' query string, validated strictly, turned into a :class:`Scope`.

``from``/``to`` are days in the tenant's time zone (default: the last 90
days to today); ``source``, ``campaign`` and ``partner`` narrow the figures;
``include_history`` adds imported history (funnel and ROI only). An empty
value is "not given" (``leadflow.lib.query_fields.EmptyMeansNotGiven``). A rep
sees only their own figures, a partner only its own: their scope is pinned
whatever they ask.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import exceptions, serializers

from inquiries.models import Campaign, Source
from leadflow.lib import times
from leadflow.lib.query_fields import EmptyMeansNotGiven, without_empty
from leadflow.tenancy.models import Membership, Partner, Role
from leadflow.tenancy.principal import Principal
from nurture.models import NurtureProgram
from reporting.dashboards.selectors import METRICS, Scope

ID_MAX = 2**31 - 1
WHOLE = re.compile(r"[0-9]+")
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


class IdField(serializers.IntegerField):
    """A row id: digits only (not ``1.0`` nor `` 1``), from 1 to 2³¹−1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if not (isinstance(data, int) or (isinstance(data, str) and WHOLE.fullmatch(data))):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class ReportQuery(EmptyMeansNotGiven, serializers.Serializer):
    """Query parameters shared by every dashboard."""

    locals()["from"] = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="First day (YYYY-MM-DD, tenant's time zone); default: 89 days before `to`.",
    )
    to = serializers.DateField(
        required=False, allow_null=True, help_text="Last day, included; default: today."
    )
    source = serializers.ChoiceField(
        choices=Source.choices, required=False, help_text="Only inquiries from this source."
    )
    campaign = IdField(required=False, help_text="A campaign's id.")
    partner = IdField(required=False, help_text="A partner's id.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("from"), attrs.get("to")
        for name, day in (("from", first), ("to", last)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise serializers.ValidationError({name: ["Give a day from 2000 to 2100."]})
        if first is not None and last is not None:
            if first > last:
                raise serializers.ValidationError({"from": ["Give a day on or before `to`."]})
            if (last - first).days >= MAX_DAYS:
                raise serializers.ValidationError({"from": ["Give at most three years."]})
        # Another tenant's row is the same 404 as a missing one (existence does not leak).
        if attrs.get("campaign") and not Campaign.objects.filter(pk=attrs["campaign"]).exists():
            raise exceptions.NotFound("No such campaign.")
        if attrs.get("partner") and not Partner.objects.filter(pk=attrs["partner"]).exists():
            raise exceptions.NotFound("No such partner.")
        return attrs


class HistoryQuery(ReportQuery):
    include_history = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Count won outcomes known only from imported history (funnel and ROI).",
    )


def _program_exists(attrs: dict[str, Any]) -> None:
    # Another tenant's program is the same 404 as a missing one.
    if attrs.get("program") and not NurtureProgram.objects.filter(pk=attrs["program"]).exists():
        raise exceptions.NotFound("No such program.")


class ProgramQuery(ReportQuery):
    """The per-program nurture breakdown's query: the shared one, and one program."""

    program = IdField(required=False, help_text="A nurture program's id (default: every one).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        _program_exists(attrs)
        return attrs


class RowsQuery(HistoryQuery):
    metric = serializers.ChoiceField(choices=METRICS, help_text="The figure whose rows to list.")
    rep = IdField(required=False, help_text="An owner's (user's) id.")
    program = IdField(
        required=False, help_text="A nurture program's id (required by nurture.program.*)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["metric"].startswith("nurture.program.") and not attrs.get("program"):
            raise serializers.ValidationError({"program": ["Give the program of this figure."]})
        _program_exists(attrs)
        if attrs.get("include_history") and attrs["metric"].startswith("accountability."):
            raise serializers.ValidationError(
                {"include_history": ["Imported history never counts in accountability."]}
            )
        if attrs.get("rep") and not Membership.objects.filter(user_id=attrs["rep"]).exists():
            raise exceptions.NotFound("No such member.")
        return attrs


def cleaned(data: Any) -> dict[str, Any]:
    """The query string with empty values dropped (an empty field is "not given"): the
    pages keep it in their links."""
    return without_empty(data)


def scope_of(principal: Principal, fields: dict[str, Any]) -> Scope:
    """The validated query as a scope, pinned to the caller's own figures where it must be."""
    tenant = principal.tenant
    tz = times.zone(tenant.timezone)
    today = timezone.now().astimezone(tz).date()
    last = fields.get("to") or today
    first = fields.get("from") or (last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        first = last
    rep_id = fields.get("rep")
    partner_id = fields.get("partner")
    if principal.is_partner and principal.partner is not None:
        partner_id = principal.partner.pk
    elif principal.role == Role.REP and principal.user is not None:
        rep_id = principal.user.pk
    return Scope(
        tenant=tenant,
        tz=tz,
        first=first,
        last=last,
        source=fields.get("source") or None,
        campaign_id=fields.get("campaign"),
        partner_id=partner_id,
        rep_id=rep_id,
        include_history=bool(fields.get("include_history")),
        program_id=fields.get("program"),
    )
