"""The nurture email: rendered at send time, compliant, optionally DKIM-signed.

The ``nurture_email`` outbox kind carries only the enrollment's and step's ids;
the sender loads them, checks consent *now* (an unsubscribe between the
scheduler's run and the send wins), renders the step's subject and body with
the contact's merge fields, and builds a multipart email: plain text and
HTML (CSS inlined by css-inline), the tenant's postal address in the footer,
``List-Unsubscribe`` (https first, then mailto) and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (RFC 8058). With a DKIM key in the tenant's
settings the exact bytes are signed once and those bytes are what the
backend sends, so no later re-folding of a long header can break the
signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING, Any

import css_inline
import dkim
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from leadflow.outbox.email import deliver, message_id
from leadflow.outbox.senders import PermanentFailure
from leadflow.tenancy.models import Tenant
from nurture import links
from nurture.models import Enrollment, EnrollmentState, NurtureSettings, NurtureStep

if TYPE_CHECKING:
    from leadflow.outbox.models import OutboxMessage

# Headers the DKIM signature covers (the unsubscribe headers must be among them).
SIGNED_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"Reply-To",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
]


class _RawMessage:
    """Exactly the signed bytes, for the backends (SMTP, file, locmem) to send as they are."""

    def __init__(self, raw: bytes):
        self.raw = raw.replace(b"\r\n", b"\n")

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        return self.raw.replace(b"\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(linesep=linesep).decode()

    def get_charset(self) -> None:
        return None

    def __getitem__(self, name: str) -> Any:
        """A header's value, read from the bytes (as a receiver would)."""
        return message_from_bytes(self.raw)[name]


