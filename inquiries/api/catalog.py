"""``/api/v1/campaigns/`` and ``/api/v1/custom-fields/``: what inquiries refer to."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from inquiries.api.serializers import CampaignSerializer, CustomFieldSerializer
from inquiries.models import Campaign, CustomField
from inquiries.selectors.inquiries import campaign_list, custom_field_list
from inquiries.services.campaigns import create_campaign
from inquiries.services.custom_fields import define_custom_field
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import Role
from leadflow.tenancy.permissions import role_required

MARKETING = (Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.QUALIFIER)


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Campaigns with their spend (marketing roles)."""

    model = Campaign
    serializer_class = CampaignSerializer
    permission_classes = [
        role_required(Role.ADMIN, Role.MANAGER, Role.MARKETER, read_roles=MARKETING)
    ]

    def scoped_queryset(self):
        return campaign_list()

    @extend_schema(request=CampaignSerializer, responses={201: CampaignSerializer})
    def create(self, request):
        data = CampaignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = create_campaign(**data.validated_data, by=self.principal)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CustomFieldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The tenant's own qualifiers (admins and managers define them)."""

    model = CustomField
    serializer_class = CustomFieldSerializer
    permission_classes = [role_required(Role.ADMIN, Role.MANAGER, read_roles=MARKETING)]

    def scoped_queryset(self):
        return custom_field_list()

    @extend_schema(request=CustomFieldSerializer, responses={201: CustomFieldSerializer})
    def create(self, request):
        data = CustomFieldSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        field = define_custom_field(**data.validated_data, by=self.principal)
        return Response(CustomFieldSerializer(field).data, status=status.HTTP_201_CREATED)
