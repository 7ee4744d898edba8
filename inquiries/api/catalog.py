"""``/api/v1/campaigns/`` and ``/api/v1/custom-fields/``: what inquiries refer to."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from inquiries.api.serializers import (
    CampaignSerializer,
    CustomFieldChange,
    CustomFieldSerializer,
)
from inquiries.models import Campaign, CustomField
from inquiries.selectors.inquiries import campaign_list, custom_field_list
from inquiries.services.campaigns import create_campaign
from inquiries.services.custom_fields import (
    PUBLIC_FORM_EDITORS,
    define_custom_field,
    set_custom_field_on_public_form,
)
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
    """The tenant's own qualifiers (admins and managers define them).

    Admins and marketers decide which are asked on the public form
    (``on_public_form``, off by default).
    """

    model = CustomField
    serializer_class = CustomFieldSerializer
    permission_classes = [role_required(Role.ADMIN, Role.MANAGER, read_roles=MARKETING)]

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
        field = set_custom_field_on_public_form(
            field=field, on_public_form=data.validated_data["on_public_form"], by=self.principal
        )
        return Response(CustomFieldSerializer(field).data)

    @extend_schema(request=CustomFieldSerializer, responses={201: CustomFieldSerializer})
    def create(self, request):
        data = CustomFieldSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        field = define_custom_field(**data.validated_data, by=self.principal)
        return Response(CustomFieldSerializer(field).data, status=status.HTTP_201_CREATED)