class SignedEmail(EmailMultiAlternatives):
    """An email built once and DKIM-signed; ``message()`` returns those same bytes every time."""

    def __init__(self, *args: Any, dkim_key: tuple[str, str, str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._dkim_key = dkim_key
        self._signed: _RawMessage | None = None

    def message(self, *args: Any, **kwargs: Any) -> Any:
        if self._signed is None:
            raw = super().message(*args, **kwargs).as_bytes(linesep="\r\n")
            selector, domain, key = self._dkim_key
            signature = dkim.sign(
                raw,
                selector.encode(),
                domain.encode(),
                key.encode(),
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=SIGNED_HEADERS,
            )
            self._signed = _RawMessage(signature + raw)
        return self._signed


def merge_fields(enrollment: Enrollment, config: NurtureSettings, tenant: Tenant) -> dict[str, str]:
    inquiry = enrollment.inquiry
    return {
        "first_name": inquiry.first_name or "there",
        "last_name": inquiry.last_name,
        "company": inquiry.company or "your company",
        "sender_name": config.from_name or tenant.name,
    }


def _render(text: str, fields: dict[str, str], *, html: bool) -> str:
    return Template(text).render(Context(fields, autoescape=html))


def build_email(
    message: OutboxMessage,
    *,
    enrollment: Enrollment,
    step: NurtureStep,
    config: NurtureSettings,
    tenant: Tenant,
    contact_token: str,
) -> EmailMultiAlternatives:
    """The nurture email for one step and contact (no tenant id, no key, no secret in it)."""
    fields = merge_fields(enrollment, config, tenant)
    token = links.unsubscribe_token(tenant_slug=tenant.slug, contact_token=contact_token)
    unsubscribe_url = links.unsubscribe_url(token)
    # The builder requires {{ unsubscribe_url }} in every body; the footer repeats it.
    fields["unsubscribe_url"] = unsubscribe_url
    sender_address = config.from_address or _address_of(settings.DEFAULT_FROM_EMAIL)
    sender_name = config.from_name or tenant.name
    subject = _render(step.subject, fields, html=False).strip() or f"News from {sender_name}"
    plain = _render(step.body, fields, html=False)

    def track(url: str) -> str:
        # Unsubscribing is not engagement: its link is never tracked or scored.
        if url == unsubscribe_url:
            return url
        return links.click_url(
            links.click_token(
                tenant_slug=tenant.slug, enrollment_id=enrollment.pk, step_id=step.pk, url=url
            )
        )

    text_body = tracked_text(plain, track)
    html_body = tracked_html(plain, track)
    if config.track_opens:
        pixel = links.open_url(
            links.open_token(tenant_slug=tenant.slug, enrollment_id=enrollment.pk, step_id=step.pk)
        )
        html_body = mark_safe(  # noqa: S308 — built from escaped parts only
            html_body + f'<img src="{escape(pixel)}" width="1" height="1" alt="">'
        )
    postal = config.postal_address.strip()
    footer = [
        "",
        "-- ",
        sender_name,
        *([postal] if postal else []),
        f"You receive this email because you asked {sender_name} about its products.",
        f"Unsubscribe: {unsubscribe_url}",
    ]
    html = render_to_string(
        "nurture/email.html",
        {
            "subject": subject,
            "body": html_body,
            "sender_name": sender_name,
            "postal_address": postal,
            "unsubscribe_url": unsubscribe_url,
        },
    )
    headers = {
        "Message-ID": message_id(message),
        "Date": formatdate(usegmt=True),
        # Gmail uses the first URI: the https one, which the one-click POST reaches.
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:{sender_address}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    kwargs: dict[str, Any] = {
        "subject": subject,
        "body": text_body.rstrip() + "\n" + "\n".join(footer) + "\n",
        "from_email": formataddr((sender_name, sender_address)),
        "to": [message.recipient],
        "reply_to": [config.reply_to] if config.reply_to else None,
        "headers": headers,
    }
    if config.dkim_private_key and config.dkim_selector and config.dkim_domain:
        email: EmailMultiAlternatives = SignedEmail(
            dkim_key=(config.dkim_selector, config.dkim_domain, config.dkim_private_key), **kwargs
        )
    else:
        email = EmailMultiAlternatives(**kwargs)
    email.attach_alternative(css_inline.inline(html), "text/html")
    return email


def _address_of(value: str) -> str:
    return value.rsplit("<", 1)[-1].strip(" >")


def send_nurture_email(message: OutboxMessage) -> None:
    """The ``nurture_email`` sender: consent checked now, then the email built and delivered."""
    from nurture.selectors import may_email, nurture_settings
    from nurture.services.consent import contact_consent

    payload = message.payload
    enrollment = (
        Enrollment.objects.select_related("inquiry", "program")
        .filter(pk=payload.get("enrollment"))
        .first()
    )
    step = NurtureStep.objects.filter(pk=payload.get("step")).first()
    if enrollment is None or step is None:
        raise PermanentFailure("not sent: the enrollment or its step no longer exists")
    # A program ending with an email finishes in the run that queues that email: the
    # last email still goes. Only an exit (MQL, booked, unsubscribed, …) stops it.
    if enrollment.state == EnrollmentState.EXITED:
        raise PermanentFailure(
            f"not sent: the person left the program ({enrollment.get_exit_reason_display()})"
        )
    config = nurture_settings()
    consent = contact_consent(enrollment.inquiry)
    if not may_email(
        status=consent.status,
        suppressed=consent.suppressed_at is not None,
        mode=config.consent_mode,
    ):
        raise PermanentFailure(f"not sent: no consent at send time ({consent.status})")
    tenant = Tenant.objects.get(pk=message.tenant_id)
    deliver(
        build_email(
            message,
            enrollment=enrollment,
            step=step,
            config=config,
            tenant=tenant,
            contact_token=consent.token,
        )
    )


def check_payload(recipient: str, payload: dict[str, Any]) -> None:
    if set(payload) != {"enrollment", "step"}:
        raise ValueError("a nurture email's payload is exactly {enrollment, step}")


def build_confirmation_email(
    message: OutboxMessage, *, config: NurtureSettings, tenant: Tenant, contact_token: str
) -> EmailMessage:
    """The double opt-in's one email: a signed link to a confirmation page (no id, no secret)."""
    token = links.confirm_token(tenant_slug=tenant.slug, contact_token=contact_token)
    sender_address = config.from_address or _address_of(settings.DEFAULT_FROM_EMAIL)
    sender_name = config.from_name or tenant.name
    postal = config.postal_address.strip()
    body = "\n".join(
        [
            "Hello,",
            "",
            f"You asked {sender_name} to send you occasional useful emails.",
            "Please confirm by opening this link and pressing the button:",
            "",
            links.confirm_url(token),
            "",
            "If it was not you, ignore this email: you will get no more from us.",
            "",
            "-- ",
            sender_name,
            *([postal] if postal else []),
        ]
    )
    return EmailMessage(
        subject=f"Please confirm your subscription to {sender_name}",
        body=body + "\n",
        from_email=formataddr((sender_name, sender_address)),
        to=[message.recipient],
        reply_to=[config.reply_to] if config.reply_to else None,
        headers={"Message-ID": message_id(message), "Date": formatdate(usegmt=True)},
    )


def send_confirmation_email(message: OutboxMessage) -> None:
    """The ``nurture_confirm`` sender: only while the contact's consent is still pending."""
    from nurture.models import ConsentStatus, ContactConsent
    from nurture.selectors import nurture_settings

    consent = ContactConsent.objects.filter(pk=message.payload.get("consent")).first()
    if consent is None:
        raise PermanentFailure("not sent: the contact no longer exists")
    if consent.status != ConsentStatus.PENDING or consent.suppressed_at is not None:
        raise PermanentFailure(f"not sent: consent is no longer pending ({consent.status})")
    tenant = Tenant.objects.get(pk=message.tenant_id)
    deliver(
        build_confirmation_email(
            message, config=nurture_settings(), tenant=tenant, contact_token=consent.token
        )
    )


def check_confirmation_payload(recipient: str, payload: dict[str, Any]) -> None:
    if set(payload) != {"consent"}:
        raise ValueError("a nurture confirmation's payload is exactly {consent}")


def register() -> None:
    """Name the nurture email's sender in the outbox (from ``NurtureConfig.ready()``)."""
    from leadflow import outbox

    outbox.register_sender("nurture_email", send_nurture_email, check=check_payload)
    outbox.register_sender(
        "nurture_confirm", send_confirmation_email, check=check_confirmation_payload
    )


# A web address in a step's body: http(s), up to whitespace or a character that cannot end one.
URL_RE = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"


def _links(text: str) -> list[tuple[int, int, str]]:
    """Each address in ``text`` as (start, end, url), trailing punctuation left out."""
    found = []
    for match in URL_RE.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if len(url) > len("https://"):
            found.append((match.start(), match.start() + len(url), url))
    return found


def tracked_text(text: str, track: Callable[[str], str]) -> str:
    """The plain-text body with each address replaced by its tracked redirect."""
    parts, last = [], 0
    for start, end, url in _links(text):
        parts += [text[last:start], track(url)]
        last = end
    return "".join([*parts, text[last:]])


def tracked_html(text: str, track: Callable[[str], str]) -> SafeString:
    """The body as HTML: the text escaped, each address a link through its tracked redirect.

    The link's text stays the address the reader expects; only the ``href``
    goes through ``/r/``. The template applies ``linebreaks`` to it as before.
    """
    parts, last = [], 0
    for start, end, url in _links(text):
        parts += [
            escape(text[last:start]),
            f'<a href="{escape(track(url))}">{escape(url)}</a>',
        ]
        last = end
    return mark_safe("".join([*parts, escape(text[last:])]))  # noqa: S308 — escaped above
