from django import forms
from django.contrib.auth.forms import AuthenticationForm

from leadflow.lib import times
from leadflow.tenancy.models import Role


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


def role_choices(partners) -> list[tuple[str, str]]:
    """The roles, then one "Partner — <name>" entry per active partner (a partner's user)."""
    return [
        *Role.choices,
        *((f"partner:{partner.pk}", f"Partner — {partner.name}") for partner in partners),
    ]


class RoleField(forms.ChoiceField):
    """A role, or ``partner:<id>``; cleans to ``(role, partner)``."""

    def __init__(self, *args, partners, **kwargs):
        self.partners = {partner.pk: partner for partner in partners}
        super().__init__(*args, choices=role_choices(partners), **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value.startswith("partner:"):
            return Role.REP, self.partners[int(value.removeprefix("partner:"))]
        return value, None


def role_value(role: str, partner) -> str:
    """The choice a ``RoleField`` shows for a role and partner."""
    return f"partner:{partner.pk}" if partner is not None else role


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args, partners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"] = RoleField(
            label="Role",
            partners=partners,
            help_text="A partner's user works the leads of that partner only.",
        )
        # No role is preselected: an invitation as admin must be a choice, not a default.
        self.fields["role"].choices = [("", "Choose a role…"), *self.fields["role"].choices]


class RoleForm(forms.Form):
    def __init__(self, *args, partners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"] = RoleField(label="Role", partners=partners)


class AcceptInvitationForm(forms.Form):
    """A new member's name and password; the password meets Django's validators."""

    full_name = forms.CharField(
        label="Your name",
        max_length=150,
        help_text="Shown to your colleagues instead of your email.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common or all-numeric password.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") != data.get("password1"):
            self.add_error("password2", "The two passwords differ.")
        return data
