"""Enqueueing: in the caller's transaction, one row per business key, a kick after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from leadflow import outbox
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.outbox.services import _Kick
from tests.outbox.conftest import enqueue_email


def test_enqueued_message_is_pending_and_due_now(in_tenant_a):
    message = enqueue_email()
    assert message.state == OutboxState.PENDING
    assert message.tenant_id == in_tenant_a.pk
    assert message.due_at <= timezone.now()
    assert (message.cause_type, message.cause_id) == ("appointment", "1")


def test_the_same_key_twice_is_one_message(in_tenant_a):
    first = enqueue_email()
    second = enqueue_email(payload={"subject": "Changed", "text": "Changed"})
    assert second.pk == first.pk
    assert second.payload["subject"] == "Your appointment"
    assert OutboxMessage.objects.count() == 1


def test_a_rolled_back_change_leaves_no_message(in_tenant_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_email()
        raise RuntimeError("the change that caused it failed")
    assert OutboxMessage.objects.count() == 0


def test_the_same_key_in_another_tenant_is_another_message(actors):
    from leadflow.tenancy.context import tenant_context

    with tenant_context(actors.tenant_a):
        a = enqueue_email()
    with tenant_context(actors.tenant_b):
        b = enqueue_email()
        assert list(OutboxMessage.objects.all()) == [b]
    assert a.pk != b.pk


def test_a_message_due_now_kicks_the_dispatcher_once_per_transaction(
    in_tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue_email(key="a")
        enqueue_email(key="b")
    kicks = [c for c in callbacks if isinstance(c, _Kick)]
    assert [k.tenant_id for k in kicks] == [in_tenant_a.pk]


def test_a_message_due_later_waits_for_the_beat(in_tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue_email(due_at=timezone.now() + timedelta(hours=1))
    assert callbacks == []


def test_an_email_payload_with_an_unknown_field_is_refused(in_tenant_a):
    with pytest.raises(ValueError, match="internal_notes"):
        enqueue_email(payload={"subject": "s", "text": "t", "internal_notes": "call CFO"})
    assert OutboxMessage.objects.count() == 0


def test_an_email_to_something_that_is_no_address_is_refused(in_tenant_a):
    with pytest.raises(ValueError, match="not an email address"):
        enqueue_email(recipient="not an address")


def test_a_kind_without_a_sender_is_refused(in_tenant_a):
    with pytest.raises(ValueError, match="no sender"):
        enqueue_email(kind="carrier-pigeon")


def test_messages_for_a_cause_lists_only_that_causes_messages(in_tenant_a):
    mine = enqueue_email(key="a", cause=("appointment", 7))
    enqueue_email(key="b", cause=("appointment", 8))
    assert list(outbox.messages_for(("appointment", 7))) == [mine]
