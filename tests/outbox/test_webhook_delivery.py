"""Partner webhooks delivered through the outbox: signed, retried on the spec's schedule, logged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from leadflow.outbox import services, webhooks
from leadflow.outbox.endpoints import services as endpoint_services
from leadflow.outbox.models import (
    OutboxMessage,
    OutboxState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.outbox.conftest import make_endpoint, reload

LEAD = {"lead": {"id": 41, "company": "Freight Co", "stage": "assigned"}}


def publish(side, event="lead.assigned", key="lead:41:assigned:1", data=LEAD):
    with transaction.atomic():
        return endpoint_services.publish(side.partner, event, data, key)


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict:
    return Webhook(secret).verify(body, headers)


def endpoint_of(endpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_the_signature_verifies_with_the_reference_library(in_tenant_a, northwind, receiver):
    _endpoint, secret = make_endpoint(northwind, receiver.url)
    publish(northwind)
    services.dispatch_due()
    [(headers, body)] = receiver.requests
    payload = verify(secret, headers, body)
    assert payload["type"] == "lead.assigned"
    assert payload["data"] == LEAD
    assert payload["timestamp"].endswith("Z")


def test_another_secret_does_not_verify(in_tenant_a, northwind, contoso, receiver):
    make_endpoint(northwind, receiver.url)
    _other, other_secret = make_endpoint(contoso, receiver.url)
    publish(northwind)
    services.dispatch_due()
    [(headers, body)] = receiver.requests
    with pytest.raises(Exception, match="(?i)signature"):
        verify(other_secret, headers, body)


def test_during_a_rotation_both_secrets_sign(in_tenant_a, northwind, receiver):
    endpoint, old_secret = make_endpoint(northwind, receiver.url)
    new_secret = endpoint_services.rotate_secret(endpoint=endpoint, by=northwind.principal).secret
    publish(northwind)
    services.dispatch_due()
    [(headers, body)] = receiver.requests
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(old_secret, headers, body)["type"] == "lead.assigned"
    assert verify(new_secret, headers, body)["type"] == "lead.assigned"


def test_after_the_overlap_only_the_new_secret_signs(in_tenant_a, northwind, receiver):
    endpoint, _old = make_endpoint(northwind, receiver.url)
    endpoint_services.rotate_secret(endpoint=endpoint, by=northwind.principal)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    publish(northwind)
    services.dispatch_due()
    [(headers, _body)] = receiver.requests
    assert len(headers["webhook-signature"].split(" ")) == 1


def test_publish_writes_one_message_per_enabled_subscribed_endpoint(in_tenant_a, northwind):
    make_endpoint(northwind, "https://one.example/hooks")
    make_endpoint(northwind, "https://two.example/hooks", events=["lead.recalled"])
    off, _ = make_endpoint(northwind, "https://three.example/hooks")
    WebhookEndpoint.objects.filter(pk=off.pk).update(enabled=False)
    deliveries = publish(northwind)
    assert [d.endpoint.url for d in deliveries] == ["https://one.example/hooks"]
    assert OutboxMessage.objects.filter(kind="webhook").count() == 1


def test_the_same_business_key_publishes_once(in_tenant_a, northwind):
    make_endpoint(northwind, "https://one.example/hooks")
    publish(northwind)
    publish(northwind)
    assert WebhookDelivery.objects.count() == 1


def test_a_rolled_back_change_publishes_nothing(in_tenant_a, northwind):
    make_endpoint(northwind, "https://one.example/hooks")
    with pytest.raises(RuntimeError), transaction.atomic():
        endpoint_services.publish(northwind.partner, "lead.assigned", LEAD, "lead:41:x")
        raise RuntimeError("the assignment failed")
    assert not OutboxMessage.objects.filter(kind="webhook").exists()
    assert not WebhookDelivery.objects.exists()


def test_another_partners_endpoint_gets_nothing(in_tenant_a, northwind, contoso):
    make_endpoint(contoso, "https://contoso.example/hooks")
    assert publish(northwind) == []


def test_the_retry_schedule_is_the_specs_with_jitter(in_tenant_a, northwind, receiver):
    receiver.status = 503
    make_endpoint(northwind, receiver.url)
    [delivery] = publish(northwind)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        services.dispatch_due()  # the first attempt: immediately
        for expected in webhooks.RETRY_DELAYS:
            message = reload(delivery.message)
            assert message.state == OutboxState.PENDING
            delay = (message.due_at - timezone.now()).total_seconds()
            assert expected * 0.9 <= delay <= expected * 1.1
            clock.move_to(message.due_at + timedelta(seconds=1))
            services.dispatch_due()
    message = reload(delivery.message)
    assert message.state == OutboxState.FAILED
    assert len(receiver.requests) == len(webhooks.RETRY_DELAYS) + 1 == 10
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 10


def test_the_schedule_lasts_about_three_days():
    assert timedelta(days=3) < timedelta(seconds=sum(webhooks.RETRY_DELAYS)) < timedelta(days=3.5)


def test_the_webhook_id_is_the_same_on_every_retry(in_tenant_a, northwind, receiver):
    receiver.status = 500
    make_endpoint(northwind, receiver.url)
    [delivery] = publish(northwind)
    services.dispatch_due()
    OutboxMessage.objects.filter(pk=delivery.message_id).update(due_at=timezone.now())
    services.dispatch_due()
    assert {h["webhook-id"] for h, _ in receiver.requests} == {delivery.webhook_id}
    assert len(receiver.requests) == 2


def test_a_410_disables_the_endpoint_at_once_and_tells_partner_and_managers(
    in_tenant_a, actors, northwind, receiver
):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    receiver.status = 410
    endpoint, _ = make_endpoint(northwind, receiver.url)
    [delivery] = publish(northwind)
    services.dispatch_due()
    assert reload(delivery.message).state == OutboxState.FAILED
    endpoint = endpoint_of(endpoint)
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    told = set(
        OutboxMessage.objects.filter(kind="email", key__startswith="webhook-disabled:").values_list(
            "recipient", flat=True
        )
    )
    assert {"ops@northwind.example", manager.user.email} <= told


def test_a_disabled_endpoint_gets_no_new_events(in_tenant_a, northwind, receiver):
    receiver.status = 410
    make_endpoint(northwind, receiver.url)
    publish(northwind)
    services.dispatch_due()
    assert publish(northwind, key="lead:42:assigned:1") == []


def test_a_pending_message_of_a_disabled_endpoint_fails_saying_why(in_tenant_a, northwind):
    endpoint, _ = make_endpoint(northwind, "https://one.example/hooks")
    [delivery] = publish(northwind)
    endpoint_services.disable_endpoint(endpoint_of(endpoint), reason="Testing.")
    services.dispatch_due()
    message = reload(delivery.message)
    assert message.state == OutboxState.FAILED
    assert "disabled" in message.last_error


def test_failing_for_five_days_in_a_row_disables_the_endpoint(in_tenant_a, northwind, receiver):
    receiver.status = 500
    endpoint, _ = make_endpoint(northwind, receiver.url)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        publish(northwind, key="day-0")
        services.dispatch_due()
        assert endpoint_of(endpoint).failing_since == start
        clock.move_to(start + timedelta(days=4, hours=23))
        publish(northwind, key="day-4")
        services.dispatch_due()
        assert endpoint_of(endpoint).enabled
        clock.move_to(start + timedelta(days=5, minutes=1))
        publish(northwind, key="day-5")
        services.dispatch_due()
    endpoint = endpoint_of(endpoint)
    assert not endpoint.enabled
    assert "5 days" in endpoint.disabled_reason
    assert OutboxMessage.objects.filter(
        kind="email", recipient="ops@northwind.example", key__startswith="webhook-disabled:"
    ).exists()


def test_a_success_ends_a_run_of_failures(in_tenant_a, northwind, receiver):
    receiver.status = 500
    endpoint, _ = make_endpoint(northwind, receiver.url)
    publish(northwind, key="a")
    services.dispatch_due()
    assert endpoint_of(endpoint).failing_since is not None
    receiver.status = 200
    publish(northwind, key="b")
    services.dispatch_due()
    assert endpoint_of(endpoint).failing_since is None


def test_the_log_holds_exactly_what_was_sent_and_a_capped_answer(in_tenant_a, northwind, receiver):
    receiver.status = 500
    receiver.body = b"x" * 10_000
    make_endpoint(northwind, receiver.url)
    [delivery] = publish(northwind)
    services.dispatch_due()
    [(headers, body)] = receiver.requests
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.request_body.encode() == body
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type"):
        sent = {k.lower(): v for k, v in attempt.request_headers.items()}
        assert sent[name] == headers[name]
    assert attempt.response_status == 500
    assert attempt.response_excerpt == "x" * webhooks.EXCERPT_BYTES
    assert not attempt.succeeded
    assert attempt.url == receiver.url


def test_resend_sends_again_with_the_same_webhook_id(in_tenant_a, northwind, receiver):
    make_endpoint(northwind, receiver.url)
    [delivery] = publish(northwind)
    services.dispatch_due()
    assert reload(delivery.message).state == OutboxState.SENT
    endpoint_services.resend(delivery=delivery, by=northwind.principal)
    services.dispatch_due()
    ids = [headers["webhook-id"] for headers, _ in receiver.requests]
    assert ids == [delivery.webhook_id, delivery.webhook_id]
    assert json.loads(receiver.requests[1][1])["type"] == "lead.assigned"


def test_send_test_returns_the_receivers_answer(in_tenant_a, northwind, receiver):
    receiver.status = 202
    receiver.body = b'{"ok": true}'
    endpoint, _ = make_endpoint(northwind, receiver.url)
    result = endpoint_services.send_test(endpoint=endpoint, by=northwind.principal)
    assert result.attempt is not None
    assert result.attempt.response_status == 202
    assert result.attempt.response_excerpt == '{"ok": true}'
    assert json.loads(receiver.requests[0][1])["type"] == "webhook.test"


def test_every_endpoint_belongs_to_its_tenant(actors, northwind):
    endpoint, _ = make_endpoint(northwind, "https://one.example/hooks")
    with tenant_context(actors.tenant_b):
        assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
        assert not WebhookEndpoint.dangerously_all_tenants.filter(pk=endpoint.pk).exists()


def test_a_410_stops_the_rest_of_the_batch_at_once(in_tenant_a, northwind, receiver):
    receiver.status = 410
    make_endpoint(northwind, receiver.url)
    first = publish(northwind, key="one")
    second = publish(northwind, key="two")
    services.dispatch_due()
    assert len(receiver.requests) == 1
    assert reload(first[0].message).state == OutboxState.FAILED
    assert "disabled" in reload(second[0].message).last_error


def test_a_batch_reads_its_deliveries_in_one_query(
    in_tenant_a, northwind, receiver, django_assert_max_num_queries
):
    make_endpoint(northwind, receiver.url)
    for n in range(5):
        publish(northwind, key=f"k{n}")
    # Claim and reload (5) and the batch's deliveries (1), the empty claim at the end (3); per
    # message only the attempt's count, its log (savepoint, asynchronous commit, insert,
    # release) and mark.
    with django_assert_max_num_queries(5 + 1 + 3 + 5 * 6):
        assert services.dispatch_due().sent == 5
