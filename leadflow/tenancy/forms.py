from django import forms
from django.contrib.auth.forms import AuthenticationForm

from leadflow.lib import times


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class MySettingsForm(forms.Form):
    """The person's own name and time zone; the zone list is the IANA database's."""

    full_name = forms.CharField(
        label="Your name",
        max_length=150,
        required=False,
        help_text="Shown instead of your email wherever you appear.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    timezone = forms.ChoiceField(label="Time zone", required=False)

    def __init__(self, *args, tenant_timezone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            ("", f"The organisation's: {tenant_timezone}"),
            *((name, name) for name in times.zone_names()),
        ]
        self.fields[
            "timezone"
        ].help_text = "Every time in LeadFlow is shown in this zone, with the zone named."


class NewTokenForm(forms.Form):
    """The name of a new API token; the secret is made by the service."""

    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="What it is for, so you recognise it later: “laptop”, “CI”, “Zapier”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
