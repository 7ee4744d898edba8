"""The outbox's tasks: the beat queues a run per tenant with something due; a run sends."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from django.core import mail
from django.utils import timezone

from leadflow.outbox import services, tasks
from leadflow.tenancy.context import tenant_context
from tests.factories import TenantFactory
from tests.outbox.conftest import enqueue_email


def test_the_beat_queues_a_run_only_for_tenants_with_a_due_message(actors):
    with tenant_context(actors.tenant_a):
        enqueue_email()
    with tenant_context(actors.tenant_b):
        enqueue_email(due_at=timezone.now() + timedelta(hours=1))
    TenantFactory(slug="quiet")
    with patch.object(tasks.dispatch_outbox_of_tenant, "delay") as queued:
        assert tasks.dispatch_due_messages() == 1
    queued.assert_called_once_with(tenant_id=actors.tenant_a.pk)


def test_a_tenants_run_sends_its_due_messages(actors):
    with tenant_context(actors.tenant_a):
        enqueue_email()
    assert tasks.dispatch_outbox_of_tenant(tenant_id=actors.tenant_a.pk) == 1
    assert len(mail.outbox) == 1


def test_a_run_that_hit_its_limit_queues_the_next(actors, monkeypatch):
    monkeypatch.setattr(services, "RUN_LIMIT", 2)
    with tenant_context(actors.tenant_a):
        for n in range(3):
            enqueue_email(key=f"k{n}")
    with patch.object(tasks.dispatch_outbox_of_tenant, "delay") as queued:
        assert tasks.dispatch_outbox_of_tenant(tenant_id=actors.tenant_a.pk) == 2
    queued.assert_called_once_with(tenant_id=actors.tenant_a.pk)
