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


# --- Tracked links: a click on a nurture email's link, an open of its pixel -------------------

# Each has its own salt, so no other signed value (an unsubscribe token) works as one.
CLICK_SALT = "nurture.click"
OPEN_SALT = "nurture.open"
# A link stays valid this long after its email was built; later it is a 404 (the
# address was in the email, so the reader can still type it).
CLICK_MAX_AGE_DAYS = 180
# Longest token accepted (a click token carries the target address, compressed).
MAX_TOKEN = 3000


@dataclass(frozen=True)
class Tracked:
    """What a click or open token carries: the tenant's slug, the send (enrollment and step),
    and for a click the address it leads to (an ``https``/``http`` URL that was in the email)."""

    tenant_slug: str
    enrollment_id: int
    step_id: int
    url: str = ""


def _timestamp_signer(salt: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=salt, algorithm="sha256")


def click_token(*, tenant_slug: str, enrollment_id: int, step_id: int, url: str) -> str:
    """``/r/<token>/``: JSON ``[slug, enrollment, step, url]`` (base64, zlib when shorter),
    timestamped and signed."""
    return _timestamp_signer(CLICK_SALT).sign_object(
        [tenant_slug, enrollment_id, step_id, url], compress=True
    )


def open_token(*, tenant_slug: str, enrollment_id: int, step_id: int) -> str:
    return _timestamp_signer(OPEN_SALT).sign_object([tenant_slug, enrollment_id, step_id])


def read_tracked(token: str, *, salt: str) -> Tracked | None:
    """The click's or open's content; ``None`` when changed, expired, or of the wrong shape."""
    if len(token) > MAX_TOKEN:
        return None
    try:
        value = _timestamp_signer(salt).unsign_object(token, max_age=CLICK_MAX_AGE_DAYS * 24 * 3600)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(value, list) or len(value) not in (3, 4):
        return None
    slug, enrollment_id, step_id, *rest = value
    url = rest[0] if rest else ""
    if not (
        isinstance(slug, str)
        and isinstance(enrollment_id, int)
        and isinstance(step_id, int)
        and isinstance(url, str)
    ):
        return None
    if salt == CLICK_SALT and not url.startswith(("https://", "http://")):
        return None
    return Tracked(tenant_slug=slug, enrollment_id=enrollment_id, step_id=step_id, url=url)


def click_url(token: str) -> str:
    return base_url() + reverse("nurture-click", args=[token])


def open_url(token: str) -> str:
    return base_url() + reverse("nurture-open", args=[token])
