"""The contact's unsubscribe link: signed, tamper-proof, and free of internal ids.

The link carries the tenant's public slug and the contact's random token
(``ContactConsent.token``), signed with ``django.core.signing`` under the
secret key: the slug selects the tenant, so the token is looked up under
row-level security; a changed character fails the signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "nurture.unsubscribe"
UNSUBSCRIBE_SALT = _SALT
# The double opt-in's confirmation link: same shape, its own salt (one never works as the other).
CONFIRM_SALT = "nurture.confirm"


def _signer(salt: str = _SALT) -> signing.Signer:
    return signing.Signer(salt=salt, algorithm="sha256")


def unsubscribe_token(*, tenant_slug: str, contact_token: str) -> str:
    return _signer().sign(f"{tenant_slug}.{contact_token}")


def confirm_token(*, tenant_slug: str, contact_token: str) -> str:
    return _signer(CONFIRM_SALT).sign(f"{tenant_slug}.{contact_token}")


@dataclass(frozen=True)
class Unsigned:
    tenant_slug: str
    contact_token: str


def read_token(token: str, *, salt: str = _SALT) -> Unsigned | None:
    """The slug and contact token of a link; ``None`` when it was changed or is not ours."""
    if len(token) > 300:
        return None
    try:
        value = _signer(salt).unsign(token)
    except signing.BadSignature:
        return None
    slug, _, contact = value.partition(".")
    if not slug or not contact:
        return None
    return Unsigned(tenant_slug=slug, contact_token=contact)


def base_url() -> str:
    return settings.SITE_URL or "http://localhost:8000"


def unsubscribe_url(token: str) -> str:
    return base_url() + reverse("nurture-unsubscribe", args=[token])


def confirm_url(token: str) -> str:
    return base_url() + reverse("nurture-confirm", args=[token])
