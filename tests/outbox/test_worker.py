"""The outbox with a real Celery worker on Redis and PostgreSQL: nothing skipped, no duplicate.

The one duplicate the design allows — a worker killed between a send and its
mark — is provoked here too: it repeats the message with the same Message-ID.
"""

from __future__ import annotations

import email as email_parser
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connection, connections, transaction

from leadflow.celery import app
from leadflow.outbox import services, tasks
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.tenancy.context import tenant_context
from tests.conftest import transactional_databases, wait_until
from tests.factories import TenantFactory
from tests.outbox.conftest import enqueue_email, reload

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def queue(monkeypatch) -> str:
    name = f"test-outbox-{uuid.uuid4().hex[:8]}"  # xdist workers share one Redis
    monkeypatch.setitem(app.conf, "task_default_queue", name)
    return name


@pytest.fixture
def worker(queue):
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        yield


def states(tenant) -> dict[str, int]:
    with tenant_context(tenant):
        rows = OutboxMessage.objects.values_list("state", flat=True)
        return {state: list(rows).count(state) for state in set(rows)}


def message_ids(messages) -> list[str]:
    return [m.message()["Message-ID"] for m in messages]


def test_a_committed_change_is_sent_exactly_once(worker):
    tenant = TenantFactory(slug="outbox-commit")
    with tenant_context(tenant), transaction.atomic():
        enqueue_email()
    assert wait_until(lambda: states(tenant) == {"sent": 1}, seconds=10)
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_sends_nothing(worker):
    tenant = TenantFactory(slug="outbox-rollback")
    with pytest.raises(RuntimeError), tenant_context(tenant), transaction.atomic():
        enqueue_email()
        raise RuntimeError("the booking failed")
    tasks.dispatch_due_messages.delay()
    tasks.dispatch_outbox_of_tenant.delay(tenant_id=tenant.pk)
    # The worker runs its queue in order: once this marker ran, so did both dispatches.
    marker = tenant_context(tenant)
    with marker, transaction.atomic():
        enqueue_email(key="marker")
    assert wait_until(lambda: states(tenant) == {"sent": 1}, seconds=10)
    assert [m.to for m in mail.outbox] == [["pat@example.com"]]
    with tenant_context(tenant):
        assert list(OutboxMessage.objects.values_list("key", flat=True)) == ["marker"]


def test_a_redelivered_dispatch_task_sends_once(queue):
    tenant = TenantFactory(slug="outbox-redelivered")
    with tenant_context(tenant):
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    tenant=tenant,
                    kind="email",
                    key=f"k{n}",
                    recipient=f"buyer{n}@example.com",
                    payload={"subject": "s", "text": "t"},
                )
                for n in range(20)
            ]
        )
    # The same task message delivered three times (a redelivery after a lost ack), then the beat.
    task_id = str(uuid.uuid4())
    for _ in range(3):
        tasks.dispatch_outbox_of_tenant.apply_async(
            kwargs={"tenant_id": tenant.pk}, task_id=task_id
        )
    tasks.dispatch_due_messages.delay()
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        assert wait_until(lambda: states(tenant) == {"sent": 20}, seconds=15)
    assert len(mail.outbox) == 20
    assert len(set(message_ids(mail.outbox))) == 20


def _dispatch_in_thread(tenant, barrier: threading.Barrier, results: list) -> None:
    try:
        barrier.wait()
        with tenant_context(tenant):
            results.append(services.dispatch_due(batch_size=25, limit=10_000))
    finally:
        connection.close()


def test_two_dispatchers_at_once_send_each_of_1000_messages_once():
    tenant = TenantFactory(slug="outbox-concurrent")
    with tenant_context(tenant):
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    tenant=tenant,
                    kind="email",
                    key=f"nurture:{n}:1",
                    recipient=f"buyer{n}@example.com",
                    payload={"subject": "s", "text": "t"},
                )
                for n in range(1000)
            ]
        )
    barrier = threading.Barrier(2)
    results: list[services.DispatchResult] = []
    threads = [
        threading.Thread(target=_dispatch_in_thread, args=(tenant, barrier, results))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.sent > 0 for r in results] == [True, True], "both dispatchers took a share"
    assert sum(r.sent for r in results) == 1000
    assert len(mail.outbox) == 1000
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"buyer{n}@example.com" for n in range(1000)
    )
    assert states(tenant) == {"sent": 1000}


