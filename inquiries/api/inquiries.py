"""``/api/v1/inquiries/``: capture (201 new, 200 merged), read, activities."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inquiries.api import inbox
from inquiries.api.serializers import (
    ActivityInput,
    ActivityOutput,
    InquiryChange,
    InquiryInput,
    InquiryOutput,
)
from inquiries.models import Inquiry
from inquiries.profile import PROFILE_FIELDS
from inquiries.selectors.inquiries import activity_list, inquiry_list
from inquiries.services.capture import capture_inquiry, record_activity, update_profile
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import IsTenantCaller, role_required
from leadflow.tenancy.roles import MARKETING


class CanCapture(IsTenantCaller):
    """Marketing roles, tenant integration keys with a marketing role, and partners (referrals)."""

    message = "Your role may not record inquiries."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        principal = request.auth
        return principal.is_partner or principal.has_role(*MARKETING)


class InquiryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Inquiries: what marketing knows of each person, scored against the active definition.

    Partners may send referrals (POST) but never read the marketing inbox.
    """

    model = Inquiry
    serializer_class = InquiryOutput
    # Ids only, so that /inquiries/imports/ and other sub-collections are not read as an id.
    lookup_value_regex = "[0-9]+"
    filterset_class = inbox.InboxFilter

    def get_permissions(self):
        if self.action == "create":
            return [CanCapture()]
        return [role_required(*MARKETING)()]

    def scoped_queryset(self):
        return inquiry_list()

    # --- The triage inbox (inquiries/api/inbox.py) ---

    @extend_schema(parameters=inbox.LIST_PARAMETERS, responses=inbox.InboxPageOutput)
    def list(self, request):
        """The inbox: filtered, sorted, paged by cursor when sorted; the count is capped."""
        return inbox.inbox_list(self, request)

    @extend_schema(
        request=inbox.BulkInput, responses={200: inbox.BulkOutput, 202: inbox.BulkJobSerializer}
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request):
        """Assign, disqualify, nurture or add to a campaign: chosen ids, or all matching."""
        return inbox.inbox_bulk(self, request)

    @extend_schema(
        parameters=inbox.EXPORT_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR}
    )
    def export(self, request):  # routed as inquiries/export.csv in leadflow/urls.py
        """The filtered inquiries (or the chosen ids) as CSV, streamed."""
        return inbox.inbox_export(self, request)

    @extend_schema(request=InquiryInput, responses={201: InquiryOutput, 200: InquiryOutput})
    def create(self, request):
        """Record a response; a known person is merged (200) instead of duplicated (201)."""
        data = InquiryInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        profile = {k: values.pop(k) for k in list(values) if k in PROFILE_FIELDS}
        captured = capture_inquiry(
            profile=profile,
            custom=values.get("custom"),
            source=values.get("source", "api"),
            campaign=values.get("campaign"),
            consent=values.get("consent", "unknown"),
            external_source=values.get("external_source", ""),
            external_id=values.get("external_id", ""),
            activity_details=values.get("activity_details"),
            by=self.principal,
        )
        code = status.HTTP_201_CREATED if captured.created else status.HTTP_200_OK
        return Response(InquiryOutput(captured.inquiry).data, status=code)

    @extend_schema(request=InquiryChange, responses=InquiryOutput)
    def partial_update(self, request, pk=None):
        """Correct the person's profile; the score is recomputed at once."""
        inquiry = self.get_object()
        data = InquiryChange(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        custom = values.pop("custom", None)
        inquiry = update_profile(
            inquiry=inquiry, changes=values, custom=custom or None, by=self.principal
        )
        return Response(InquiryOutput(self.get_queryset().get(pk=inquiry.pk)).data)

    @extend_schema(methods=["GET"], responses=ActivityOutput(many=True), filters=False)
    @extend_schema(methods=["POST"], request=ActivityInput, responses={201: ActivityOutput})
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def activities(self, request, pk=None):
        """The person's timeline, newest first, paginated (GET); or one more thing they did
        (POST), which rescores them."""
        inquiry = self.get_object()  # another tenant's inquiry is 404 before any 400
        if request.method == "GET":
            page = self.paginate_queryset(activity_list(inquiry=inquiry))
            return self.get_paginated_response(ActivityOutput(page, many=True).data)
        data = ActivityInput(data=request.data)
        data.is_valid(raise_exception=True)
        activity = record_activity(inquiry=inquiry, **data.validated_data, by=self.principal)
        return Response(ActivityOutput(activity).data, status=status.HTTP_201_CREATED)
