"""``/api/v1/inquiries/{id}/appointment/``: book the appointment that makes the lead."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from inquiries.selectors.inquiries import inquiry_list
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MARKETING
from leadflow.tenancy.selectors import member_list
from leads.api.leads import LeadOutput
from leads.models import Appointment
from leads.services.booking import (
    MAX_DURATION_MINUTES,
    MAX_LOCATION_LENGTH,
    MAX_MESSAGE_LENGTH,
    MAX_NOTES_LENGTH,
    MIN_DURATION_MINUTES,
    book_appointment,
)
from leads.services.confirmations import ends_at


class AppointmentInput(StrictSerializer):
    starts_at = serializers.DateTimeField(
        help_text="In the future. A time without an offset is read in the tenant's time zone."
    )
    duration_minutes = serializers.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES, default=30
    )
    rep = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="User id of the tenant's rep, manager or admin who takes the meeting.",
    )
    location = serializers.CharField(
        max_length=MAX_LOCATION_LENGTH, required=False, allow_blank=True, default=""
    )
    notes = serializers.CharField(
        max_length=MAX_NOTES_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "Internal notes — never sent to the buyer. Shown in LeadFlow and in the email to "
            "the people of your side who are invited."
        ),
    )
    message_to_buyer = serializers.CharField(
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Goes into the buyer's confirmation email and the invitation's description.",
    )

    def __init__(self, *args, tenant_timezone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].timezone = ZoneInfo(tenant_timezone)

    def validate_rep(self, value):
        if value is None:
            return None
        membership = member_list().filter(user_id=value).first()
        if membership is None:
            raise serializers.ValidationError("No such member of this tenant.")
        return membership.user


class BookedAppointmentOutput(serializers.ModelSerializer):
    ends_at = serializers.SerializerMethodField()
    rep = serializers.EmailField(source="rep.email", allow_null=True, default=None)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "starts_at",
            "ends_at",
            "duration_minutes",
            "rep",
            "location",
            "notes",
            "message_to_buyer",
            "uid",
        ]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_ends_at(self, appointment: Appointment) -> str:
        return serializers.DateTimeField().to_representation(ends_at(appointment))


class BookedLeadOutput(LeadOutput):
    appointment = BookedAppointmentOutput()


class BookAppointmentView(APIView):
    """Book the decision-maker's appointment; the inquiry becomes a lead (201).

    A disqualified inquiry or a time in the past is a 400; a booking while the
    inquiry has an open appointment or lead is a 409 (``already_booked``), as
    is one whose lead was closed as won or lost (``lead_closed``); none writes
    anything. Once its lead is postponed or lost "not now", the inquiry may be
    booked again: a new appointment makes a new lead. The buyer receives a confirmation email with
    a calendar invitation and the ``message_to_buyer``; the qualifier who
    booked (the organizer) and the people meeting the buyer (the rep, the
    referring partner's contact, else the tenant's managers) receive theirs
    with the internal ``notes``. The buyer never sees the notes.
    """

    permission_classes = [role_required(*MARKETING)]

    @extend_schema(request=AppointmentInput, responses={201: BookedLeadOutput})
    def post(self, request, pk: int):
        principal = request.auth
        inquiry = get_object_or_404(inquiry_list(), pk=pk)  # another tenant's is 404 before 400
        data = AppointmentInput(data=request.data, tenant_timezone=principal.tenant.timezone)
        data.is_valid(raise_exception=True)
        lead = book_appointment(inquiry=inquiry, **data.validated_data, by=principal)
        return Response(BookedLeadOutput(lead).data, status=status.HTTP_201_CREATED)