def _worker_environment(lease_seconds: int) -> dict[str, str]:
    settings_dict = connections["default"].settings_dict
    user = settings_dict["USER"]
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    url = (
        f"postgres://{user}{password}@{settings_dict['HOST']}:{settings_dict['PORT']}"
        f"/{settings_dict['NAME']}"
    )
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "OUTBOX_LEASE_SECONDS": str(lease_seconds),
    }
    environment.pop("DATABASE_OWNER_URL", None)
    return environment


def test_a_worker_killed_between_send_and_mark_sends_at_most_twice_with_one_message_id(
    queue, tmp_path, settings
):
    settings.OUTBOX_LEASE_SECONDS = 2
    tenant = TenantFactory(slug="outbox-killed")
    with tenant_context(tenant):
        messages = [
            enqueue_email(key=f"appointment:5:confirmation:{n}", recipient=f"p{n}@example.com")
            for n in range(3)
        ]
    mail_folder, marks = tmp_path / "mail", tmp_path / "marks"
    marks.mkdir()
    crashing = subprocess.Popen(
        [sys.executable, "-m", "tests.outbox.crash_worker", queue, str(mail_folder), str(marks)],
        cwd=ROOT,
        env=_worker_environment(lease_seconds=2),
    )
    try:
        tasks.dispatch_outbox_of_tenant.apply_async(kwargs={"tenant_id": tenant.pk}, queue=queue)
        assert wait_until(lambda: any(marks.iterdir()), seconds=45), "the worker never sent"
    finally:
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(timeout=10)
    [mark] = marks.iterdir()
    killed_id = int(mark.name.removeprefix("sent-"))
    killed = next(m for m in messages if m.pk == killed_id)
    assert reload(killed).state == OutboxState.SENDING
    # Once the lease runs out, any dispatcher takes the message again (and the two never sent).
    assert wait_until(lambda: _dispatch(tenant) == 0 and states(tenant) == {"sent": 3}, seconds=10)
    [before_kill] = mail_folder.iterdir()
    first_copy = email_parser.message_from_bytes(before_kill.read_bytes())
    assert first_copy["To"] == killed.recipient
    resent = [m for m in mail.outbox if m.to == [first_copy["To"]]]
    assert len(resent) == 1, "sent twice in all: once before the kill, once after"
    assert resent[0].message()["Message-ID"] == first_copy["Message-ID"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.recipient for m in messages)


def _dispatch(tenant) -> int:
    with tenant_context(tenant):
        services.dispatch_due()
        return OutboxMessage.objects.exclude(state=OutboxState.SENT).count()


def test_a_permanent_failure_is_recorded_and_a_retry_sends_it(
    worker, receiver, fixed_secret, actors
):
    receiver.status = 410
    with tenant_context(actors.tenant_a), transaction.atomic():
        message = services.enqueue(
            kind="webhook",
            key="webhook:3:lead.accepted:41",
            recipient=receiver.url,
            payload={"type": "lead.accepted", "data": {"lead": 41}},
        )
    assert wait_until(lambda: reload(message).state == OutboxState.FAILED, seconds=10)
    assert reload(message).last_error == "the endpoint answered HTTP 410"
    receiver.status = 204
    assert actors.owner.api().post(f"/api/v1/outbox/{message.pk}/retry/").status_code == 200
    assert wait_until(lambda: reload(message).state == OutboxState.SENT, seconds=10)
    assert len({h["webhook-id"] for h, _body in receiver.requests}) == 1
    assert len(receiver.requests) == 2


def test_a_published_event_reaches_the_partners_endpoint_signed(worker, receiver, actors):
    from standardwebhooks import Webhook

    from leadflow.outbox.endpoints import services as endpoint_services
    from tests.outbox.conftest import make_endpoint, make_partner_side

    side = make_partner_side(actors.tenant_a, "Northwind")
    _endpoint, secret = make_endpoint(side, receiver.url)
    with tenant_context(actors.tenant_a), transaction.atomic():
        [delivery] = endpoint_services.publish(
            side.partner, "lead.assigned", {"lead": {"id": 41}}, "lead:41:assigned:1"
        )
        message = delivery.message
    assert wait_until(lambda: reload(message).state == OutboxState.SENT, seconds=10)
    [(headers, body)] = receiver.requests
    assert Webhook(secret).verify(body, headers)["data"] == {"lead": {"id": 41}}
    assert headers["webhook-id"] == delivery.webhook_id
