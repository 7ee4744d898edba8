"""Reads of inquiries, their timeline, campaigns, custom fields and definitions."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KeyTextTransform

from inquiries.models import (
    Activity,
    Campaign,
    CustomField,
    Inquiry,
    InquiryEmail,
    LeadDefinition,
    Stage,
)


def inquiry_list() -> QuerySet[Inquiry]:
    """The tenant's inquiries with what the list and detail show (definition version)."""
    return Inquiry.objects.select_related("definition", "campaign", "partner").order_by(
        "-created_at", "-id"
    )


def additional_emails(*, inquiry: Inquiry) -> list[str]:
    """The person's other addresses, kept by merges, alphabetically."""
    found = InquiryEmail.objects.filter(inquiry=inquiry).order_by("email")
    return list(found.values_list("email", flat=True))


def timeline(*, inquiry: Inquiry, limit: int = 200) -> list[Activity]:
    """The person's activities, newest first."""
    return list(Activity.objects.filter(inquiry=inquiry).order_by("-occurred_at", "-id")[:limit])


def activity_list(*, inquiry: Inquiry) -> QuerySet[Activity]:
    """The person's activities, newest first, for a paginated timeline."""
    return Activity.objects.filter(inquiry=inquiry).order_by("-occurred_at", "-id")


def campaign_list() -> QuerySet[Campaign]:
    """Every campaign of the tenant, archived ones too: lookups by id, reports, attribution."""
    return Campaign.objects.order_by("-created_at", "-id")


def campaign_choices() -> QuerySet[Campaign]:
    """The campaigns a person may pick (bulk "add to campaign", the API's default list)."""
    return campaign_list().filter(archived_at__isnull=True)


def custom_field_list() -> QuerySet[CustomField]:
    return CustomField.objects.order_by("label", "id")


def lead_names(ids: tuple[int, ...]) -> list[str]:
    """The names of those among ``ids`` that are leads (their outcome is sales'), by id."""
    rows = Inquiry.objects.filter(pk__in=ids, stage=Stage.LEAD).order_by("pk")
    return [row.display_name for row in rows]


def choice_counts(field: CustomField) -> dict[str, int]:
    """How many of the tenant's inquiries hold each value of ``field`` (one grouped query)."""
    rows = (
        Inquiry.objects.annotate(value=KeyTextTransform(field.key, "custom"))
        .filter(value__isnull=False)
        .values("value")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["value"]: row["n"] for row in rows}


def public_form_fields() -> QuerySet[CustomField]:
    """The custom fields an admin or marketer put on the public form; no other is asked."""
    return custom_field_list().filter(on_public_form=True)


def definition_list() -> QuerySet[LeadDefinition]:
    """Definitions, newest version first, with their sign-offs and signers."""
    return LeadDefinition.objects.prefetch_related("sign_offs__user").order_by("-version")
