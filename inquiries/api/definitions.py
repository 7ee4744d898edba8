"""``/api/v1/lead-definitions/``: drafts, sign-offs, activation, what-if, suggestion."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inquiries.models import LeadDefinition, SignOffSide
from inquiries.selectors.analysis import what_if
from inquiries.selectors.inquiries import definition_list
from inquiries.selectors.scoring import active_definition
from inquiries.services import definitions as services
from leadflow.lib.json_input import JsonTypedInput
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import EDITORS, MANAGERS, MARKETING


class SignOffOutput(serializers.Serializer):
    side = serializers.CharField()
    user = serializers.EmailField(source="user.email")
    signed_at = serializers.DateTimeField()


class DefinitionOutput(serializers.ModelSerializer):
    sign_offs = SignOffOutput(many=True, read_only=True)
    weekly_capacity = serializers.IntegerField(read_only=True)

    class Meta:
        model = LeadDefinition
        fields = [
            "id",
            "version",
            "name",
            "status",
            "fit_rules",
            "engagement_rules",
            "qualifiers",
            "mql_threshold",
            "leads_per_rep_per_week",
            "reps",
            "weekly_capacity",
            "notes",
            "sign_offs",
            "created_at",
            "activated_at",
        ]


class DefinitionInput(JsonTypedInput, serializers.Serializer):
    # validate() refuses unknown fields: the schema closes the body.
    rejects_unknown_fields = True

    name = serializers.CharField(max_length=200, required=False)
    fit_rules = serializers.ListField(child=serializers.DictField(), required=False, max_length=100)
    engagement_rules = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=100
    )
    qualifiers = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=100
    )
    mql_threshold = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    leads_per_rep_per_week = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    reps = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in sorted(unknown)}
            )
        return attrs


class SignInput(JsonTypedInput, serializers.Serializer):
    side = serializers.ChoiceField(choices=SignOffSide.choices)


class LeadDefinitionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The agreed lead definition, versioned; both marketing and sales sign before it is active."""

    model = LeadDefinition
    serializer_class = DefinitionOutput
    permission_classes = [role_required(*EDITORS, read_roles=MARKETING)]

    def scoped_queryset(self):
        return definition_list()

    @extend_schema(request=DefinitionInput, responses={201: DefinitionOutput})
    def create(self, request):
        """A new draft; without rules it starts from the articles' template."""
        data = DefinitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        definition = services.create_draft(values=data.validated_data, by=self.principal)
        return Response(DefinitionOutput(definition).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DefinitionInput, responses=DefinitionOutput)
    def partial_update(self, request, pk=None):
        """Change a draft; its sign-offs are withdrawn."""
        definition = self.get_object()  # another tenant's draft is 404 before any 400
        data = DefinitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        definition = services.update_draft(
            definition=definition, values=data.validated_data, by=self.principal
        )
        return Response(DefinitionOutput(self._reload(definition)).data)

    @extend_schema(request=None, responses={201: DefinitionOutput})
    @action(detail=True, methods=["post"])
    def copy(self, request, pk=None):
        """Copy any version to a new draft (the only way to change an active one)."""
        definition = services.copy_definition(definition=self.get_object(), by=self.principal)
        return Response(DefinitionOutput(definition).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SignInput, responses=DefinitionOutput)
    @action(detail=True, methods=["post"], permission_classes=[role_required(*MANAGERS)])
    def sign(self, request, pk=None):
        """Sign a draft for marketing or for sales (managers; one side per person)."""
        definition = self.get_object()
        data = SignInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.sign_definition(
            definition=definition, side=data.validated_data["side"], by=self.principal
        )
        return Response(DefinitionOutput(self._reload(definition)).data)

    @extend_schema(request=None, responses={202: OpenApiResponse(description="The rescoring job")})
    @action(detail=True, methods=["post"], permission_classes=[role_required(*MANAGERS)])
    def activate(self, request, pk=None):
        """Make a signed draft active; rescoring the tenant starts in the background."""
        job = services.activate_definition(definition=self.get_object(), by=self.principal)
        return Response(
            {
                "definition": job.definition_id,
                "rescore_job": job.pk,
                "status": job.status,
                "total": job.total,
                "done": job.done,
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        responses=OpenApiResponse(description="MQLs per week under this version vs the active one")
    )
    @action(detail=True, methods=["get"], url_path="what-if")
    def what_if(self, request, pk=None):
        """Last 90 days: MQLs per week under this version vs the active one, and outcomes."""
        definition = self.get_object()
        result = what_if(draft=definition, active=active_definition(), as_of=timezone.now())
        return Response(_plain(result))

    @extend_schema(request=None, responses={201: DefinitionOutput})
    @action(detail=False, methods=["post"])
    def suggest(self, request):
        """A new draft whose points come from won and lost outcomes, with its measured quality."""
        definition = services.create_suggested_draft(by=self.principal)
        return Response(DefinitionOutput(definition).data, status=status.HTTP_201_CREATED)

    def _reload(self, definition: LeadDefinition) -> LeadDefinition:
        return self.get_queryset().get(pk=definition.pk)


def _plain(value):
    """Dataclasses, dates and tuples as JSON-ready values."""
    import dataclasses
    from datetime import date, datetime

    if dataclasses.is_dataclass(value):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
