"""API of partner webhooks: ``/api/v1/webhook-endpoints/`` and their delivery log.

A partner's users and keys see and manage their partner's endpoints only;
managers (and admins) every partner's. Another partner's or tenant's endpoint
is a 404. The secret is in the answer to the create and to rotate-secret
only (an ``Idempotency-Key`` replay answers ``null``).
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from leadflow.lib.json_input import JsonTypedInput
from leadflow.outbox.endpoints import selectors, services
from leadflow.outbox.models import (
    OutboxState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.models import Partner
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS


class PartnersOrManagers(permissions.BasePermission):
    """A partner's user or key (its own endpoints), or a manager or admin (every partner's)."""

    message = "Only a partner or a manager manages webhook endpoints."

    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return False
        return principal.is_partner or principal.has_role(*MANAGERS)


class WebhookEndpointOutput(serializers.ModelSerializer):
    partner = serializers.IntegerField(source="partner_id", help_text="The partner's id.")
    partner_name = serializers.CharField(source="partner.name")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        help_text="The events this endpoint receives.",
    )
    secret_overlap_until = serializers.DateTimeField(
        source="previous_secret_until",
        allow_null=True,
        help_text="Until then the previous secret signs too (a second signature), after a "
        "rotation.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "partner",
            "partner_name",
            "url",
            "events",
            "description",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "secret_overlap_until",
            "created_at",
            "updated_at",
        ]


class IssuedWebhookEndpointOutput(WebhookEndpointOutput):
    secret = serializers.CharField(
        allow_null=True,
        help_text="The signing secret (`whsec_…`), shown this once only; `null` in an "
        "`Idempotency-Key` replay.",
    )

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


class WebhookEndpointInput(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    partner = serializers.IntegerField(
        required=False,
        help_text="The partner whose endpoint it is: managers give it; a partner's own is implied.",
    )
    url = serializers.CharField(max_length=2000, help_text="An `https` URL.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1
    )
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False, default=True)


class WebhookEndpointUpdate(JsonTypedInput, serializers.Serializer):
    rejects_unknown_fields = True
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1, required=False
    )
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class WebhookAttemptOutput(serializers.ModelSerializer):
    request_headers = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = WebhookAttempt
        fields = [
            "id",
            "attempted_at",
            "url",
            "request_headers",
            "request_body",
            "response_status",
            "response_excerpt",
            "error",
            "succeeded",
            "duration_ms",
        ]


class WebhookDeliveryOutput(serializers.ModelSerializer):
    state = serializers.CharField(
        source="message.state",
        help_text="`pending` (due, or waiting to retry), `sending`, `sent` or `failed`.",
    )
    attempt_count = serializers.IntegerField(source="message.attempts")
    next_attempt_at = serializers.SerializerMethodField()
    last_error = serializers.CharField(source="message.last_error")
    attempts = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_type",
            "webhook_id",
            "state",
            "attempt_count",
            "next_attempt_at",
            "last_error",
            "created_at",
            "attempts",
        ]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, delivery: WebhookDelivery) -> str | None:
        message = delivery.message
        if message.state != OutboxState.PENDING:
            return None
        return serializers.DateTimeField().to_representation(message.due_at)

    @extend_schema_field(WebhookAttemptOutput(many=True))
    def get_attempts(self, delivery: WebhookDelivery) -> list[dict]:
        found = self.context.get("attempts", {})
        rows = found.get(delivery.pk)
        if rows is None:
            rows = list(delivery.attempts.order_by("attempted_at", "id"))
        return WebhookAttemptOutput(rows, many=True).data


class WebhookTestOutput(serializers.Serializer):
    delivery = WebhookDeliveryOutput()
    attempt = WebhookAttemptOutput(allow_null=True, help_text="The attempt and the answer.")


class DeliveryQuery(serializers.Serializer):
    failed = serializers.BooleanField(required=False, default=False)


def _issued(issued: services.IssuedEndpoint, code: int) -> Response:
    endpoint = issued.endpoint
    data = dict(WebhookEndpointOutput(endpoint).data)
    response = Response({**data, "secret": issued.secret}, status=code)
    response.idempotent_replay_body = JSONRenderer().render({**data, "secret": None})
    return response


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """A partner's webhook endpoints (Standard Webhooks): events, secret, test, delivery log."""

    permission_classes = [PartnersOrManagers]
    serializer_class = WebhookEndpointOutput
    model = WebhookEndpoint
    lookup_value_regex = r"[0-9]+"

    def scoped_queryset(self):
        return selectors.endpoints_for(self.principal)

    def _partner(self, partner_id: int | None) -> Partner:
        principal = self.principal
        if principal.is_partner:
            assert principal.partner is not None
            if partner_id is not None and partner_id != principal.partner.pk:
                raise serializers.ValidationError({"partner": ["Not your partner."]})
            return principal.partner
        if partner_id is None:
            raise serializers.ValidationError({"partner": ["Name the partner."]})
        partner = Partner.objects.filter(pk=partner_id).first()
        if partner is None:
            raise serializers.ValidationError({"partner": ["No such partner."]})
        return partner

    @extend_schema(
        request=WebhookEndpointInput,
        responses={201: IssuedWebhookEndpointOutput},
        examples=[
            OpenApiExample(
                "New leads to a dealer's CRM",
                request_only=True,
                value={
                    "url": "https://crm.northwind.example/hooks/leadflow",
                    "events": ["lead.offered", "lead.assigned"],
                    "description": "Northwind CRM",
                },
            )
        ],
    )
    def create(self, request):
        """A new endpoint; the answer shows its secret once."""
        data = WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        partner = self._partner(values.pop("partner", None))
        issued = services.create_endpoint(partner=partner, **values, by=self.principal)
        return _issued(issued, status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdate, responses=WebhookEndpointOutput)
    def partial_update(self, request, pk=None):
        """Change URL, events, description or enabled (enabling clears why it was disabled)."""
        endpoint = self.get_object()
        data = WebhookEndpointUpdate(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.update_endpoint(
            endpoint=endpoint, by=self.principal, **data.validated_data
        )
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk=None):
        """Delete the endpoint and its delivery log."""
        services.delete_endpoint(endpoint=self.get_object(), by=self.principal)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=IssuedWebhookEndpointOutput)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret (shown once); the old one also signs for 24 hours."""
        issued = services.rotate_secret(endpoint=self.get_object(), by=self.principal)
        return _issued(issued, status.HTTP_200_OK)

    @extend_schema(request=None, responses=WebhookTestOutput)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `webhook.test` event now; the answer holds the receiver's answer."""
        result = services.send_test(endpoint=self.get_object(), by=self.principal)
        return Response(
            WebhookTestOutput({"delivery": result.delivery, "attempt": result.attempt}).data
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "failed", bool, description="Only deliveries that failed or wait to retry."
            )
        ],
        responses=WebhookDeliveryOutput(many=True),
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first, each with every attempt."""
        endpoint = self.get_object()
        query = DeliveryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.deliveries_of(endpoint, failed_only=query.validated_data["failed"])
        page = self.paginate_queryset(rows)
        attempts = selectors.attempts_of([delivery.pk for delivery in page])
        return self.get_paginated_response(
            WebhookDeliveryOutput(page, many=True, context={"attempts": attempts}).data
        )


class WebhookDeliveryViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    """One delivery with its attempts, and resending it (same `webhook-id`)."""

    permission_classes = [PartnersOrManagers]
    serializer_class = WebhookDeliveryOutput
    model = WebhookDelivery

    def scoped_queryset(self):
        return selectors.deliveries_for(self.principal)

    @extend_schema(request=None, responses=WebhookDeliveryOutput)
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """Send the event again now, with its `webhook-id` (409 while it is still sending)."""
        delivery = services.resend(delivery=self.get_object(), by=self.principal)
        delivery.message.refresh_from_db()
        return Response(WebhookDeliveryOutput(delivery).data)
