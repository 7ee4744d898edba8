"""``/api/v1/deal-registrations/``: a partner registers a buyer it found (first to register wins).

``POST`` (a partner's key or user only; others 403) registers through the same
service as the page ``/deals/``: 201 with the registration, or 409 with
``code: already_owned`` when the buyer is already owned — that refusal is
stored and listed too, and never says who owns the buyer. Bad input is a 400
naming the field. ``GET`` lists a partner's own registrations; admins and
managers read all (``?partner=`` for one partner's). Another tenant's or
another partner's registration is a 404. ``Idempotency-Key`` is honoured.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from inquiries.models import Consent
from leadflow.lib.api_errors import body
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.api import PartnerRef
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import IsTenantCaller
from leads.models import DealRegistration, RegistrationStatus
from leads.selectors.registrations import may_read_registrations, registrations_for
from leads.services.registrations import MAX_NEED_LENGTH, register_deal


class RegistrationPermission(IsTenantCaller):
    """Partners register and read their own; admins and managers read all."""

    message = "Only partners register deals; admins and managers read them."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return may_read_registrations(request.auth)
        return request.auth.is_partner


class RegistrationOutput(serializers.ModelSerializer):
    partner = PartnerRef(help_text="The registering partner.")
    inquiry = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The inquiry it entered as (null if refused)."
    )
    inquiry_stage = serializers.SerializerMethodField(
        help_text="What became of it: the inquiry's stage."
    )
    lead = serializers.SerializerMethodField(help_text="Its newest lead's id, if booked.")
    lead_stage = serializers.SerializerMethodField(help_text="Its newest lead's stage.")

    class Meta:
        model = DealRegistration
        fields = ["id", "partner", "status", "reason", "company", "company_domain"]
        fields += ["first_name", "last_name", "email", "phone", "country", "need"]
        fields += ["inquiry", "inquiry_stage", "lead", "lead_stage", "protected_until"]
        fields += ["created_at"]

    def get_inquiry_stage(self, row: DealRegistration) -> str | None:
        return row.inquiry.stage if row.inquiry_id else None

    def get_lead(self, row: DealRegistration) -> int | None:
        return getattr(row, "lead_id", None)

    def get_lead_stage(self, row: DealRegistration) -> str | None:
        return getattr(row, "lead_stage", None)


class RegistrationInput(StrictSerializer):
    """The buyer; the service checks every field (a 400 names the first wrong one)."""

    company = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required, at most 200."
    )
    company_domain = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="e.g. acme.com."
    )
    first_name = serializers.CharField(required=False, allow_blank=True, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, default="")
    email = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The buyer's email; email or company_domain is required.",
    )
    phone = serializers.CharField(required=False, allow_blank=True, default="")
    country = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="ISO 3166-1 alpha-2, e.g. DE."
    )
    need = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=f"What the buyer needs, at most {MAX_NEED_LENGTH} characters.",
    )
    consent = serializers.ChoiceField(
        choices=Consent.choices,
        required=False,
        default=Consent.UNKNOWN,
        help_text="Marketing email consent, as the partner states it.",
    )


PARTNER_PARAMETER = OpenApiParameter(
    "partner", OpenApiTypes.INT, description="Admins and managers: one partner's registrations."
)


class DealRegistrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Deal registrations: a partner's own buyers, registered first."""

    permission_classes = [RegistrationPermission]
    serializer_class = RegistrationOutput
    model = DealRegistration

    def scoped_queryset(self):
        partner_id = None
        if self.action == "list":
            # Blank is "not given", as a form's empty filter sends it.
            text = (self.request.query_params.get("partner") or "").strip()
            if text:
                try:
                    partner_id = int(text)
                except ValueError:
                    raise RuleViolation(
                        field="partner", code="invalid", message="Give a partner's id."
                    ) from None
                if not 0 < partner_id < 2**63:
                    partner_id = 0  # no such partner: an empty list, as for an unknown id
        return registrations_for(self.principal, partner_id=partner_id)

    @extend_schema(parameters=[PARTNER_PARAMETER])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=RegistrationInput,
        responses={201: RegistrationOutput, 409: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample(
                "A buyer the partner found",
                request_only=True,
                value={
                    "company": "Acme GmbH",
                    "company_domain": "acme.de",
                    "first_name": "Ada",
                    "last_name": "Berg",
                    "email": "ada.berg@acme.de",
                    "country": "DE",
                    "need": "40 forklifts for the new warehouse, Q3.",
                },
            )
        ],
    )
    def create(self, request):
        data = RegistrationInput(data=request.data)
        data.is_valid(raise_exception=True)
        registration = register_deal(
            partner=self.principal.partner, by=self.principal, **data.validated_data
        )
        row = registrations_for(self.principal).get(pk=registration.pk)
        if registration.status == RegistrationStatus.REFUSED:
            payload = body(409, "already_owned", registration.reason)
            payload["registration"] = RegistrationOutput(row).data
            return Response(payload, status=status.HTTP_409_CONFLICT)
        return Response(RegistrationOutput(row).data, status=status.HTTP_201_CREATED)
