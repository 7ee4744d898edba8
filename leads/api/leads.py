"""``/api/v1/leads/``: the leads handed to sales, as each caller may see them."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers

from leadflow.lib.query_fields import IdFilter
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import Partner
from leadflow.tenancy.permissions import IsTenantCaller
from leads.api import lifecycle
from leads.api.manage import ManageLeadMixin, TeamFilterMixin
from leads.api.sync import LeadSyncMixin
from leads.api.touches import LeadTouchesMixin
from leads.models import Appointment, Lead
from leads.selectors.leads import contact_hidden, lead_list, updated_since, visible_profile

# "T10:00:00 01:00": the + of an offset, unescaped in a query string, arrives as a space.
OFFSET_SPACE = re.compile(r" ([0-9]{2}:?[0-9]{2})$")


class LeadPartnerOutput(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name"]


class LeadAppointmentOutput(serializers.ModelSerializer):
    class Meta:
        model = Appointment
        fields = ["starts_at", "duration_minutes", "location", "notes", "message_to_buyer"]


class LeadOwnerOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["rep", "partner"])
    id = serializers.IntegerField()
    name = serializers.CharField()


class LeadOutput(serializers.ModelSerializer):
    inquiry = serializers.PrimaryKeyRelatedField(read_only=True)
    rep = serializers.EmailField(source="rep.email", allow_null=True, default=None)
    partner = LeadPartnerOutput(allow_null=True)
    appointment = LeadAppointmentOutput()
    owner = serializers.SerializerMethodField(
        help_text="Who owns the lead: a rep or a partner; null while a manager reassigns it."
    )
    breached = serializers.SerializerMethodField(
        help_text="The acceptance window lapsed before the lead was accepted (kept after)."
    )
    profile = serializers.SerializerMethodField(
        help_text="The buyer as handed over. On a partner's offer (awaiting acceptance) "
        "without first/last name, email and phone (see `contact_hidden`)."
    )
    contact_hidden = serializers.SerializerMethodField(
        help_text="True for a partner while the lead is an offer: accept it to see the "
        "buyer's contact details."
    )

    def _principal(self):
        request = self.context.get("request")
        return getattr(request, "auth", None) if request is not None else None

    @extend_schema_field(serializers.DictField())
    def get_profile(self, lead: Lead) -> dict:
        principal = self._principal()
        if principal is None:
            return dict(lead.profile or {})
        return visible_profile(lead, principal)

    def get_contact_hidden(self, lead: Lead) -> bool:
        principal = self._principal()
        return principal is not None and contact_hidden(lead, principal)

    @extend_schema_field(LeadOwnerOutput(allow_null=True))
    def get_owner(self, lead: Lead) -> dict | None:
        if lead.partner_id is not None and lead.rep_id is None:
            return {"type": "partner", "id": lead.partner_id, "name": lead.partner.name}
        if lead.rep_id is not None:
            return {"type": "rep", "id": lead.rep_id, "name": lead.rep.display_name}
        return None

    def get_breached(self, lead: Lead) -> bool:
        return lead.breached_at is not None

    class Meta:
        model = Lead
        fields = [
            "id",
            "stage",
            "inquiry",
            "rep",
            "partner",
            "score",
            "score_breakdown",
            "definition_version",
            "profile",
            "contact_hidden",
            "appointment",
            "created_at",
            "owner",
            "assigned_at",
            "accepted_at",
            "acceptance_due_at",
            "breached",
            "breached_at",
            "reject_kind",
            "reject_reason",
            "qualified_at",
            "budget",
            "authority",
            "need",
            "timeline",
            "value",
            "closed_on",
            "lost_reason",
            "postponed_until",
            "next_step_on",
            "next_step",
        ]


class OffsetDateTimeField(forms.DateTimeField):
    """An ISO 8601 moment with its UTC offset (``Z`` or ``+01:00``); a naive time is refused.

    An unescaped ``+`` in a query string arrives as a space; a space before
    the offset is read as the ``+`` it was.
    """

    default_error_messages = {
        "invalid": "Give an ISO 8601 date and time with its offset, e.g. "
        "2026-12-01T09:00:00+01:00 or 2026-12-01T08:00:00Z (write + as %%2B in a URL).",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = OFFSET_SPACE.sub(r"+\1", str(value).strip())
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


@extend_schema_field(OpenApiTypes.DATETIME)
class UpdatedSinceFilter(django_filters.Filter):
    field_class = OffsetDateTimeField


class LeadFilter(TeamFilterMixin, django_filters.FilterSet):
    # By id, so the filter needs no queryset of users (which would cross tenants).
    rep = IdFilter(field_name="rep_id", help_text="The rep's user id.")
    updated_since = UpdatedSinceFilter(
        method="filter_updated_since",
        help_text="ISO 8601 with offset: leads created, assigned, accepted, qualified or "
        "closed since, or with a touch, weekly update or stage change recorded since.",
    )

    def filter_updated_since(self, queryset, name, value):
        return updated_since(queryset, value)

    class Meta:
        model = Lead
        fields = ["stage", "rep"]


@extend_schema_view(**lifecycle.schemas(LeadOutput))
class LeadViewSet(
    LeadSyncMixin,
    LeadTouchesMixin,
    lifecycle.LeadLifecycleActions,
    ManageLeadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    TenantViewSet,
):
    """Leads: marketing roles and managers see all, a rep their own, a partner its partner's.

    Leads are made only by booking an appointment
    (``POST /api/v1/inquiries/{id}/appointment/``).
    """

    model = Lead
    serializer_class = LeadOutput
    permission_classes = [IsTenantCaller]
    filterset_class = LeadFilter

    def scoped_queryset(self):
        return lead_list(principal=self.principal)
