"""``/api/v1/inquiries/outcomes/``: the last known outcome of many inquiries at once."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from inquiries.services.outcomes import MAX_IDS, record_outcomes
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.roles import MARKETING

MAX_ID = 2**31 - 1


class OutcomesInput(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=MAX_IDS,
    )
    outcome = serializers.ChoiceField(
        choices=["won", "lost", ""], help_text='"" clears the outcome (still open).'
    )
    closed_on = serializers.DateField(required=False, allow_null=True, default=None)
    value = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
    )


class OutcomesView(APIView):
    """Set the outcome of inquiries that never became a lead (history; moves no stage)."""

    permission_classes = [role_required(*MARKETING)]

    @extend_schema(
        request=OutcomesInput,
        responses={
            200: inline_serializer(
                "OutcomesResult",
                {
                    "matched": serializers.IntegerField(),
                    "changed": serializers.IntegerField(),
                    "leads_left_alone": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        body = OutcomesInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = record_outcomes(
            ids=data["ids"],
            outcome=data["outcome"],
            closed_on=data["closed_on"],
            value=data["value"],
            by=request.auth,
        )
        return Response(
            {
                "matched": result.matched,
                "changed": result.changed,
                "leads_left_alone": result.leads_left_alone,
            }
        )
