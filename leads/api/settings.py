"""``GET/PATCH /api/v1/lead-settings/``: the tenant's lead rules, one object per tenant.

Admins and managers read and change them (others, partners included, 403);
a tenant that never changed them reads the defaults. PATCH changes only the
fields sent, through the same service as the page ``/settings/leads/``; a
refused value is a 400 naming its field, and nothing changes.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.serializers import StrictSerializer
from inquiries.selectors.phones import latest_phone_job
from leadflow.tenancy.permissions import role_required
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import LeadSettings
from leads.selectors.settings import lead_settings
from leads.services.settings import (
    MAX_LOST_REASON_LENGTH,
    MAX_LOST_REASONS,
    settings_snapshot,
    update_lead_settings,
)


class PhoneJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="queued, running, done or failed.")
    country = serializers.CharField(
        source="region", help_text="The country parsed in; blank: none."
    )
    total = serializers.IntegerField(help_text="Inquiries with a phone when it started.")
    done = serializers.IntegerField()
    changed = serializers.IntegerField(help_text="Stored numbers that changed.")
    shared_numbers = serializers.IntegerField(
        source="shared", help_text="Numbers now shared by several inquiries (once done)."
    )
    finished_at = serializers.DateTimeField(allow_null=True)


class TeamRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class LeadSettingsOutput(serializers.Serializer):
    acceptance_business_days = serializers.IntegerField(
        help_text="Business days (Mon–Fri, tenant's time zone) an owner has to accept a lead."
    )
    touch_minimum = serializers.IntegerField(
        help_text="Touches a lead needs before it may be lost for another reason than "
        '"buyer declined".'
    )
    touch_cliff = serializers.IntegerField(
        help_text="The touch count where reps usually give up; flagged on the lead."
    )
    lost_reasons = serializers.ListField(child=serializers.CharField())
    postponed_to_nurture = serializers.BooleanField(
        help_text="false: a postponed lead returns to its owner on its date; true: to nurture."
    )
    reminder_hours_before = serializers.IntegerField(
        help_text="Hours before a meeting the reminder goes out."
    )
    recall_after_days = serializers.IntegerField(
        help_text="An accepted lead with no touch or update for this many days is recalled and "
        "routed again; 0: never recall idle leads."
    )
    cost_per_lead = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text="What one lead costs marketing, in `currency` (reports price unworked leads).",
    )
    protection_days = serializers.IntegerField(
        help_text="Days a lead from a partner's deal registration stays that partner's, "
        "safe from recall; 0: no protection."
    )
    currency = serializers.CharField(help_text="The tenant's currency (ISO 4217), read-only.")
    timezone = serializers.CharField(
        help_text="The tenant's IANA time zone: its days, weeks and reminders."
    )
    country = serializers.CharField(
        help_text="The tenant's ISO 3166-1 alpha-2 country (phones are parsed in it); blank: none."
    )
    phone_job = PhoneJobOutput(
        allow_null=True,
        help_text="The latest re-normalisation of stored phones (started by a change of country).",
    )
    suspend_after_weeks = serializers.IntegerField(
        help_text="A partner with missing weekly updates in this many consecutive ISO weeks is "
        "suspended from new leads (warned the week before); reinstated once it reports."
    )
    recall_on_suspension = serializers.BooleanField(
        help_text="On such a suspension, recall the partner's open leads to be routed again."
    )
    default_team = TeamRef(
        allow_null=True,
        help_text="Where a lead matching no routing rule goes (set with the routing rules); "
        "null: round robin over the active reps. Read-only here.",
    )


class LeadSettingsChange(StrictSerializer):
    """Only the fields sent change; the ranges are the service's (a 400 names the field)."""

    acceptance_business_days = serializers.IntegerField(required=False, help_text="1 to 10.")
    touch_minimum = serializers.IntegerField(required=False, help_text="1 to 30.")
    touch_cliff = serializers.IntegerField(
        required=False, help_text="1 to the touch minimum (the new one, if sent too)."
    )
    lost_reasons = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text=f"1 to {MAX_LOST_REASONS} reasons, each at most {MAX_LOST_REASON_LENGTH} "
        'characters, distinct ignoring case, including "buyer declined".',
    )
    postponed_to_nurture = serializers.BooleanField(required=False)
    reminder_hours_before = serializers.IntegerField(required=False, help_text="1 to 168.")
    recall_after_days = serializers.IntegerField(
        required=False, help_text="0 to 90; 0: never recall idle leads."
    )
    cost_per_lead = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        required=False,
        help_text='0 to 100000, to the cent ("200.00"), in the tenant\'s currency.',
    )
    suspend_after_weeks = serializers.IntegerField(required=False, help_text="1 to 8.")
    recall_on_suspension = serializers.BooleanField(required=False)
    protection_days = serializers.IntegerField(
        required=False, help_text="0 to 365; 0: a registered deal's lead is not protected."
    )
    timezone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The tenant's IANA time zone (Europe/Berlin); changes days, weeks and "
        "reminders for everyone in the tenant.",
    )
    country = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2,
        help_text="The tenant's ISO 3166-1 alpha-2 country (DE); blank: none. A change starts "
        "parsing every stored phone again in the background (see phone_job).",
    )


SETTINGS_EXAMPLE = {
    "acceptance_business_days": 2,
    "touch_minimum": 8,
    "touch_cliff": 4,
    "lost_reasons": [
        "buyer declined",
        "chose a competitor",
        "no budget",
        "no decision",
        "no response",
        "not a fit",
    ],
    "postponed_to_nurture": False,
    "reminder_hours_before": 24,
    "recall_after_days": 14,
    "cost_per_lead": "200.00",
    "protection_days": 90,
    "currency": "USD",
    "timezone": "America/Chicago",
    "country": "US",
    "phone_job": None,
    "default_team": None,
    "suspend_after_weeks": 2,
    "recall_on_suspension": False,
}


def _output(row: LeadSettings, principal: Principal) -> dict:
    team = row.default_team if row.default_team_id is not None else None
    return LeadSettingsOutput(
        {
            **settings_snapshot(row),
            "currency": principal.tenant.currency,
            "timezone": principal.tenant.timezone,
            "country": principal.tenant.country,
            "phone_job": latest_phone_job(),
            "default_team": team,
        }
    ).data


class LeadSettingsView(APIView):
    """The tenant's lead rules: acceptance window, touch minimum and cliff, lost reasons, …"""

    permission_classes = [role_required(*MANAGERS)]

    @extend_schema(
        responses=LeadSettingsOutput,
        examples=[OpenApiExample("The defaults", response_only=True, value=SETTINGS_EXAMPLE)],
    )
    def get(self, request):
        return Response(_output(lead_settings(), request.auth))

    @extend_schema(
        request=LeadSettingsChange,
        responses=LeadSettingsOutput,
        examples=[
            OpenApiExample(
                "A longer acceptance window, postponed leads to nurture",
                request_only=True,
                value={"acceptance_business_days": 3, "postponed_to_nurture": True},
            ),
            OpenApiExample(
                "After the change",
                response_only=True,
                value={
                    **SETTINGS_EXAMPLE,
                    "acceptance_business_days": 3,
                    "postponed_to_nurture": True,
                },
            ),
        ],
    )
    def patch(self, request):
        data = LeadSettingsChange(data=request.data)
        data.is_valid(raise_exception=True)
        row = update_lead_settings(by=request.auth, **data.validated_data)
        return Response(_output(row, request.auth))
