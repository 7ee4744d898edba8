"""``POST /api/v1/leads/{id}/accept/``, ``/reject/``, ``/qualify/``, ``/next-step/``.

A mixin of ``LeadViewSet``: the lead is looked up in what the caller may see
(another rep's lead, another partner's or another tenant's is a 404), then one
service of ``leads.services.lifecycle`` acts. A caller who sees the lead but
neither owns it nor manages the team (a marketer) gets 403. Refused input is
a 400 naming the field, a move the lead's stage does not allow a 409. The
answer is the lead as ``GET /api/v1/leads/{id}/`` shows it. ``Idempotency-Key``
is honoured by the middleware for every POST.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from leads.models import Lead, RejectKind
from leads.services import lifecycle

ERRORS = {
    400: OpenApiResponse(description="Refused input: `errors` names the field and the rule."),
    403: OpenApiResponse(description="The caller sees the lead but neither owns nor manages it."),
    404: OpenApiResponse(description="No such lead among those the caller may see."),
    409: OpenApiResponse(description="The lead's stage does not allow it (closed, accepted)."),
}


class RejectInput(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=RejectKind.choices,
        help_text="`not_a_lead`: the person goes back to marketing's nurture (reason required). "
        "`cannot_serve`: the lead is handed back with no owner, for a manager to reassign.",
    )
    reason = serializers.CharField(
        max_length=lifecycle.MAX_REASON_LENGTH, required=False, allow_blank=True, default=""
    )


class QualifyInput(StrictSerializer):
    budget = serializers.CharField(max_length=lifecycle.QUALIFY_LIMITS["budget"])
    authority = serializers.CharField(max_length=lifecycle.QUALIFY_LIMITS["authority"])
    need = serializers.CharField(max_length=lifecycle.QUALIFY_LIMITS["need"])
    timeline = serializers.CharField(max_length=lifecycle.QUALIFY_LIMITS["timeline"])


class NextStepInput(StrictSerializer):
    on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Today or later (tenant's time zone). Omit both `on` and `action` to clear.",
    )
    action = serializers.CharField(
        max_length=lifecycle.MAX_NEXT_STEP_LENGTH, required=False, allow_blank=True, default=""
    )


class LeadLifecycleActions:
    """The owner's moves on one lead; mixed into ``LeadViewSet`` (which gives ``get_object``)."""

    def _acting_on(self) -> Lead:
        lead: Lead = self.get_object()
        if not lifecycle.may_act_on(lead, self.principal):
            raise PermissionDenied
        return lead

    def _answer(self, lead: Lead) -> Response:
        # Read again as stored, not through the caller's scope: a rep who handed the lead
        # back (cannot_serve) gets the answer of their request, not a 404.
        fresh = Lead.objects.select_related("rep", "partner", "appointment").get(pk=lead.pk)
        return Response(self.get_serializer(fresh).data)

    def _apply(self, service: Any, input_class: type[serializers.Serializer] | None = None):
        """Validate the body (if the move takes one), then make the move as the caller."""
        values: dict[str, Any] = {}
        if input_class is not None:
            data = input_class(data=self.request.data)
            data.is_valid(raise_exception=True)
            values = dict(data.validated_data)
        return self._answer(service(lead=self._acting_on(), **values, by=self.principal))

    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._apply(lifecycle.accept_lead)

    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._apply(lifecycle.reject_lead, RejectInput)

    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        return self._apply(lifecycle.qualify_lead, QualifyInput)

    @action(detail=True, methods=["post"], url_path="next-step")
    def next_step(self, request, pk=None):
        return self._apply(lifecycle.set_next_step, NextStepInput)


def schemas(output: type[serializers.Serializer]) -> dict[str, Any]:
    """The OpenAPI description of each action, answering with ``output`` (``LeadOutput``)."""
    return {
        "accept": extend_schema(
            summary="Accept a lead (SAL)",
            description="Awaiting acceptance → accepted. Accepting after the acceptance window "
            "still works; the breach stays recorded (`breached`).",
            request=None,
            responses={200: output, **ERRORS},
            examples=[
                OpenApiExample(
                    "Already accepted",
                    response_only=True,
                    status_codes=["409"],
                    value={
                        "status": 409,
                        "code": "already_accepted",
                        "detail": "This lead is accepted already (Accepted (SAL)).",
                        "errors": {"stage": ["This lead is accepted already (Accepted (SAL))."]},
                    },
                )
            ],
        ),
        "reject": extend_schema(
            summary="Reject a lead awaiting acceptance",
            request=RejectInput,
            responses={200: output, **ERRORS},
            examples=[
                OpenApiExample(
                    "Not a lead",
                    request_only=True,
                    value={"kind": "not_a_lead", "reason": "Student project, no budget"},
                ),
                OpenApiExample(
                    "Cannot serve",
                    request_only=True,
                    value={"kind": "cannot_serve", "reason": "Outside our region"},
                ),
                OpenApiExample(
                    "Reason missing",
                    response_only=True,
                    status_codes=["400"],
                    value={
                        "status": 400,
                        "code": "required",
                        "detail": "Say why this is not a lead: marketing reads it before "
                        "nurturing them again.",
                        "errors": {"reason": ["Say why this is not a lead: …"]},
                    },
                ),
            ],
        ),
        "qualify": extend_schema(
            summary="Qualify an accepted lead (SQL)",
            description="Accepted → SQL with budget, authority, need and timeline (all required).",
            request=QualifyInput,
            responses={200: output, **ERRORS},
            examples=[
                OpenApiExample(
                    "BANT",
                    request_only=True,
                    value={
                        "budget": "€50k this year",
                        "authority": "VP Logistics signs",
                        "need": "Track 120 trucks",
                        "timeline": "Decision in Q3",
                    },
                )
            ],
        ),
        "next_step": extend_schema(
            summary="Set or clear the owner's next step",
            request=NextStepInput,
            responses={200: output, **ERRORS},
            examples=[
                OpenApiExample(
                    "Next step",
                    request_only=True,
                    value={"on": "2027-01-14", "action": "Send the pricing sheet"},
                ),
                OpenApiExample("Clear", request_only=True, value={}),
            ],
        ),
    }
