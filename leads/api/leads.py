"""``/api/v1/leads/``: the leads handed to sales, as each caller may see them."""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers

from leadflow.lib.query_fields import IdFilter
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import Partner
from leadflow.tenancy.permissions import IsTenantCaller
from leads.api.manage import ManageLeadMixin, TeamFilterMixin
from leads.models import Appointment, Lead
from leads.selectors.leads import lead_list


class LeadPartnerOutput(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name"]


class LeadAppointmentOutput(serializers.ModelSerializer):
    class Meta:
        model = Appointment
        fields = ["starts_at", "duration_minutes", "location", "notes", "message_to_buyer"]


class LeadOutput(serializers.ModelSerializer):
    inquiry = serializers.PrimaryKeyRelatedField(read_only=True)
    rep = serializers.EmailField(source="rep.email", allow_null=True, default=None)
    partner = LeadPartnerOutput(allow_null=True)
    appointment = LeadAppointmentOutput()

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
            "appointment",
            "created_at",
        ]


class LeadFilter(TeamFilterMixin, django_filters.FilterSet):
    # By id, so the filter needs no queryset of users (which would cross tenants).
    rep = IdFilter(field_name="rep_id", help_text="The rep's user id.")

    class Meta:
        model = Lead
        fields = ["stage", "rep"]


class LeadViewSet(ManageLeadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
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
