"""Private checks shared by more than one services module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import (
    ApiKey,
    Partner,
    PartnerStatus,
    Role,
    User,
    UserToken,
    normalize_email,
)


def _clean_email(email: str) -> str:
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise RuleViolation(
            field="email", code="invalid", message=f"{email!r} is not a valid email address."
        ) from None
    return email


def _check_role_choice(role: str, partner: Partner | None) -> None:
    """A known role, and a partner's user only as the partner's rep."""
    if role not in Role.values:
        raise RuleViolation(
            field="role",
            code="invalid_choice",
            message=f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.",
        )
    if partner is not None and role != Role.REP:
        raise RuleViolation(
            field="role", code="invalid", message="A partner user acts as a rep for the partner."
        )


def _check_role(role: str, partner: Partner | None) -> None:
    _check_role_choice(role, partner)
    if partner is not None and partner.status != PartnerStatus.ACTIVE:
        raise RuleViolation(
            field="partner",
            code="suspended",
            message=f"{partner.name} is suspended; reactivate the partner first.",
        )


def _check_password(password: str, email: str, *, full_name: str = "") -> None:
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password, User(email=email, full_name=full_name))
    except ValidationError as exc:
        raise RuleViolation(field="password", code="weak", message=" ".join(exc.messages)) from None


@dataclass(frozen=True)
class IssuedSecret:
    """A credential row and its secret, which is shown exactly once."""

    credential: ApiKey | UserToken
    secret: str


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–100 characters."
        )
    return name


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _revoke_once(credential: ApiKey | UserToken, *, noun: str) -> None:
    """Stamp ``revoked_at`` with a conditional UPDATE, so two revocations cannot both win."""
    updated = (
        type(credential)
        .objects.filter(pk=credential.pk, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )
    if not updated:
        raise RuleViolation(
            field="revoked_at",
            code="already_revoked",
            message=f"The {noun} is already revoked.",
            conflict=True,
        )
    credential.refresh_from_db(fields=["revoked_at"])
