"""Appointments in the API: booking (``/api/v1/inquiries/{id}/appointment/``) and after it.

``/api/v1/appointments/{id}/``: read, reschedule (PATCH), ``cancel/``,
``held/``, ``no-show/``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from inquiries.selectors.inquiries import inquiry_list
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import IsTenantCaller, role_required
from leadflow.tenancy.roles import MARKETING
from leadflow.tenancy.selectors import member_list
from leads.api.leads import LeadOutput
from leads.models import Appointment, Lead
from leads.selectors.leads import lead_list
from leads.services.appointments import (
    MAX_CANCEL_REASON_LENGTH,
    appointment_state,
    cancel,
    mark_held,
    mark_no_show,
    reschedule,
)
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


# --- /api/v1/appointments/{id}/: the appointment after hand-over ----------------------


class AppointmentOutput(serializers.ModelSerializer):
    lead = serializers.IntegerField(source="lead_id", read_only=True, allow_null=True)
    inquiry = serializers.PrimaryKeyRelatedField(read_only=True)
    rep = serializers.EmailField(source="rep.email", allow_null=True, default=None)
    ends_at = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField(
        help_text="upcoming · due (started, not marked yet) · held · no_show · cancelled · "
        "closed (its lead was closed otherwise)."
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "lead",
            "inquiry",
            "state",
            "starts_at",
            "ends_at",
            "duration_minutes",
            "rep",
            "location",
            "notes",
            "message_to_buyer",
            "uid",
            "sequence",
            "held_at",
            "no_show_at",
            "cancelled_at",
            "cancel_reason",
            "closed_at",
        ]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_ends_at(self, appointment: Appointment) -> str:
        return serializers.DateTimeField().to_representation(ends_at(appointment))

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["upcoming", "due", "held", "no_show", "cancelled", "closed"]
        )
    )
    def get_state(self, appointment: Appointment) -> str:
        return appointment_state(appointment)


class RescheduleInput(StrictSerializer):
    starts_at = serializers.DateTimeField(
        required=False,
        help_text="In the future. A time without an offset is read in the tenant's time zone.",
    )
    duration_minutes = serializers.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES, required=False
    )
    location = serializers.CharField(
        max_length=MAX_LOCATION_LENGTH, required=False, allow_blank=True
    )
    message_to_buyer = serializers.CharField(
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Goes into the buyer's updated email and invitation.",
    )

    def __init__(self, *args, tenant_timezone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].timezone = ZoneInfo(tenant_timezone)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs:
            raise serializers.ValidationError(
                {
                    "starts_at": [
                        "Give at least one of starts_at, duration_minutes, location, "
                        "message_to_buyer."
                    ]
                }
            )
        return attrs


class CancelInput(StrictSerializer):
    reason = serializers.CharField(
        max_length=MAX_CANCEL_REASON_LENGTH,
        help_text="Why the meeting is off. Internal: the team's email shows it, the buyer's not.",
    )


APPOINTMENT_EXAMPLE = OpenApiExample(
    "A rescheduled appointment",
    response_only=True,
    value={
        "id": 42,
        "lead": 17,
        "inquiry": 310,
        "state": "upcoming",
        "starts_at": "2026-03-04T10:00:00+01:00",
        "ends_at": "2026-03-04T10:45:00+01:00",
        "duration_minutes": 45,
        "rep": "riley@acme.example",
        "location": "Buyer Inc, Room 4",
        "notes": "Wants the welding cell demo.",
        "message_to_buyer": "Please bring your floor plan.",
        "uid": "8c0b6c1e-1f7a-4a8e-9d1a-2f9f3a8e0c11@leadflow",
        "sequence": 1,
        "held_at": None,
        "no_show_at": None,
        "cancelled_at": None,
        "cancel_reason": "",
        "closed_at": None,
    },
)


class AppointmentViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    """A lead's appointment after hand-over: read it, reschedule, cancel, mark held or no-show.

    Visible as its lead is (``GET /api/v1/leads/``): a rep only their own, a
    partner its partner's, marketing roles and managers all; any other is a
    404, like another tenant's. Changes reach the buyer and the team through
    the outbox: a reschedule sends the updated invitation (same ``uid``,
    ``sequence`` + 1), a cancel ``METHOD:CANCEL``. Every POST honours
    ``Idempotency-Key``.
    """

    model = Appointment
    serializer_class = AppointmentOutput
    permission_classes = [IsTenantCaller]

    def scoped_queryset(self):
        leads = lead_list(principal=self.principal)
        return Appointment.objects.filter(pk__in=leads.values("appointment_id")).annotate(
            lead_id=Subquery(Lead.objects.filter(appointment_id=OuterRef("pk")).values("pk")[:1])
        )

    def _answer(self, appointment: Appointment) -> Response:
        return Response(AppointmentOutput(self.get_queryset().get(pk=appointment.pk)).data)

    @extend_schema(responses=AppointmentOutput, examples=[APPOINTMENT_EXAMPLE])
    def retrieve(self, request, *args, **kwargs):
        """The appointment, its state and its invitation's current sequence."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=RescheduleInput,
        responses=AppointmentOutput,
        examples=[
            OpenApiExample(
                "Move the meeting by a day and make it longer",
                request_only=True,
                value={"starts_at": "2026-03-04T10:00:00+01:00", "duration_minutes": 45},
            ),
            APPOINTMENT_EXAMPLE,
        ],
    )
    def partial_update(self, request, pk=None):
        """Reschedule: the buyer and the team get the updated invitation; the reminder moves.

        A time in the past or a duration out of range is a 400; a cancelled or
        marked meeting, or one whose lead is closed, a 409. Values equal to the
        current ones change nothing and send nothing.
        """
        appointment = self.get_object()  # another tenant's or another rep's is 404 first
        data = RescheduleInput(data=request.data, tenant_timezone=self.principal.tenant.timezone)
        data.is_valid(raise_exception=True)
        appointment = reschedule(appointment=appointment, by=self.principal, **data.validated_data)
        return self._answer(appointment)

    @extend_schema(
        request=CancelInput,
        responses=AppointmentOutput,
        examples=[
            OpenApiExample(
                "The buyer asked to call it off",
                request_only=True,
                value={"reason": "Buyer's budget review moved to next quarter"},
            ),
            APPOINTMENT_EXAMPLE,
        ],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel: ``METHOD:CANCEL`` to buyer and team, the reminder withdrawn; the lead stays open.

        Cancelling twice, or a marked meeting, is a 409.
        """
        appointment = self.get_object()
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = cancel(
            appointment=appointment, reason=data.validated_data["reason"], by=self.principal
        )
        return self._answer(appointment)

    @extend_schema(request=None, responses=AppointmentOutput, examples=[APPOINTMENT_EXAMPLE])
    @action(detail=True, methods=["post"])
    def held(self, request, pk=None):
        """The meeting took place. Before it starts a 400; twice, or when cancelled, a 409."""
        return self._answer(mark_held(appointment=self.get_object(), by=self.principal))

    @extend_schema(request=None, responses=AppointmentOutput, examples=[APPOINTMENT_EXAMPLE])
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        """The buyer did not come: the lead closes as ``no_show``, the person returns to the
        qualifier's queue (inquiry stage ``mql``). Refused like ``held``."""
        return self._answer(mark_no_show(appointment=self.get_object(), by=self.principal))
