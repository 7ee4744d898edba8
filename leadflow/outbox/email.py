"""The built-in "email" sender: Django's email backend, one stable Message-ID per key.

The payload is ``{"subject", "text", "html"?, "calendar"?, "reply_to"?,
"attachments"?}``, each attachment ``{"filename", "content", "mimetype"}``
(text content, such as an ``.ics``); ``calendar`` is an invitation shown
inline (``text/calendar; method=REQUEST``), so mail programs offer accept and
decline. The recipient is one address. Nothing else reaches the email:
no tenant id, no key, no internal header.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.validators import validate_email

from leadflow.outbox.senders import PermanentFailure, TransientFailure, message_identity

if TYPE_CHECKING:
    from leadflow.outbox.models import OutboxMessage

PAYLOAD_FIELDS = frozenset({"subject", "text", "html", "calendar", "reply_to", "attachments"})
CALENDAR_MIMETYPE = "text/calendar; method=REQUEST"  # Django adds charset=utf-8
ATTACHMENT_FIELDS = frozenset({"filename", "content", "mimetype"})


def check_payload(recipient: str, payload: Mapping[str, Any]) -> None:
    """Refuse an email that could not be sent, or that carries a field it must not."""
    unknown = set(payload) - PAYLOAD_FIELDS
    if unknown:
        raise ValueError(f"an email payload has no field(s) {sorted(unknown)}")
    if not isinstance(payload.get("subject"), str) or not isinstance(payload.get("text"), str):
        raise ValueError("an email payload needs a subject and a text body")
    for attachment in payload.get("attachments", []):
        if set(attachment) != ATTACHMENT_FIELDS:
            raise ValueError("an attachment is exactly {filename, content, mimetype}")
    try:
        validate_email(recipient)
    except ValidationError:
        raise ValueError(f"{recipient!r} is not an email address") from None


def message_id(message: OutboxMessage) -> str:
    domain = settings.OUTBOX_MESSAGE_ID_DOMAIN or _domain_of(settings.DEFAULT_FROM_EMAIL)
    return f"<{message_identity(message)}@{domain}>"


def _domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip(" >") or "leadflow.invalid"


def build_email(message: OutboxMessage) -> EmailMultiAlternatives:
    payload = message.payload
    reply_to = payload.get("reply_to")
    email = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["text"],
        to=[message.recipient],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id(message)},
    )
    if payload.get("html"):
        email.attach_alternative(payload["html"], "text/html")
    if payload.get("calendar"):
        email.attach_alternative(payload["calendar"], CALENDAR_MIMETYPE)
    for attachment in payload.get("attachments", []):
        email.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
    return email


def send_email(message: OutboxMessage) -> None:
    """The ``email`` sender: the payload built into an email, sent by :func:`deliver`."""
    deliver(build_email(message))


def deliver(email: EmailMessage) -> None:
    """Send one built email; SMTP 4xx and network trouble are transient, 5xx and bad addresses not.

    Every sender of email goes through here (the ``email`` kind, invitations),
    so an SMTP answer means the same retry or failure whatever sent it.
    """
    for address in email.recipients():
        try:
            validate_email(address)
        except ValidationError:
            raise PermanentFailure(f"{address!r} is not an email address") from None
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _text in error.recipients.values()]
        reason = f"the mail server refused the recipient ({', '.join(map(str, codes))})"
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(reason) from None
        raise TransientFailure(reason) from None
    except smtplib.SMTPResponseException as error:
        text = error.smtp_error
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        reason = f"the mail server answered {error.smtp_code}: {text}"[:500]
        if error.smtp_code >= 500:
            raise PermanentFailure(reason) from None
        raise TransientFailure(reason) from None
    except (smtplib.SMTPException, OSError) as error:
        raise TransientFailure(f"the mail server could not be reached: {error}"[:500]) from None
