"""``/api/v1/campaigns/`` and ``/api/v1/custom-fields/``: what inquiries refer to."""

from __future__ import annotations

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from inquiries.api.serializers import (
    CampaignChange,
    CampaignSerializer,
    CustomFieldChange,
    CustomFieldSerializer,
)
from inquiries.models import Campaign, CustomField
from inquiries.selectors.inquiries import campaign_list, custom_field_list
from inquiries.services.campaigns import change_campaign, create_campaign
from inquiries.services.custom_fields import (
    PUBLIC_FORM_EDITORS,
    change_custom_field_choices,
    define_custom_field,
    set_custom_field_on_public_form,
)
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import EDITORS, MANAGERS, MARKETING


class CampaignFilter(django_filters.FilterSet):
    # A choice, not BooleanFilter: that one reads any other word as "left out" instead of a 400.
    archived = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_archived",
        help_text="true: only archived campaigns; false or left out: only current ones.",
    )

    class Meta:
        model = Campaign
        fields = ["archived"]

    def filter_archived(self, queryset, name, value):
        return queryset  # applied in filter_queryset, which also covers "left out"

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        archived = self.form.cleaned_data.get("archived") == "true"
        return queryset.filter(archived_at__isnull=not archived)


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Campaigns with their spend (marketing roles read; admins, managers, marketers change).

    The list leaves archived campaigns out unless ``archived=true``; one campaign
    is found by id whether archived or not.
    """

    model = Campaign
    serializer_class = CampaignSerializer
    permission_classes = [role_required(*EDITORS, read_roles=MARKETING)]
    filterset_class = CampaignFilter

    def scoped_queryset(self):
        return campaign_list()

    def filter_queryset(self, queryset):
        # The archived filter chooses the list's rows; a campaign by id is found either way.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(request=CampaignSerializer, responses={201: CampaignSerializer})
    def create(self, request):
        data = CampaignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = create_campaign(**data.validated_data, by=self.principal)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CampaignChange, responses=CampaignSerializer)
    def partial_update(self, request, pk=None):
        campaign = self.get_object()
        data = CampaignChange(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = change_campaign(
            campaign=campaign, changes=data.validated_data, by=self.principal
        )
        return Response(CampaignSerializer(campaign).data)


class CustomFieldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The tenant's own qualifiers (admins and managers define them).

    Admins and marketers decide which are asked on the public form
    (``on_public_form``, off by default).
    """

    model = CustomField
    serializer_class = CustomFieldSerializer
    permission_classes = [role_required(*MANAGERS, read_roles=MARKETING)]

    def get_permissions(self):
        if self.action == "partial_update":
            return [role_required(*PUBLIC_FORM_EDITORS)()]
        return super().get_permissions()

    def scoped_queryset(self):
        return custom_field_list()

    @extend_schema(request=CustomFieldChange, responses=CustomFieldSerializer)
    def partial_update(self, request, pk=None):
        field = self.get_object()
        data = CustomFieldChange(data=request.data)
        data.is_valid(raise_exception=True)
        change = data.validated_data
        with transaction.atomic():
            if "choices" in change or "open_choices" in change or "renames" in change:
                field = change_custom_field_choices(
                    field=field,
                    choices=change.get("choices"),
                    open_choices=change.get("open_choices"),
                    renames=change.get("renames"),
                    by=self.principal,
                )
            if "on_public_form" in change:
                field = set_custom_field_on_public_form(
                    field=field, on_public_form=change["on_public_form"], by=self.principal
                )
        return Response(CustomFieldSerializer(field).data)

    @extend_schema(request=CustomFieldSerializer, responses={201: CustomFieldSerializer})
    def create(self, request):
        data = CustomFieldSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        field = define_custom_field(**data.validated_data, by=self.principal)
        return Response(CustomFieldSerializer(field).data, status=status.HTTP_201_CREATED)
