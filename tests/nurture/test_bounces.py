"""Mailgun's signed webhook: a hard bounce or complaint suppresses the contact for good."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from nurture.models import ConsentEvent, ContactConsent, Enrollment
from nurture.services import scheduler
from tests.nurture.conftest import active, nurture_inquiry, two_step_program

pytestmark = pytest.mark.django_db

KEY = "key-test-signing-0123456789abcdef"


def sample(event: str, recipient: str, **extra) -> dict:
    """Mailgun's documented webhook body (signature + event-data) for a permanent failure."""
    timestamp = str(int(time.time()))
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    data = {
        "event": event,
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": float(timestamp),
        "log-level": "error",
        "recipient": recipient,
        "recipient-domain": recipient.split("@")[1],
        "envelope": {
            "sender": "bob@sandbox.mailgun.org",
            "transport": "smtp",
            "targets": recipient,
        },
        "message": {
            "headers": {
                "to": recipient,
                "message-id": "20130503182626.18666.16540@sandbox.mailgun.org",
                "from": "Bob <bob@sandbox.mailgun.org>",
                "subject": "Test permanent_fail webhook",
            },
            "attachments": [],
            "size": 111,
        },
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": False,
            "is-test-mode": False,
        },
        "tags": ["my_tag_1", "my_tag_2"],
        "user-variables": {"my_var_1": "Mailgun Variable #1"},
        **extra,
    }
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": data,
    }


PERMANENT = {
    "severity": "permanent",
    "reason": "suppress-bounce",
    "delivery-status": {
        "attempt-no": 1,
        "message": "",
        "code": 605,
        "description": "Not delivering to previously bounced address",
        "session-seconds": 0.0,
    },
}


@pytest.fixture
def signing_key(settings):
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = KEY


def post(body, slug="tenant-a"):
    return Client(enforce_csrf_checks=True).post(
        f"/hooks/mailgun/{slug}/", data=json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def alice(open_window, system_a, django_capture_on_commit_callbacks):
    return nurture_inquiry(
        system_a, run_hooks=django_capture_on_commit_callbacks, email="alice@example.com"
    )


def test_a_hard_bounce_suppresses_the_contact_and_ends_the_enrollment(signing_key, alice, system_a):
    response = post(sample("failed", "alice@example.com", **PERMANENT))
    assert response.status_code == 200
    assert response.json() == {"event": "failed", "action": "suppressed"}
    consent = ContactConsent.objects.get(inquiry=alice)
    assert consent.suppressed_at is not None
    assert consent.suppressed_reason == "bounce"
    assert Enrollment.objects.get(inquiry_id=alice.pk).exit_reason == "bounced"
    assert "previously bounced" in ConsentEvent.objects.get(inquiry=alice).text_shown
    # Never mailed again, even when enrolled by a later move.
    two_step_program(system_a)
    with time_machine.travel(datetime(2027, 1, 4, 10, tzinfo=UTC), tick=False):
        assert scheduler.run_due_steps().emails == 0


def test_a_complaint_suppresses_and_opts_out(signing_key, alice):
    assert post(sample("complained", "alice@example.com")).json()["action"] == "suppressed"
    consent = ContactConsent.objects.get(inquiry=alice)
    assert (consent.status, consent.suppressed_reason) == ("opted_out", "complaint")
    assert Enrollment.objects.get(inquiry_id=alice.pk).exit_reason == "complained"


def test_a_temporary_failure_changes_nothing(signing_key, alice):
    body = sample("failed", "alice@example.com", severity="temporary", reason="generic")
    assert post(body).json()["action"] == "ignored"
    assert not ContactConsent.objects.exists()
    assert active(alice.pk).exists()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda body: body["signature"].update(signature="0" * 64),
        lambda body: body["signature"].update(timestamp=str(int(time.time()) - 3600)),
        lambda body: body["signature"].update(token="another-token-than-signed"),
    ],
)
def test_a_badly_signed_or_stale_request_is_refused(signing_key, alice, spoil):
    body = sample("failed", "alice@example.com", **PERMANENT)
    spoil(body)
    assert post(body).status_code == 403
    assert not ContactConsent.objects.exists()
    assert active(alice.pk).exists()


def test_without_a_configured_key_every_request_is_refused(settings, alice):
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = ""
    assert post(sample("failed", "alice@example.com", **PERMANENT)).status_code == 403


def test_another_tenants_contact_is_not_touched(signing_key, alice, actors):
    assert post(sample("failed", "alice@example.com", **PERMANENT), slug="tenant-b").json() == {
        "event": "failed",
        "action": "unknown recipient",
    }
    assert not ContactConsent.objects.exists()


def test_malformed_bodies_are_a_400(signing_key, alice):
    client = Client()
    assert (
        client.post(
            "/hooks/mailgun/tenant-a/", data="{", content_type="application/json"
        ).status_code
        == 400
    )
    assert post({"event-data": {}}).status_code == 400
