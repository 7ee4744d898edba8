"""Built-in senders: email with a stable Message-ID, webhooks signed as Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib

import pytest
from django.core import mail

from leadflow.outbox import email, senders, services, webhooks
from leadflow.outbox.models import OutboxMessage, OutboxState
from tests.outbox.conftest import WEBHOOK_SECRET, enqueue_email, reload

ICS = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def test_the_message_id_is_derived_from_the_key_and_stable_across_retries(in_tenant_a):
    message = enqueue_email()
    first = email.build_email(message).message()["Message-ID"]
    again = email.build_email(reload(message)).message()["Message-ID"]
    assert first == again
    assert first.startswith("<") and first.endswith("@localhost>")


def test_another_key_has_another_message_id(in_tenant_a):
    one = email.message_id(enqueue_email(key="a"))
    two = email.message_id(enqueue_email(key="b"))
    assert one != two


def test_the_message_id_domain_comes_from_settings(in_tenant_a, settings):
    settings.OUTBOX_MESSAGE_ID_DOMAIN = "mail.example.com"
    assert email.message_id(enqueue_email()).endswith("@mail.example.com>")


def test_an_email_carries_html_and_an_ics_attachment(in_tenant_a):
    enqueue_email(
        payload={
            "subject": "Your appointment",
            "text": "See you.",
            "html": "<p>See you.</p>",
            "attachments": [
                {"filename": "invite.ics", "content": ICS, "mimetype": "text/calendar"}
            ],
        }
    )
    services.dispatch_due()
    [sent] = mail.outbox
    assert sent.alternatives[0][1] == "text/html"
    assert sent.attachments[0][0] == "invite.ics"
    assert "METHOD:REQUEST" in sent.message().as_string()


class _RefusingBackend:
    error: Exception = OSError("connection refused")

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise self.error


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (smtplib.SMTPResponseException(421, b"try later"), OutboxState.PENDING),
        (smtplib.SMTPResponseException(550, b"no such user"), OutboxState.FAILED),
        (smtplib.SMTPRecipientsRefused({"pat@example.com": (550, b"no")}), OutboxState.FAILED),
        (smtplib.SMTPRecipientsRefused({"pat@example.com": (450, b"busy")}), OutboxState.PENDING),
        (smtplib.SMTPServerDisconnected("gone"), OutboxState.PENDING),
        (TimeoutError("timed out"), OutboxState.PENDING),
    ],
)
def test_smtp_answers_are_transient_or_permanent(in_tenant_a, settings, error, state):
    _RefusingBackend.error = error
    settings.EMAIL_BACKEND = f"{__name__}._RefusingBackend"
    message = enqueue_email()
    services.dispatch_due()
    assert reload(message).state == state


def test_an_email_to_an_invalid_address_fails_permanently(in_tenant_a):
    message = enqueue_email()
    OutboxMessage.objects.filter(pk=message.pk).update(recipient="pat@@example")
    with pytest.raises(senders.PermanentFailure):
        email.send_email(reload(message))


def enqueue_webhook(url: str, key: str = "webhook:3:lead.accepted:41"):
    return services.enqueue(
        kind="webhook",
        key=key,
        recipient=url,
        payload={"type": "lead.accepted", "data": {"lead": 41}},
        cause=("webhook-endpoint", 3),
    )


def test_a_webhook_is_posted_with_a_standard_webhooks_signature(
    in_tenant_a, receiver, fixed_secret
):
    enqueue_webhook(receiver.url)
    assert services.dispatch_due().sent == 1
    [(headers, body)] = receiver.requests
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert json.loads(body)["data"] == {"lead": 41}
    assert json.loads(body)["type"] == "lead.accepted"


def test_the_webhook_id_is_the_same_on_every_attempt(in_tenant_a, receiver, fixed_secret):
    receiver.status = 503
    message = enqueue_webhook(receiver.url)
    services.dispatch_due()
    OutboxMessage.objects.filter(pk=message.pk).update(due_at=message.due_at)
    receiver.status = 200
    services.dispatch_due()
    ids = {headers["webhook-id"] for headers, _body in receiver.requests}
    assert len(receiver.requests) == 2
    assert ids == {webhooks.webhook_id(message)}


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (200, OutboxState.SENT),
        (500, OutboxState.PENDING),
        (503, OutboxState.PENDING),
        (429, OutboxState.PENDING),
        (400, OutboxState.PENDING),
        (410, OutboxState.FAILED),
        (301, OutboxState.PENDING),
    ],
)
def test_a_webhook_is_retried_on_any_answer_but_2xx_and_410(
    in_tenant_a, receiver, fixed_secret, status, state
):
    receiver.status = status
    message = enqueue_webhook(receiver.url)
    services.dispatch_due()
    assert reload(message).state == state


def test_an_unreachable_endpoint_is_transient(in_tenant_a, receiver, fixed_secret):
    message = enqueue_webhook("http://127.0.0.1:9/nothing-listens-here")
    services.dispatch_due()
    message = reload(message)
    assert message.state == OutboxState.PENDING
    assert "could not be reached" in message.last_error


def test_a_webhook_without_a_known_secret_fails_saying_so(in_tenant_a):
    message = enqueue_webhook("http://127.0.0.1:9/")
    services.dispatch_due()
    assert reload(message).last_error == "no signing secret is known for this webhook endpoint"


def test_a_webhook_payload_with_an_unknown_field_is_refused(in_tenant_a):
    with pytest.raises(ValueError, match="api_key"):
        services.enqueue(
            kind="webhook",
            key="k",
            recipient="https://example.com/",
            payload={"type": "x", "data": {}, "api_key": "lf_secret"},
        )
