"""Enqueueing many messages at once: one INSERT, each message checked, first key wins."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadflow import outbox
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.outbox.services import _Kick
from tests.outbox.conftest import enqueue_email


def _email(n: int, **fields) -> outbox.Message:
    payload = fields.pop("payload", {"subject": f"Digest {n}", "text": f"Hello {n}"})
    return outbox.message(
        key=f"digest:{n}", recipient=f"owner{n}@example.com", payload=payload, **fields
    )


def test_many_messages_are_written_in_one_insert(in_tenant_a):
    with CaptureQueriesContext(connection) as queries:
        written = outbox.enqueue_many(
            "email", [_email(n, cause=("digest", "W50")) for n in range(20)]
        )
    assert len(written) == 20
    assert sum("INSERT INTO" in query["sql"] for query in queries) == 1
    rows = OutboxMessage.objects.order_by("key")
    assert rows.count() == 20
    first = rows.get(key="digest:3")
    assert (first.recipient, first.payload["subject"]) == ("owner3@example.com", "Digest 3")
    assert (first.state, first.attempts, first.tenant_id) == (
        OutboxState.PENDING,
        0,
        in_tenant_a.pk,
    )
    assert (first.cause_type, first.cause_id) == ("digest", "W50")


def test_a_key_already_queued_keeps_its_first_message(in_tenant_a):
    outbox.enqueue_many("email", [_email(1)])
    outbox.enqueue_many("email", [_email(1, payload={"subject": "Again", "text": "Again"})])
    [message] = OutboxMessage.objects.all()
    assert message.payload["subject"] == "Digest 1"


def test_a_refused_message_is_left_out_and_the_others_written(in_tenant_a):
    written = outbox.enqueue_many(
        "email",
        [
            _email(1),
            outbox.message(key="digest:bad", recipient="no address", payload={}),
            _email(2),
        ],
    )
    assert [message.key for message in written] == ["digest:1", "digest:2"]
    assert sorted(OutboxMessage.objects.values_list("key", flat=True)) == ["digest:1", "digest:2"]


def test_nothing_to_write_is_no_query(in_tenant_a, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert outbox.enqueue_many("email", []) == []


def test_many_due_now_kick_the_dispatcher_once(in_tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue_email()
        outbox.enqueue_many("email", [_email(n) for n in range(3)])
    assert sum(isinstance(callback, _Kick) for callback in callbacks) == 1
