"""Input and output shapes of the inquiries API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inquiries.models import (
    RECORDABLE_ACTIVITY_KINDS,
    Activity,
    Campaign,
    Consent,
    CustomField,
    CustomFieldKind,
    Inquiry,
    Source,
    Timeline,
)
from inquiries.selectors.inquiries import campaign_list, custom_field_list
from inquiries.services.custom_fields import clean_custom_values
from inquiries.services.validation import (
    MAX_LENGTHS,
    clean_country,
    country_codes,
)
from leadflow.lib.company_size import COMPANY_SIZE_MAX, COMPANY_SIZE_MIN, parse_company_size
from leadflow.lib.json_input import JsonTypedInput
from leadflow.lib.openapi import documented


class StrictSerializer(JsonTypedInput, serializers.Serializer):
    """Rejects fields it does not know instead of silently dropping them."""

    # The OpenAPI schema closes its body (additionalProperties: false).
    rejects_unknown_fields = True

    def validate(self, attrs):
        unknown = set(getattr(self, "initial_data", {}) or {}) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in sorted(unknown)}
            )
        return attrs


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": COMPANY_SIZE_MIN, "maximum": COMPANY_SIZE_MAX},
            {"type": "string", "example": "51-200"},
        ],
        "nullable": True,
        "description": 'A head count (250, "1,000") or a band ("51-200", "1000+"); '
        "a band is stored as its lower bound.",
    }
)
class CompanySizeField(serializers.Field):
    """A company size as a number or as spreadsheets write it; read as a whole number."""

    default_error_messages = {"invalid": "Give a number of employees or a range such as 51-200."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        if isinstance(data, float):
            if not data.is_integer():
                raise serializers.ValidationError(f"{data} is not a whole number of employees.")
            data = int(data)
        try:
            return parse_company_size(str(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "type": "string",
        "enum": ["", *sorted(country_codes())],
        "description": "ISO 3166-1 alpha-2 country code; lower case is accepted and stored "
        "in capitals, an empty string clears it.",
    }
)
class CountryField(serializers.CharField):
    """An ISO 3166-1 alpha-2 country code (any case), checked against the maintained list."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if text == "":
            return text
        try:
            return clean_country(text)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None


class InquiryInput(StrictSerializer):
    first_name = serializers.CharField(
        max_length=MAX_LENGTHS["first_name"], required=False, allow_blank=True
    )
    last_name = serializers.CharField(
        max_length=MAX_LENGTHS["last_name"], required=False, allow_blank=True
    )
    email = serializers.EmailField(
        max_length=MAX_LENGTHS["email"], required=False, allow_blank=True
    )
    phone = serializers.CharField(max_length=MAX_LENGTHS["phone"], required=False, allow_blank=True)
    title = serializers.CharField(max_length=MAX_LENGTHS["title"], required=False, allow_blank=True)
    company = serializers.CharField(
        max_length=MAX_LENGTHS["company"], required=False, allow_blank=True
    )
    company_size = CompanySizeField(required=False, allow_null=True)
    industry = serializers.CharField(
        max_length=MAX_LENGTHS["industry"], required=False, allow_blank=True
    )
    country = CountryField(required=False, allow_blank=True)
    region = serializers.CharField(
        max_length=MAX_LENGTHS["region"], required=False, allow_blank=True
    )
    interest = serializers.CharField(
        max_length=MAX_LENGTHS["interest"], required=False, allow_blank=True
    )
    timeline = serializers.ChoiceField(choices=Timeline.choices, required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    campaign = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    consent = serializers.ChoiceField(choices=Consent.choices, required=False)
    external_source = serializers.CharField(
        max_length=MAX_LENGTHS["external_source"], required=False, allow_blank=True
    )
    external_id = serializers.CharField(
        max_length=MAX_LENGTHS["external_id"], required=False, allow_blank=True
    )
    custom = serializers.DictField(required=False)
    activity_details = serializers.DictField(required=False)

    def validate_campaign(self, value):
        if value is None:
            return None
        campaign = campaign_list().filter(pk=value).first()
        if campaign is None:
            raise serializers.ValidationError("No such campaign.")
        return campaign

    def validate_activity_details(self, value):
        if len(str(value)) > 10_000:
            raise serializers.ValidationError("At most 10 kB of details.")
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        fields = {f.key: f for f in custom_field_list()}
        custom, errors = clean_custom_values(attrs.get("custom"), fields)
        if errors:
            raise serializers.ValidationError(errors)
        attrs["custom"] = custom
        if not self.partial and not (
            attrs.get("email") or attrs.get("phone") or attrs.get("external_id")
        ):
            raise serializers.ValidationError(
                {"email": ["Give at least one of email, phone or external_id."]}
            )
        return attrs


class InquiryChange(InquiryInput):
    """A correction of the person's profile (PATCH): the profile fields and ``custom`` only."""

    source = None
    campaign = None
    consent = None
    external_source = None
    external_id = None
    activity_details = None


class ActivityInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=RECORDABLE_ACTIVITY_KINDS)
    occurred_at = serializers.DateTimeField(required=False)
    details = serializers.DictField(required=False)

    def validate_details(self, value):
        if len(str(value)) > 10_000:
            raise serializers.ValidationError("At most 10 kB of details.")
        return value


