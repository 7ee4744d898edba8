"""The dispatcher: sends due messages once, retries transient failures, records permanent ones."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.outbox import senders, services
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent
from tests.outbox.conftest import enqueue_email, reload


@pytest.fixture
def flaky_kind():
    """A kind whose sender raises what the test puts in ``failures`` (then succeeds)."""
    failures: list[Exception] = []
    sent: list[int] = []

    def send(message):
        if failures:
            raise failures.pop(0)
        sent.append(message.pk)

    senders.register_sender("flaky", send)
    yield failures, sent
    senders._senders.pop("flaky", None)


def test_a_due_message_is_sent_and_marked_sent(in_tenant_a):
    message = enqueue_email()
    result = services.dispatch_due()
    assert (result.claimed, result.sent) == (1, 1)
    assert len(mail.outbox) == 1
    message = reload(message)
    assert message.state == OutboxState.SENT
    assert message.sent_at is not None
    assert message.attempts == 1


def test_dispatching_again_sends_nothing_more(in_tenant_a):
    enqueue_email()
    services.dispatch_due()
    assert services.dispatch_due().claimed == 0
    assert len(mail.outbox) == 1


def test_a_message_due_later_is_not_sent_yet(in_tenant_a):
    enqueue_email(due_at=timezone.now() + timedelta(minutes=5))
    assert services.dispatch_due().claimed == 0
    assert mail.outbox == []


def test_a_message_claimed_by_a_live_run_is_not_claimed_again(in_tenant_a):
    enqueue_email()
    assert len(services.claim_due(token=uuid.uuid4(), size=10)) == 1
    assert services.claim_due(token=uuid.uuid4(), size=10) == []


def test_a_message_whose_lease_ran_out_is_claimed_again(in_tenant_a):
    message = enqueue_email()
    services.claim_due(token=uuid.uuid4(), size=10)
    OutboxMessage.objects.filter(pk=message.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    services.dispatch_due()
    message = reload(message)
    # The first claim never began a send: one attempt, the one that sent it.
    assert (message.state, message.attempts) == (OutboxState.SENT, 1)
    assert len(mail.outbox) == 1


def test_a_claimed_batch_whose_worker_keeps_dying_before_a_send_uses_no_attempts(
    in_tenant_a, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    message = enqueue_email()
    for _ in range(5):  # claimed, then the worker dies before reaching it; the lease runs out
        services.claim_due(token=uuid.uuid4(), size=10)
        OutboxMessage.objects.filter(pk=message.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
    services.dispatch_due()
    message = reload(message)
    assert (message.state, message.attempts) == (OutboxState.SENT, 1)
    assert len(mail.outbox) == 1


def test_a_run_that_lost_its_claim_does_not_mark_the_message(in_tenant_a):
    message = enqueue_email()
    first = uuid.uuid4()
    [claimed] = services.claim_due(token=first, size=10)
    OutboxMessage.objects.filter(pk=message.pk).update(claim_token=uuid.uuid4())
    result = services.DispatchResult()
    services._mark_sent(claimed, first, result)
    assert (result.sent, result.lost) == (0, 1)
    assert reload(message).state == OutboxState.SENDING


def test_a_transient_failure_is_tried_again_later_with_backoff(in_tenant_a, flaky_kind, settings):
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 60
    failures, sent = flaky_kind
    failures.append(senders.TransientFailure("the endpoint answered HTTP 503"))
    message = enqueue_email(kind="flaky", recipient="x")
    before = timezone.now()
    assert services.dispatch_due().retried == 1
    message = reload(message)
    assert message.state == OutboxState.PENDING
    assert message.last_error == "the endpoint answered HTTP 503"
    assert before <= message.due_at <= before + timedelta(seconds=61)
    assert sent == []


def test_the_message_is_sent_when_it_falls_due_again(in_tenant_a, flaky_kind):
    failures, sent = flaky_kind
    failures.append(senders.TransientFailure("timeout"))
    message = enqueue_email(kind="flaky", recipient="x")
    services.dispatch_due()
    OutboxMessage.objects.filter(pk=message.pk).update(due_at=timezone.now())
    services.dispatch_due()
    assert sent == [message.pk]
    assert reload(message).attempts == 2


def test_an_unexpected_error_counts_as_transient(in_tenant_a, flaky_kind):
    failures, _sent = flaky_kind
    failures.append(KeyError("subject"))
    message = enqueue_email(kind="flaky", recipient="x")
    services.dispatch_due()
    assert reload(message).state == OutboxState.PENDING
    assert "KeyError" in reload(message).last_error


def test_backoff_grows_exponentially_up_to_its_cap(settings):
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 10
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 100
    assert all(0 <= services.backoff_seconds(1) <= 10 for _ in range(50))
    assert all(0 <= services.backoff_seconds(3) <= 40 for _ in range(50))
    assert max(services.backoff_seconds(30) for _ in range(200)) <= 100
    assert max(services.backoff_seconds(3) for _ in range(200)) > 10


def test_a_message_failing_past_its_attempts_is_failed(in_tenant_a, flaky_kind, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    failures, _sent = flaky_kind
    failures.extend([senders.TransientFailure("503"), senders.TransientFailure("503")])
    message = enqueue_email(kind="flaky", recipient="x")
    services.dispatch_due()
    OutboxMessage.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert services.dispatch_due().failed == 1
    message = reload(message)
    assert message.state == OutboxState.FAILED
    assert message.last_error == "gave up after 2 attempts: 503"


def test_a_permanent_failure_is_recorded_with_its_reason(in_tenant_a, flaky_kind):
    failures, _sent = flaky_kind
    failures.append(senders.PermanentFailure("the endpoint answered HTTP 410"))
    message = enqueue_email(kind="flaky", recipient="x")
    assert services.dispatch_due().failed == 1
    message = reload(message)
    assert message.state == OutboxState.FAILED
    assert message.failed_at is not None
    assert message.last_error == "the endpoint answered HTTP 410"


def test_a_failed_message_retried_is_sent(in_tenant_a, flaky_kind, system_a):
    failures, sent = flaky_kind
    failures.append(senders.PermanentFailure("HTTP 404"))
    message = enqueue_email(kind="flaky", recipient="x")
    services.dispatch_due()
    retried = services.retry_message(message=reload(message), by=system_a)
    assert (retried.state, retried.attempts, retried.failed_at) == (OutboxState.PENDING, 0, None)
    services.dispatch_due()
    assert sent == [message.pk]
    assert reload(message).state == OutboxState.SENT


def test_retrying_is_audited(in_tenant_a, flaky_kind, system_a):
    failures, _sent = flaky_kind
    failures.append(senders.PermanentFailure("HTTP 404"))
    message = enqueue_email(kind="flaky", recipient="x")
    services.dispatch_due()
    services.retry_message(message=reload(message), by=system_a)
    event = AuditEvent.objects.get(action="outbox.retry")
    assert event.object_id == str(message.pk)


def test_retrying_a_message_that_did_not_fail_is_a_conflict(in_tenant_a, system_a):
    message = enqueue_email()
    with pytest.raises(RuleViolation) as refused:
        services.retry_message(message=message, by=system_a)
    assert refused.value.conflict
    assert reload(message).state == OutboxState.PENDING


def test_a_message_of_an_unregistered_kind_fails(in_tenant_a, flaky_kind):
    message = enqueue_email(kind="flaky", recipient="x")
    senders._senders.pop("flaky")
    services.dispatch_due()
    assert reload(message).state == OutboxState.FAILED
    assert "no sender" in reload(message).last_error


def test_a_run_releases_what_it_could_not_send_within_half_its_lease(in_tenant_a, settings):
    settings.OUTBOX_LEASE_SECONDS = 0
    message = enqueue_email()
    result = services.dispatch_due()
    assert (result.claimed, result.released, result.sent) == (1, 1, 0)
    message = reload(message)
    assert (message.state, message.attempts, message.claim_token) == (
        OutboxState.PENDING,
        0,
        None,
    )


def test_the_dispatcher_sees_only_its_tenants_messages(actors):
    with tenant_context(actors.tenant_b):
        theirs = enqueue_email()
    with tenant_context(actors.tenant_a):
        assert services.dispatch_due().claimed == 0
    assert reload(theirs).state == OutboxState.PENDING


@pytest.mark.postgres
def test_a_mark_commits_without_waiting_for_the_disk(in_tenant_a):
    from django.db import connection

    enqueue_email()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
        services.dispatch_due()
        # Set for the transaction the mark ran in (here: the test's own).
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"
