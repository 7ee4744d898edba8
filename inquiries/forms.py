"""The public inquiry form: profile, the tenant's own qualifiers, and a honeypot."""

from __future__ import annotations

from django import forms

from inquiries.models import CustomField, CustomFieldKind, Timeline
from inquiries.services.validation import clean_country
from leadflow.lib.company_size import parse_company_size

HONEYPOT = "website"


class CompanySizeFormField(forms.CharField):
    """Employees as people write them ("250", "51-200", "1000+"); cleaned to a whole number."""

    def clean(self, value):
        text = super().clean(value)  # a text of at most ``max_length`` first
        if text in self.empty_values:
            return None
        try:
            return parse_company_size(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class PublicInquiryForm(forms.Form):
    """What a buyer fills in on the tenant's site; doubles as self-qualification."""

    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(max_length=254)
    phone = forms.CharField(max_length=40, required=False)
    company = forms.CharField(max_length=200, required=False)
    title = forms.CharField(max_length=200, required=False, label="Job title")
    company_size = CompanySizeFormField(
        max_length=60,
        required=False,
        label="Employees",
        widget=forms.TextInput(attrs={"placeholder": "e.g. 250 or 51-200"}),
    )
    industry = forms.CharField(max_length=100, required=False)
    country = forms.CharField(required=False, max_length=2, label="Country (2 letters)")
    interest = forms.CharField(max_length=200, required=False, label="What are you interested in?")
    timeline = forms.ChoiceField(
        choices=Timeline.choices, initial=Timeline.UNKNOWN, label="When do you plan to buy?"
    )
    consent = forms.BooleanField(required=False, label="Send me occasional useful emails")
    # Hidden from people (and from screen readers, so kept out of the tab order too).
    website = forms.CharField(
        required=False,
        label="Leave this empty",
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, custom_fields: list[CustomField], **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_fields = custom_fields
        for field in custom_fields:
            self.fields[f"custom__{field.key}"] = _form_field(field)

    def clean_country(self) -> str:
        text = self.cleaned_data["country"]
        if not text:
            return text
        try:
            return clean_country(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def custom_values(self) -> dict:
        return {
            field.key: self.cleaned_data.get(f"custom__{field.key}")
            for field in self.custom_fields
            if self.cleaned_data.get(f"custom__{field.key}") not in (None, "")
        }


def _form_field(field: CustomField) -> forms.Field:
    made = _typed_form_field(field)
    made.required = field.required
    return made


def _typed_form_field(field: CustomField) -> forms.Field:
    if field.kind == CustomFieldKind.NUMBER:
        return forms.DecimalField(
            label=field.label, required=False, max_digits=18, decimal_places=4
        )
    if field.kind == CustomFieldKind.BOOLEAN:
        return forms.TypedChoiceField(
            label=field.label, required=False, choices=[("", "—"), ("yes", "Yes"), ("no", "No")]
        )
    if field.kind == CustomFieldKind.CHOICE:
        return forms.ChoiceField(
            label=field.label, required=False, choices=[("", "—"), *[(c, c) for c in field.choices]]
        )
    return forms.CharField(label=field.label, required=False, max_length=500)
