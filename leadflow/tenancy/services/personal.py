"""A person's own API tokens and settings."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from leadflow.lib import tokens
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Role, User, UserToken, validate_timezone
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services._common import IssuedSecret, _clean_name, _revoke_once, _when
from leadflow.tenancy.services.audit import record_audit


@transaction.atomic
def issue_user_token(
    *, membership: Membership, name: str = "default", by: Principal
) -> IssuedSecret:
    """Give a member an API token for this tenant."""
    name = _clean_name(name)
    secret = tokens.generate(tokens.USER_TOKEN_KIND, by.tenant.pk)
    token = UserToken.objects.create(
        tenant=by.tenant,
        user=membership.user,
        name=name,
        prefix=tokens.display_prefix(secret),
        token_hash=tokens.digest(secret),
    )
    record_audit(
        action="user_token.issued",
        obj=token,
        after={"user": membership.user.email, "name": name},
        by=by,
    )
    return IssuedSecret(credential=token, secret=secret)


def create_my_token(*, name: str, by: Principal) -> IssuedSecret:
    """Give the acting person a new API token of their own, in the acting tenant.

    The token is always the principal's own: nobody creates a token that acts
    as someone else (an admin gives an integration an API key instead).
    """
    if by.user is None or by.membership is None:
        raise RuleViolation(
            field="user", code="no_person", message="Only a person has API tokens of their own."
        )
    return issue_user_token(membership=by.membership, name=name, by=by)


@transaction.atomic
def revoke_user_token(*, token: UserToken, by: Principal) -> UserToken:
    """Revoke a person's API token at once; requests with it get 401 from then on.

    A person revokes their own tokens; an admin revokes any member's (the
    callers look the token up among those the principal may reach, so another
    person's token is a 404 before this runs). The token a request
    authenticated with cannot revoke itself: the caller would lock itself out
    mid-request, and an API run (the CI's fuzzing among them) would lose its
    credential to a guessed id. Revoke it from the tokens page or with another
    token.
    """
    if by.user_token is not None and by.user_token.pk == token.pk:
        raise RuleViolation(
            field="token",
            code="current_token",
            message="This request is authenticated with this token, so it cannot revoke it; "
            "revoke it on the API tokens page (/settings/tokens/) or with another token.",
            conflict=True,
        )
    own = by.user is not None and by.user.pk == token.user_id
    if not own and not _is_admin(by):
        raise RuleViolation(
            field="token", code="not_yours", message="Only its owner or an admin may revoke it."
        )
    _revoke_once(token, noun="token")
    record_audit(
        action="user_token.revoked",
        obj=token,
        after={
            "user": token.user.email,
            "name": token.name,
            "revoked_at": _when(token.revoked_at),
        },
        by=by,
    )
    return token


def _is_admin(by: Principal) -> bool:
    return by.has_role(Role.ADMIN) and not by.is_partner


@transaction.atomic
def update_my_settings(*, full_name: str, timezone_name: str, by: Principal) -> User:
    """Change the acting person's own name and the time zone they read times in.

    A blank zone means the tenant's. Only the person themselves changes these,
    so the user is the principal's, never one named by the caller.
    """
    user = by.user
    if user is None:
        raise RuleViolation(
            field="user", code="no_person", message="Only a person has their own settings."
        )
    full_name = " ".join(full_name.split())
    if len(full_name) > 150:
        raise RuleViolation(
            field="full_name", code="too_long", message="Give a name of at most 150 characters."
        )
    timezone_name = timezone_name.strip()
    if timezone_name:
        try:
            validate_timezone(timezone_name)
        except ValidationError as exc:
            raise RuleViolation(field="timezone", code="invalid", message=exc.messages[0]) from None
    before = {"full_name": user.full_name, "timezone": user.timezone}
    after = {"full_name": full_name, "timezone": timezone_name}
    if before == after:
        return user
    user.full_name = full_name
    user.timezone = timezone_name
    user.save(update_fields=["full_name", "timezone"])
    record_audit(action="user.settings_changed", obj=user, before=before, after=after, by=by)
    return user
