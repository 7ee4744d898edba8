"""Enqueueing the messages a query selects: one INSERT … SELECT, the first key wins."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadflow import outbox
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.outbox.services import _Kick

# Three emails made by the query itself: keys, addresses and payloads never leave the database.
ROWS_SQL = """
SELECT 'digest:' || n, 'owner' || n || '@example.com',
    jsonb_build_object('subject', 'Digest ' || n, 'text', 'Hello ' || n)
FROM generate_series(1, %s) AS n
"""

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="an INSERT … SELECT of jsonb rows"
)


def test_the_selected_messages_are_written_in_one_insert(in_tenant_a):
    with CaptureQueriesContext(connection) as queries:
        written = outbox.enqueue_select("email", ROWS_SQL, [3], cause=("digest", "W50"))
    assert written == 3
    assert sum("INSERT INTO" in query["sql"] for query in queries) == 1
    message = OutboxMessage.objects.get(key="digest:2")
    assert (message.recipient, message.payload) == (
        "owner2@example.com",
        {"subject": "Digest 2", "text": "Hello 2"},
    )
    assert (message.state, message.attempts, message.tenant_id) == (
        OutboxState.PENDING,
        0,
        in_tenant_a.pk,
    )
    assert (message.cause_type, message.cause_id) == ("digest", "W50")


def test_a_key_already_queued_keeps_its_first_message_and_is_not_counted(in_tenant_a):
    outbox.enqueue_many(
        "email",
        [
            outbox.message(
                key="digest:1", recipient="x@example.com", payload={"subject": "First", "text": "t"}
            )
        ],
    )
    assert outbox.enqueue_select("email", ROWS_SQL, [2]) == 1
    assert OutboxMessage.objects.get(key="digest:1").payload["subject"] == "First"


def test_the_check_refuses_what_enqueue_refuses():
    with pytest.raises(ValueError, match="not an email address"):
        outbox.check("email", "digest:1", "no address", {"subject": "s", "text": "t"})


def test_written_messages_due_now_kick_the_dispatcher_once(
    in_tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        outbox.enqueue_select("email", ROWS_SQL, [3])
        outbox.enqueue_select("email", ROWS_SQL, [4])
    assert sum(isinstance(callback, _Kick) for callback in callbacks) == 1


def test_nothing_written_kicks_nothing(in_tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert outbox.enqueue_select("email", ROWS_SQL, [0]) == 0
    assert not any(isinstance(callback, _Kick) for callback in callbacks)
