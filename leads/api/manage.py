"""The manager's part of ``/api/v1/leads/``: the list's filters, ``/reassign/`` and ``/reopen/``.

Two mixins the lead viewset and its filter set inherit (``leads/api/leads.py``),
so the lifecycle's and the touches' actions can live beside these in their own
modules. The filters are the manager page's (``leads.selectors.team``) and
narrow whatever the caller may see: a manager's team, a rep's own leads, a
partner's leads — ``missing=true`` is how a partner's integration asks which
leads it must report this week.

``/reassign/`` and ``/reopen/`` are for managers and admins: a caller who can
see the lead but may not manage it gets 403, one who cannot see it 404 (as for
another tenant's lead). Both call the same services as the manager's page.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from inquiries.api.serializers import StrictSerializer
from leadflow.lib.query_fields import ID_MAX
from leadflow.tenancy.models import Partner
from leadflow.tenancy.selectors import member_list, partner_list
from leads.selectors.team import (
    STAGE_CHOICES,
    LeadFilters,
    filter_leads,
    is_manager,
    parse_owner,
)
from leads.services.closing import MAX_REASON_LENGTH, reopen_lead
from leads.services.ownership import change_owner

OWNER_PATTERN = r"^(rep|partner):[1-9][0-9]{0,17}$|^none$"
TRUE_FALSE = [("true", "true"), ("false", "false")]


class OwnerField(forms.CharField):
    default_validators = [
        RegexValidator(OWNER_PATTERN, "Name the owner as rep:<user id>, partner:<id> or none.")
    ]


@extend_schema_field({"type": "string", "pattern": OWNER_PATTERN})
class OwnerFilter(django_filters.CharFilter):
    field_class = OwnerField


def _flag(help_text: str) -> django_filters.ChoiceFilter:
    # A choice, not BooleanFilter: that one reads any other word as "left out" instead of a 400.
    return django_filters.ChoiceFilter(
        choices=TRUE_FALSE, method="filter_flag", help_text=help_text
    )


class TeamFilterMixin(django_filters.FilterSet):
    """``stage`` (a stage or ``open``), ``owner``, ``missing``, ``breached``, ``stale``."""

    stage = django_filters.ChoiceFilter(
        choices=STAGE_CHOICES,
        method="filter_flag",
        help_text="A stage, or `open` for awaiting acceptance, accepted and SQL.",
    )
    owner = OwnerFilter(
        method="filter_flag",
        help_text="`rep:<user id>`, `partner:<partner id>` or `none` (no owner).",
    )
    missing = _flag(
        "true: open leads (accepted, SQL) owing their owner's update for the current week "
        "and without one."
    )
    breached = _flag("true: leads still awaiting acceptance after their acceptance window.")
    stale = _flag("true: open leads with no touch or weekly update for 14 days.")

    def filter_flag(self, queryset, name, value):
        return queryset  # all applied together in filter_queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        owner = data.get("owner")
        filters = LeadFilters(
            owner=parse_owner(owner) if owner else None,
            stage=data.get("stage") or "",
            missing=data.get("missing") == "true",
            breached=data.get("breached") == "true",
            stale=data.get("stale") == "true",
        )
        return filter_leads(queryset, filters, principal=self.request.auth)


class ReassignInput(StrictSerializer):
    rep = serializers.IntegerField(
        min_value=1,
        max_value=ID_MAX,
        required=False,
        help_text="User id of the tenant's rep, manager or admin (`id` in `/api/v1/members/`).",
    )
    partner = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, required=False, help_text="Id of an active partner."
    )
    reason = serializers.CharField(
        max_length=MAX_REASON_LENGTH, required=False, allow_blank=True, default=""
    )

    def validate(self, attrs):
        if ("rep" in attrs) == ("partner" in attrs):
            raise serializers.ValidationError(
                {"rep": ["Give exactly one of rep and partner: a lead has one owner."]}
            )
        return attrs

    def validate_rep(self, value):
        membership = member_list().filter(user_id=value).first()
        if membership is None:
            raise serializers.ValidationError("No such member of this tenant.")
        return membership.user

    def validate_partner(self, value) -> Partner:
        partner = partner_list().filter(pk=value).first()
        if partner is None:
            raise serializers.ValidationError("No such partner of this tenant.")
        return partner


class ReopenInput(StrictSerializer):
    reason = serializers.CharField(
        max_length=MAX_REASON_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it is reopened; kept in the audit trail and the stage change.",
    )


LEAD_EXAMPLE = {
    "id": 812,
    "stage": "accepted",
    "inquiry": 4411,
    "rep": "robin@example.com",
    "partner": None,
    "score": 72,
    "score_breakdown": [{"rule": "title", "points": 50}],
    "definition_version": 4,
    "profile": {"email": "pat@buyer.example", "company": "Buyer Inc"},
    "appointment": {
        "starts_at": "2026-12-09T15:00:00Z",
        "duration_minutes": 30,
        "location": "",
        "notes": "",
        "message_to_buyer": "",
    },
    "created_at": "2026-12-01T10:12:00Z",
}


class ManageLeadMixin:
    """``POST /api/v1/leads/{id}/reassign/`` and ``/reopen/`` (managers and admins)."""

    def _managed_lead(self):
        lead = self.get_object()  # 404 if the caller cannot see it
        if not is_manager(self.principal):
            raise exceptions.PermissionDenied("Only managers and admins may do this.")
        return lead

    @extend_schema(
        request=ReassignInput,
        examples=[
            OpenApiExample("To a rep", value={"rep": 31, "reason": "Riley is on leave"}),
            OpenApiExample("To a partner", value={"partner": 3}),
            OpenApiExample("Reassigned", value=LEAD_EXAMPLE, response_only=True),
        ],
        description=(
            "Give an open lead to another owner: a rep (user id) or a partner. The new owner "
            "gets it as if just booked: a lead awaiting acceptance gets a fresh acceptance "
            "window. A closed lead is a 409 (`not_open`); an inactive member, a partner's user "
            "given as `rep`, a marketer or a suspended partner a 400. Managers and admins."
        ),
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        lead = self._managed_lead()
        data = ReassignInput(data=request.data)
        data.is_valid(raise_exception=True)
        change_owner(
            lead=lead,
            rep=data.validated_data.get("rep"),
            partner=data.validated_data.get("partner"),
            by=self.principal,
            reason=data.validated_data["reason"],
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request=ReopenInput,
        examples=[
            OpenApiExample("Reopen", value={"reason": "The buyer called back"}),
            OpenApiExample("Reopened", value=LEAD_EXAMPLE, response_only=True),
        ],
        description=(
            "Reopen a closed lead (won, lost, postponed, no-show, rejected): it is accepted "
            "again with its owner and its outcome cleared; audited with the outcome it had. "
            "An open lead is a 409 (`open`), as is one whose person has been booked again "
            "since (`booked_again`). Managers and admins."
        ),
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        lead = self._managed_lead()
        data = ReopenInput(data=request.data)
        data.is_valid(raise_exception=True)
        reopen_lead(lead=lead, by=self.principal, reason=data.validated_data["reason"])
        return Response(self.get_serializer(self.get_object()).data)
