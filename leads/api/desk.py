"""``/api/v1/inquiries/{id}/touches/`` and ``/timeline/``: the qualifier's contacts and history.

Served from ``leads`` (touches are the leads' ``Touch``, with no lead before
hand-over) so ``inquiries`` imports nothing of this app. The inquiry is
looked up within the caller's tenant: another tenant's is a 404 before any
400.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from inquiries.selectors.inquiries import inquiry_list
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MARKETING
from leads.api.touches import TOUCH_EXAMPLE, TouchInput, TouchOutput
from leads.models import Touch
from leads.selectors.desk import inquiry_timeline, touch_progress
from leads.services.touches import log_touch


class TimelineEntryOutput(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When, in the caller's time zone.")
    kind = serializers.CharField(
        help_text="inquiry_stage · lead_created · lead_stage · touch · update · appointment · "
        "assignment · note · edit · task · activity · nurture_enrolled · nurture_exited"
    )
    text = serializers.CharField(help_text="The line for people: names, times with their zone.")
    detail = serializers.CharField(help_text="A note, the changes made, or empty.")
    lead = serializers.IntegerField(source="lead_id", allow_null=True)


class InquiryTouchOutput(TouchOutput):
    touches_so_far = serializers.SerializerMethodField(
        help_text="The touches before hand-over, this one included."
    )
    touch_minimum = serializers.SerializerMethodField(help_text="The tenant's minimum.")

    class Meta(TouchOutput.Meta):
        fields = [*TouchOutput.Meta.fields, "touches_so_far", "touch_minimum"]

    def get_touches_so_far(self, touch: Touch) -> int:
        return int(self.context["progress"].count)

    def get_touch_minimum(self, touch: Touch) -> int:
        return int(self.context["progress"].minimum)


class InquiryTouchesView(GenericAPIView):
    """The person's touches (every one, newest first), or log one before hand-over."""

    permission_classes = [role_required(*MARKETING)]
    serializer_class = TouchOutput
    filter_backends: list[type] = []

    @extend_schema(responses=TouchOutput(many=True), summary="The person's touches, newest first")
    def get(self, request: Request, pk: int) -> Response:
        inquiry = get_object_or_404(inquiry_list(), pk=pk)
        rows = Touch.objects.filter(inquiry_id=inquiry.pk).select_related("user")
        page = self.paginate_queryset(rows.order_by("-at", "-id"))
        return self.get_paginated_response(TouchOutput(page, many=True).data)

    @extend_schema(
        request=TouchInput,
        responses={201: InquiryTouchOutput},
        examples=[TOUCH_EXAMPLE],
        summary="Log a touch (call, email, meeting, other) before hand-over",
        description="The marketing side (qualifier, marketer, manager, admin). `at` defaults "
        "to now; not in the future, not before the inquiry. The answer counts the touches "
        "so far against the tenant's minimum.",
    )
    def post(self, request: Request, pk: int) -> Response:
        principal = request.auth
        inquiry = get_object_or_404(inquiry_list(), pk=pk)
        data = TouchInput(data=request.data)
        data.is_valid(raise_exception=True)
        touch = log_touch(inquiry=inquiry, lead=None, by=principal, **data.validated_data)
        context = {"progress": touch_progress(inquiry=inquiry)}
        return Response(
            InquiryTouchOutput(touch, context=context).data, status=status.HTTP_201_CREATED
        )


class InquiryTimelineView(GenericAPIView):
    """Every event of the person, newest first, each a line for people."""

    permission_classes = [role_required(*MARKETING)]
    serializer_class = TimelineEntryOutput
    filter_backends: list[type] = []

    @extend_schema(
        responses=TimelineEntryOutput(many=True),
        summary="The person's timeline, newest first",
        description="Stage moves, leads, touches, weekly updates, appointments, assignments, "
        "notes, profile edits, tasks and activities. `text` names people and shows times in "
        "the caller's zone (`Appointment booked for Tue 10 Dec 10:00 (Chicago) with Sam Rep`).",
    )
    def get(self, request: Request, pk: int) -> Response:
        inquiry = get_object_or_404(inquiry_list(), pk=pk)
        entries = inquiry_timeline(inquiry=inquiry, principal=request.auth)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimelineEntryOutput(page, many=True).data)
