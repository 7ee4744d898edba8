"""An invitation's link: its token, the stored digest, the tenant it names, and its email.

A token looks like ``lfi_<tenant id>_<43 characters>``. The tenant id in clear
lets the accept page select the tenant before it looks the invitation up, so
the lookup runs under row-level security. The random part is an HMAC of the
invitation's tenant and nonce under the secret key: the database holds only the
nonce and the token's SHA-256 digest, and the outbox's invitation sender derives
the token again from ids alone, so no token travels through the broker or sits
in a row (not even the outbox's).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils.crypto import salted_hmac

from leadflow.lib import times

PREFIX = "lfi"
_SALT = "leadflow.tenancy.invitation"


def new_nonce() -> str:
    return secrets.token_hex(16)


def token(invitation) -> str:
    # The tenant and the nonce, not the id: the token is made before the row is saved.
    mac = salted_hmac(_SALT, f"{invitation.tenant_id}:{invitation.token_nonce}", algorithm="sha256")
    random_part = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    return f"{PREFIX}_{invitation.tenant_id}_{random_part}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tenant_of(secret: str) -> int | None:
    """The tenant a presented token names; ``None`` when it is not an invitation token."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit() or len(secret) > 200:
        return None
    if len(parts[2]) < 20:
        return None
    return int(parts[1])


def outbox_key(invitation) -> str:
    """The outbox key of the email of the invitation's current link (a resend is a new one)."""
    return f"invitation:{invitation.pk}:{invitation.token_nonce}"


def link(secret: str, base_url: str) -> str:
    """The absolute accept link: under ``SITE_URL`` when set, else the inviting request's."""
    base = (settings.SITE_URL or base_url).rstrip("/")
    return base + reverse("invitation-accept", args=[secret])


def email(invitation, base_url: str, *, message_id: str) -> EmailMessage:
    """The invitation email: who invites, to what, the link and until when it works.

    ``message_id`` is the outbox message's (stable per link, so a repeat after
    a crash is recognisably the same email); the token is derived here, at
    send time, and exists nowhere else.
    """
    tenant = invitation.tenant
    inviter = invitation.invited_by
    who = inviter.display_name if inviter is not None else f"The {tenant.name} team"
    zone = times.zone(tenant.timezone)
    expires = times.shown(invitation.expires_at, zone)
    lines = [
        f"{who} invited you to join {tenant.name} on LeadFlow as {invitation.role_label}.",
        "",
        "Accept the invitation here:",
        link(token(invitation), base_url),
        "",
        f"The link works until {expires}. If you have no LeadFlow login yet, you choose "
        "your name and password on that page; if you have one, log in and accept.",
        "",
        "If you did not expect this invitation, ignore this email.",
    ]
    return EmailMessage(
        subject=f"{who} invited you to {tenant.name} on LeadFlow",
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
        reply_to=[inviter.email] if inviter is not None else None,
        headers={"Message-ID": message_id},
    )
