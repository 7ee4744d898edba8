"""Invitation emails go through the outbox: one message per link, written with the
invitation, holding ids only; the sender derives the link and sends only an open one."""

from __future__ import annotations

import json
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadflow import outbox
from leadflow.outbox import email as outbox_email
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.outbox.services import dispatch_due
from leadflow.outbox.tasks import dispatch_outbox_of_tenant
from leadflow.tenancy import invitation_links, services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Invitation
from leadflow.tenancy.tasks import send_invitation_task
from tests.factories import InvitationFactory
from tests.tenancy.test_invitations import invite, link_in

BASE_URL = "http://testserver/"


def messages_of(tenant) -> list[OutboxMessage]:
    with tenant_context(tenant):
        return list(OutboxMessage.objects.filter(kind="invitation").order_by("id"))


def dispatch(tenant) -> int:
    """One dispatcher run in the tenant (as the worker's task does); how many it marked sent."""
    with tenant_context(tenant):
        return dispatch_due().sent


def fresh(invitation: Invitation) -> Invitation:
    with tenant_context(invitation.tenant_id):
        return Invitation.objects.get(pk=invitation.pk)


def resend(actors, invitation):
    with tenant_context(actors.tenant_a):
        return services.resend_invitation(
            invitation=invitation, base_url=BASE_URL, by=actors.owner.principal
        )


class _RefusingBackend:
    """An SMTP server that answers ``error`` once, then accepts into Django's locmem outbox."""

    error: Exception | None = None

    def __init__(self, *args, **kwargs):
        from django.core.mail.backends.locmem import EmailBackend

        self.locmem = EmailBackend()

    def send_messages(self, messages):
        error, type(self).error = type(self).error, None
        if error is not None:
            raise error
        return self.locmem.send_messages(messages)


@pytest.fixture
def refusing_smtp(settings):
    settings.EMAIL_BACKEND = f"{__name__}._RefusingBackend"
    yield _RefusingBackend
    _RefusingBackend.error = None


# --- Written with the invitation ---------------------------------------------------------


def test_a_rolled_back_invitation_leaves_no_message(actors):
    with tenant_context(actors.tenant_a), pytest.raises(RuntimeError), transaction.atomic():
        services.invite_member(
            email="new.person@example.test",
            role="marketer",
            base_url=BASE_URL,
            by=actors.owner.principal,
        )
        raise RuntimeError("the request failed after inviting")
    assert messages_of(actors.tenant_a) == []


def test_inviting_writes_one_message_that_holds_no_token_and_no_link(actors):
    issued = invite(actors)
    token = issued.link.rstrip("/").rsplit("/", 1)[1]
    [message] = messages_of(actors.tenant_a)
    invitation = issued.invitation
    assert message.key == f"invitation:{invitation.pk}:{invitation.token_nonce}"
    assert message.recipient == "new.person@example.test"
    assert message.payload == {
        "invitation_id": invitation.pk,
        "nonce": invitation.token_nonce,
        "base_url": BASE_URL,
    }
    assert (message.cause_type, message.cause_id) == ("invitation", str(invitation.pk))
    row = json.dumps([message.payload, message.recipient, message.key, message.last_error])
    assert token not in row
    assert token.split("_", 2)[2] not in row
    assert issued.link not in row
    assert "/invitations/" not in row


@pytest.mark.parametrize(
    "payload",
    [
        {"invitation_id": 1, "nonce": "a" * 32, "base_url": BASE_URL, "link": "x"},
        {"invitation_id": 1, "nonce": "a" * 32, "base_url": "http://x.test/invitations/lfi_1_y/"},
        {"invitation_id": 1, "nonce": "a" * 32, "base_url": "http://x.test/?token=lfi_1_y"},
        {"invitation_id": True, "nonce": "a" * 32, "base_url": BASE_URL},
        {"invitation_id": 1, "nonce": "lfi_1_" + "a" * 43, "base_url": BASE_URL},
        {"invitation_id": 1, "base_url": BASE_URL},
    ],
)
def test_an_invitation_message_with_anything_but_ids_and_the_base_url_is_refused(actors, payload):
    with tenant_context(actors.tenant_a), pytest.raises(ValueError, match="invitation payload"):
        outbox.enqueue(
            kind="invitation", key="invitation:1:x", recipient="pat@example.test", payload=payload
        )
    assert messages_of(actors.tenant_a) == []