class ActivityOutput(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ["id", "kind", "occurred_at", "details"]


class InquiryOutput(serializers.ModelSerializer):
    definition_version = serializers.IntegerField(
        source="definition.version", allow_null=True, default=None
    )
    campaign = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    partner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    assigned_to = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Inquiry
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "company",
            "company_domain",
            "company_size",
            "industry",
            "country",
            "region",
            "interest",
            "timeline",
            "source",
            "campaign",
            "partner",
            "consent",
            "external_source",
            "external_id",
            "custom",
            "stage",
            "behaviour_level",
            "score",
            "fit_score",
            "engagement_score",
            "score_breakdown",
            "definition_version",
            "scored_at",
            "created_at",
            "updated_at",
            "last_activity_at",
            "assigned_to",
            "disqualified_reason",
            "outcome",
            "outcome_on",
            "outcome_value",
        ]


class CampaignSerializer(JsonTypedInput, serializers.ModelSerializer):
    rejects_unknown_fields = True
    spend = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    archived_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the campaign was archived (out of the pickers, kept in reports); "
        "null while current.",
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "source",
            "spend",
            "starts_on",
            "ends_on",
            "created_at",
            "archived_at",
        ]
        read_only_fields = ["id", "created_at", "archived_at"]


class CampaignChange(StrictSerializer):
    """``PATCH /api/v1/campaigns/{id}/``: only the fields sent change."""

    name = serializers.CharField(max_length=200, required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    spend = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    archived = serializers.BooleanField(
        required=False,
        help_text="true archives the campaign (hidden from pickers and the default list, "
        "kept in reports); false restores it.",
    )


class CustomFieldSerializer(JsonTypedInput, serializers.ModelSerializer):
    rejects_unknown_fields = True
    # What define_custom_field takes: trimmed and lower-cased, then ^[a-z][a-z0-9_]{0,49}$.
    key = documented(
        serializers.CharField,
        {"type": "string", "pattern": r"^\s*[A-Za-z][A-Za-z0-9_]{0,49}\s*$"},
    )(max_length=100, trim_whitespace=False)  # the service trims; the length counts as sent
    kind = serializers.ChoiceField(choices=CustomFieldKind.choices)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100
    )
    on_public_form = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "Asked on the public form /f/<tenant>/. Off unless set; only admins and marketers "
            "may set it."
        ),
    )

    class Meta:
        model = CustomField
        fields = [
            "id",
            "key",
            "label",
            "kind",
            "choices",
            "on_public_form",
            "required",
            "open_choices",
        ]
        read_only_fields = ["id", "required"]


class CustomFieldChange(StrictSerializer):
    on_public_form = serializers.BooleanField(
        required=False,
        help_text="Put the field on the public form (true) or take it off (false).",
    )
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        min_length=1,
        max_length=100,
        help_text="A choice field's choices, all of them, in order (edits, adds, removes).",
    )
    open_choices = serializers.BooleanField(
        required=False,
        help_text="A choice field takes new values (an import offers each unseen one).",
    )
    renames = serializers.DictField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="Current choice → its new text (which must be in `choices`, or is put in its "
        "place when `choices` is not given); inquiries holding the old value get the new one. "
        "Removing a choice that inquiries hold is refused (400 on choices, with the count).",
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                {"on_public_form": ["Give on_public_form, choices, renames or open_choices."]}
            )
        return attrs
