"""API of the outbox: the failed messages and "retry" (admins)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from leadflow.outbox import selectors, services
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.api_base import TenantViewSet
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Role
from leadflow.tenancy.permissions import role_required


class OutboxMessageOutput(serializers.ModelSerializer):
    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "kind",
            "key",
            "recipient",
            "state",
            "attempts",
            "last_error",
            "cause_type",
            "cause_id",
            "created_at",
            "due_at",
            "sent_at",
            "failed_at",
        ]


class OutboxMessageViewSet(TenantViewSet):
    """Messages that left or are leaving LeadFlow: the failed ones, and sending one again."""

    permission_classes = [role_required(Role.ADMIN)]
    serializer_class = OutboxMessageOutput
    model = OutboxMessage

    def scoped_queryset(self):
        return OutboxMessage.objects.all()

    @extend_schema(responses=OutboxMessageOutput(many=True))
    @action(detail=False, methods=["get"])
    def failed(self, request):
        """The failed messages, the latest failure first, with the reason each failed."""
        rows = selectors.failed_messages().filter(tenant_id=require_tenant_id())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(OutboxMessageOutput(page, many=True).data)

    @extend_schema(request=None, responses=OutboxMessageOutput)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Send a failed message again (409 when it has not failed)."""
        message = services.retry_message(message=self.get_object(), by=self.principal)
        return Response(OutboxMessageOutput(message).data)