# --- Sent by the dispatcher ---------------------------------------------------------------


def test_the_dispatcher_sends_the_link_with_the_outbox_message_id(actors, mailoutbox):
    issued = invite(actors)
    assert mailoutbox == []  # nothing leaves before the dispatcher runs
    assert dispatch(actors.tenant_a) == 1
    [email] = mailoutbox
    [message] = messages_of(actors.tenant_a)
    assert email.to == ["new.person@example.test"]
    assert link_in(email) == issued.link
    with tenant_context(actors.tenant_a):
        assert email.extra_headers["Message-ID"] == outbox_email.message_id(message)
    assert message.state == OutboxState.SENT
    assert fresh(issued.invitation).sent_at is not None


def test_the_dispatcher_task_reads_the_invitation_in_its_tenant(actors, mailoutbox):
    """The worker's task selects the tenant itself: the sender sees the invitation under RLS."""
    issued = invite(actors)
    assert dispatch_outbox_of_tenant(tenant_id=actors.tenant_a.pk) == 1
    [email] = mailoutbox
    assert link_in(email) == issued.link


def test_dispatching_twice_sends_one_email(actors, mailoutbox):
    invite(actors)
    dispatch(actors.tenant_a)
    dispatch(actors.tenant_a)
    assert len(mailoutbox) == 1


def test_a_retried_send_keeps_its_message_id(actors, mailoutbox, refusing_smtp):
    invite(actors)
    refusing_smtp.error = smtplib.SMTPResponseException(451, b"try again later")
    dispatch(actors.tenant_a)
    [message] = messages_of(actors.tenant_a)
    assert message.state == OutboxState.PENDING
    assert "451" in message.last_error
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        dispatch(actors.tenant_a)
    [email] = mailoutbox
    with tenant_context(actors.tenant_a):
        assert email.extra_headers["Message-ID"] == outbox_email.message_id(message)


def test_a_refused_recipient_fails_the_message_and_leaves_it_unsent(
    actors, mailoutbox, refusing_smtp
):
    issued = invite(actors)
    refusing_smtp.error = smtplib.SMTPRecipientsRefused({issued.invitation.email: (550, b"no")})
    dispatch(actors.tenant_a)
    [message] = messages_of(actors.tenant_a)
    assert message.state == OutboxState.FAILED
    assert "refused the recipient (550)" in message.last_error
    assert fresh(issued.invitation).sent_at is None


def test_a_resend_before_dispatch_sends_only_the_new_link(actors, mailoutbox):
    first = invite(actors)
    again = resend(actors, first.invitation)
    old, new = messages_of(actors.tenant_a)
    assert old.payload["nonce"] != new.payload["nonce"]
    assert dispatch(actors.tenant_a) == 2  # the old one counts as done, having nothing to send
    [email] = mailoutbox
    assert link_in(email) == again.link != first.link


def test_a_resend_after_the_first_email_sends_a_second_with_another_message_id(actors, mailoutbox):
    first = invite(actors)
    dispatch(actors.tenant_a)
    again = resend(actors, first.invitation)
    dispatch(actors.tenant_a)
    old, new = mailoutbox
    assert (link_in(old), link_in(new)) == (first.link, again.link)
    assert old.extra_headers["Message-ID"] != new.extra_headers["Message-ID"]


