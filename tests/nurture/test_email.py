"""The nurture email: parts, footer, RFC 8058 headers, DKIM that verifies, nothing internal."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime

import dkim
import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail

from leadflow.outbox.models import OutboxMessage
from nurture.models import NurtureSettings
from nurture.services import scheduler
from tests.nurture.conftest import dispatch, nurture_inquiry, two_step_program

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def https_site(settings):
    settings.SITE_URL = "https://leadflow.example"


def send_one(system_a, run_hooks, **person):
    with time_machine.travel(START, tick=False):
        two_step_program(system_a)
        inquiry = nurture_inquiry(system_a, run_hooks=run_hooks, **person)
        scheduler.run_due_steps()
        dispatch()
    assert len(mail.outbox) == 1, OutboxMessage.objects.values_list("state", "last_error")
    return inquiry, mail.outbox[0]


def test_the_email_has_text_and_inlined_html_with_the_postal_address(
    open_window, system_a, django_capture_on_commit_callbacks
):
    inquiry, email = send_one(
        system_a, django_capture_on_commit_callbacks, first_name="Dana", company="Freight Co"
    )
    assert email.subject == "Hello Dana"
    assert "Hi Dana at Freight Co." in email.body
    assert "Acme Inc., 1 Main St, Springfield" in email.body
    html = email.alternatives[0].content
    assert "Acme Inc., 1 Main St, Springfield" in html
    assert "<style" not in html  # inlined
    assert 'style="' in html
    assert email.from_email == "Acme Marketing <news@acme.example>"
    assert email.to == [inquiry.email]


def test_list_unsubscribe_puts_https_first_and_offers_one_click(
    open_window, system_a, django_capture_on_commit_callbacks
):
    _inquiry, email = send_one(system_a, django_capture_on_commit_callbacks)
    message = email.message()
    header = str(message["List-Unsubscribe"])
    match = re.fullmatch(r"<(https://leadflow\.example/u/[^>]+/)>,\s*<mailto:([^>]+)>", header)
    assert match, header
    assert match.group(2).startswith("news@acme.example?subject=unsubscribe")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The visible link in the body is the same https address.
    assert match.group(1) in email.body


def test_nothing_internal_is_in_the_sent_message(
    actors, open_window, system_a, django_capture_on_commit_callbacks
):
    inquiry, email = send_one(system_a, django_capture_on_commit_callbacks)
    raw = email.message().as_bytes().decode()
    outbox_message = OutboxMessage.objects.get()
    assert outbox_message.key not in raw
    assert "nurture:" not in raw
    assert django_settings.SECRET_KEY not in raw
    assert "tenant_id" not in raw.lower()
    for header in ("Message-ID", "List-Unsubscribe"):
        value = str(email.message()[header])
        assert not re.search(rf"\b{actors.tenant_a.pk}\b", value.split("@")[0].replace("-", " ")), (
            value
        )
        assert not re.search(rf"[/_.:]{inquiry.pk}[/_.:>]", value), value


def _key_pair(tmp_path) -> tuple[str, bytes]:
    private = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", str(private)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return private.read_text(), base64.b64encode(der)


def test_dkim_signs_the_unsubscribe_headers_and_verifies_on_the_sent_bytes(
    in_a, system_a, django_capture_on_commit_callbacks, tmp_path, settings
):
    # A long site address makes List-Unsubscribe longer than one header line.
    settings.SITE_URL = "https://a-rather-long-subdomain-of-the-leadflow-service.example"
    private_pem, public_b64 = _key_pair(tmp_path)
    NurtureSettings.objects.create(
        consent_mode="opt_out",
        window_start="00:00",
        window_end="00:00",
        from_name="Acme Marketing",
        from_address="news@acme.example",
        postal_address="Acme Inc., 1 Main St, Springfield",
        dkim_selector="nurture",
        dkim_domain="acme.example",
        dkim_private_key=private_pem,
    )
    _inquiry, email = send_one(system_a, django_capture_on_commit_callbacks)
    sent = email.message().as_bytes(linesep="\r\n")
    assert sent.startswith(b"DKIM-Signature:")
    signature = sent.split(b"\r\n\r\n", 1)[0].decode()
    signed = re.search(r"h=([^;]+);", signature.replace("\r\n", "").replace(" ", "")).group(1)
    assert "list-unsubscribe" in signed.lower()
    assert "list-unsubscribe-post" in signed.lower()
    assert len(str(email.message()["List-Unsubscribe"])) > 78

    def dns(name, timeout=5):
        assert name == b"nurture._domainkey.acme.example."
        return b"v=DKIM1; k=rsa; p=" + public_b64

    assert dkim.verify(sent, dnsfunc=dns)
    # Any change to a signed header breaks it.
    tampered = sent.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"
    )
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_a_bad_dkim_key_is_refused_in_the_settings(in_a, actors):
    from leadflow.lib.rules import RuleViolation
    from nurture.services.settings import update_nurture_settings

    with pytest.raises(RuleViolation) as refused:
        update_nurture_settings(
            changes={"dkim_private_key": "not a key"}, by=actors.owner.principal
        )
    assert refused.value.field == "dkim_private_key"
    assert not NurtureSettings.objects.exists()
