"""``/api/v1/leads/{id}/touches/`` and ``/updates/``: the owner's contacts and weekly report.

A mixin of ``LeadViewSet`` (``leads/api/leads.py``): the lead is looked up in
what the caller may see, so another rep's lead or another tenant's is a 404;
a caller who sees the lead but does not own it (a marketer) gets 403 from the
service. Partner keys and users post on their partner's leads. Every POST
honours ``Idempotency-Key`` (the middleware replays the same 201 body).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from inquiries.models import Inquiry
from leads.models import Touch, TouchKind, TouchOutcome, UpdateStatus, WeeklyUpdate
from leads.services.closing import MAX_VALUE
from leads.services.touches import MAX_NOTE_LENGTH, log_touch
from leads.services.updates import record_weekly_update


class TouchInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=TouchKind.choices)
    outcome = serializers.ChoiceField(choices=TouchOutcome.choices)
    note = serializers.CharField(
        max_length=MAX_NOTE_LENGTH, required=False, allow_blank=True, default=""
    )
    at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it happened (default now); not in the future, not before the inquiry.",
    )


class TouchOutput(serializers.ModelSerializer):
    user = serializers.EmailField(source="user.email", allow_null=True, default=None)
    partner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    lead = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    inquiry = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Touch
        fields = ["id", "lead", "inquiry", "kind", "outcome", "note", "at", "user", "partner"]


class UpdateInput(StrictSerializer):
    status = serializers.ChoiceField(choices=UpdateStatus.choices)
    note = serializers.CharField(
        max_length=MAX_NOTE_LENGTH, required=False, allow_blank=True, default=""
    )
    value = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        max_value=MAX_VALUE,
        required=False,
        allow_null=True,
        default=None,
        help_text="The deal's value (status won).",
    )
    closed_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Won: the day (default today)."
    )
    lost_reason = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text='Lost: one of the tenant\'s reasons ("buyer declined" below the touch minimum).',
    )
    postponed_until = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Postponed: a future date."
    )
    week = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="The week reported on: 2026-W53 or its Monday (default this week; "
        "a past week is marked late).",
    )
    touch = TouchInput(required=False, allow_null=True, default=None)


class UpdateOutput(serializers.ModelSerializer):
    user = serializers.EmailField(source="user.email", allow_null=True, default=None)
    partner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    lead = serializers.PrimaryKeyRelatedField(read_only=True)
    touch = TouchOutput(allow_null=True)
    lead_stage = serializers.CharField(source="lead.stage", read_only=True)

    class Meta:
        model = WeeklyUpdate
        fields = [
            "id",
            "lead",
            "week",
            "status",
            "note",
            "touch",
            "late",
            "user",
            "partner",
            "created_at",
            "lead_stage",
        ]


TOUCH_EXAMPLE = OpenApiExample(
    "A call that reached the buyer",
    value={"kind": "call", "outcome": "reached", "note": "Wants a demo next week."},
    request_only=True,
)
TOUCH_RESPONSE_EXAMPLE = OpenApiExample(
    "The touch",
    value={
        "id": 41,
        "lead": 7,
        "inquiry": 12,
        "kind": "call",
        "outcome": "reached",
        "note": "Wants a demo next week.",
        "at": "2026-12-29T10:15:00+01:00",
        "user": "riley@acme.example",
        "partner": None,
    },
    response_only=True,
    status_codes=["201"],
)
UPDATE_EXAMPLES = [
    OpenApiExample(
        "Progress with a touch",
        value={
            "status": "progress",
            "note": "Demo booked for Tuesday.",
            "touch": {"kind": "email", "outcome": "replied"},
        },
        request_only=True,
    ),
    OpenApiExample(
        "Won", value={"status": "won", "value": "12500.00", "note": "Signed."}, request_only=True
    ),
    OpenApiExample(
        "Lost", value={"status": "lost", "lost_reason": "chose a competitor"}, request_only=True
    ),
    OpenApiExample(
        "Postponed",
        value={"status": "postponed", "postponed_until": "2027-03-01", "note": "Budget in Q2."},
        request_only=True,
    ),
    OpenApiExample(
        "A late update for a past week",
        value={"status": "progress", "note": "Left two messages.", "week": "2026-W52"},
        request_only=True,
    ),
    OpenApiExample(
        "The update",
        value={
            "id": 90,
            "lead": 7,
            "week": "2026-12-28",
            "status": "won",
            "note": "Signed.",
            "touch": None,
            "late": False,
            "user": "riley@acme.example",
            "partner": None,
            "created_at": "2026-12-30T16:02:11+01:00",
            "lead_stage": "won",
        },
        response_only=True,
        status_codes=["201"],
    ),
]


class LeadTouchesMixin:
    """The ``touches`` and ``updates`` actions of a lead (mixed into ``LeadViewSet``)."""

    get_object: Any
    principal: Any
    paginate_queryset: Any
    get_paginated_response: Any

    @extend_schema(
        methods=["GET"],
        request=None,
        responses=TouchOutput(many=True),
        summary="The lead's touches, newest first",
    )
    @extend_schema(
        methods=["POST"],
        request=TouchInput,
        responses={201: TouchOutput},
        examples=[TOUCH_EXAMPLE, TOUCH_RESPONSE_EXAMPLE],
        summary="Log a touch (call, email, meeting, other) on the lead",
        description="The lead's owner (rep or partner) or a manager. `at` defaults to now; "
        "not in the future, not before the inquiry. 403 for a caller who sees but does not "
        "own the lead.",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def touches(self, request: Request, pk: str | None = None) -> Response:
        lead = self.get_object()
        if request.method == "GET":
            rows = Touch.objects.filter(lead_id=lead.pk).select_related("user", "lead", "inquiry")
            page = self.paginate_queryset(rows.order_by("-at", "-id"))
            return self.get_paginated_response(TouchOutput(page, many=True).data)
        data = TouchInput(data=request.data)
        data.is_valid(raise_exception=True)
        touch = log_touch(
            inquiry=Inquiry.objects.get(pk=lead.inquiry_id),
            lead=lead,
            by=self.principal,
            **data.validated_data,
        )
        return Response(TouchOutput(touch).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses=UpdateOutput(many=True),
        summary="The lead's weekly updates, newest week first",
    )
    @extend_schema(
        methods=["POST"],
        request=UpdateInput,
        responses={201: UpdateOutput},
        examples=UPDATE_EXAMPLES,
        summary="Report on the lead for a week: progress, won, lost or postponed",
        description="Accepted or SQL leads only (awaiting: 400 accept it first; closed: 409). "
        "Progress needs a note or a touch. Won needs `value`, lost a `lost_reason`, "
        "postponed a future `postponed_until`. `week` defaults to the current week in the "
        "tenant's time zone; a past week is marked `late`, a future one is refused.",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def updates(self, request: Request, pk: str | None = None) -> Response:
        lead = self.get_object()
        if request.method == "GET":
            rows = WeeklyUpdate.objects.filter(lead_id=lead.pk).select_related(
                "user", "lead", "touch__user"
            )
            page = self.paginate_queryset(rows.order_by("-week", "-created_at", "-id"))
            return self.get_paginated_response(UpdateOutput(page, many=True).data)
        data = UpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        update = record_weekly_update(
            lead=lead,
            by=self.principal,
            week=fields.pop("week") or None,
            touch=fields.pop("touch") or None,
            **fields,
        )
        return Response(UpdateOutput(update).data, status=status.HTTP_201_CREATED)