def test_an_invitation_revoked_before_dispatch_is_not_sent(actors, mailoutbox):
    issued = invite(actors)
    with tenant_context(actors.tenant_a):
        services.revoke_invitation(invitation=issued.invitation, by=actors.owner.principal)
    dispatch(actors.tenant_a)
    assert mailoutbox == []
    [message] = messages_of(actors.tenant_a)
    assert message.state == OutboxState.SENT  # done: nothing left worth sending
    assert fresh(issued.invitation).sent_at is None


def test_an_invitation_accepted_before_dispatch_is_not_sent(actors, mailoutbox):
    issued = invite(actors, email=actors.outsider.user.email)
    with tenant_context(actors.tenant_a):
        services.accept_invitation(invitation=issued.invitation, user=actors.outsider.user)
    dispatch(actors.tenant_a)
    assert mailoutbox == []


def test_an_invitation_expired_before_dispatch_is_not_sent(actors, mailoutbox):
    invite(actors)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        dispatch(actors.tenant_a)
    assert mailoutbox == []


def test_another_tenants_dispatcher_does_not_send_the_invitation(actors, mailoutbox):
    invite(actors)
    assert dispatch(actors.tenant_b) == 0
    assert mailoutbox == []


# --- The task queued before the outbox ------------------------------------------------------


def test_the_old_task_queues_the_invitation_in_the_outbox_once(actors, mailoutbox):
    invitation = InvitationFactory(tenant=actors.tenant_a, invited_by=actors.owner.user)
    for _delivery in range(2):
        send_invitation_task(
            invitation_id=invitation.pk, tenant_id=actors.tenant_a.pk, base_url=BASE_URL
        )
    [message] = messages_of(actors.tenant_a)
    assert message.key == invitation_links.outbox_key(invitation)
    dispatch(actors.tenant_a)
    [email] = mailoutbox
    assert link_in(email) == invitation_links.link(invitation_links.token(invitation), BASE_URL)


def test_the_old_task_leaves_an_invitation_sent_before_the_outbox_alone(actors):
    invitation = InvitationFactory(tenant=actors.tenant_a, sent_at=timezone.now())
    sent = send_invitation_task(
        invitation_id=invitation.pk, tenant_id=actors.tenant_a.pk, base_url=BASE_URL
    )
    assert sent is False
    assert messages_of(actors.tenant_a) == []


def test_the_old_task_is_quiet_about_a_revoked_invitation(actors):
    invitation = InvitationFactory(tenant=actors.tenant_a, status="revoked")
    sent = send_invitation_task(
        invitation_id=invitation.pk, tenant_id=actors.tenant_a.pk, base_url=BASE_URL
    )
    assert sent is False
    assert messages_of(actors.tenant_a) == []


# --- Shown on the members page ----------------------------------------------------------------


@pytest.fixture
def admin_client(client, actors):
    client.force_login(actors.owner.user)
    return client


def email_cells(page: str) -> list[str]:
    return [cell.split("</td>", 1)[0] for cell in page.split('data-testid="invitation-email">')[1:]]


def test_the_members_page_shows_each_invitations_email_pending_sent_or_failed(
    admin_client, actors, mailoutbox, refusing_smtp
):
    sent = invite(actors, email="sent@example.test")
    dispatch(actors.tenant_a)
    refusing_smtp.error = smtplib.SMTPRecipientsRefused({"failed@example.test": (550, b"no")})
    invite(actors, email="failed@example.test")
    dispatch(actors.tenant_a)
    invite(actors, email="waiting@example.test")
    page = admin_client.get("/members/").content.decode()
    waiting, failed, sent_cell = email_cells(page)  # newest first
    assert "Pending" in waiting
    assert "Failed" in failed and "refused the recipient (550)" in failed
    assert "Sent" in sent_cell
    assert fresh(sent.invitation).sent_at is not None


def test_the_members_page_reads_the_email_states_in_one_query(admin_client, actors):
    def queries_with(count: int) -> int:
        for n in range(count):
            invite(actors, email=f"count{count}-{n}@invitee.test")
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get("/members/").status_code == 200
        return len(queries)

    few = queries_with(1)
    many = queries_with(6)
    assert many == few
