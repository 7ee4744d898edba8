"""Nurture with a real Celery worker on Redis and PostgreSQL: the beat's task delivers the email."""

from __future__ import annotations

import uuid
from datetime import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from inquiries.models import Stage
from leadflow import outbox
from leadflow.celery import app
from leadflow.lib import stages
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from nurture import tasks
from nurture.models import NurtureSend, NurtureSettings
from tests.conftest import transactional_databases, wait_until
from tests.factories import InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


@pytest.fixture
def worker(monkeypatch):
    name = f"test-nurture-{uuid.uuid4().hex[:8]}"  # xdist workers share one Redis
    monkeypatch.setitem(app.conf, "task_default_queue", name)
    with start_worker(app, pool="solo", queues=[name], perform_ping_check=False):
        yield


def sent_states(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(OutboxMessage.objects.values_list("state", flat=True))


def test_the_beat_task_turns_a_nurture_step_into_one_delivered_email(worker, settings):
    settings.SITE_URL = "https://leadflow.example"
    tenant = TenantFactory(slug="nurture-worker")
    inquiry = InquiryFactory(tenant=tenant, stage=Stage.MQL, email="dana@freight.example")
    with tenant_context(tenant):
        NurtureSettings.objects.create(
            consent_mode="opt_out",
            window_start=time(0),
            window_end=time(0),
            postal_address="Freight Co, 1 Dock Road",
        )
        # A committed move to nurture: the hook enrolls after the commit.
        with transaction.atomic():
            stages.move(inquiry, Stage.NURTURE, by=Principal.system(tenant, "tests"))
    tasks.run_nurture.delay()
    assert wait_until(lambda: sent_states(tenant) == ["sent"], seconds=20), sent_states(tenant)
    # The scheduler runs again (twice) before the next due time: nothing is sent twice. The
    # worker runs its queue in order, so once the marker email is sent both runs are done.
    tasks.run_nurture_of_tenant.delay(tenant_id=tenant.pk)
    tasks.run_nurture_of_tenant.delay(tenant_id=tenant.pk)
    with tenant_context(tenant), transaction.atomic():
        outbox.enqueue(
            kind="email",
            key="marker",
            recipient="marker@example.com",
            payload={"subject": "marker", "text": "marker"},
        )
    assert wait_until(lambda: sent_states(tenant) == ["sent", "sent"], seconds=20)
    with tenant_context(tenant):
        assert NurtureSend.objects.count() == 1
    assert [m.to for m in mail.outbox] == [["dana@freight.example"], ["marker@example.com"]]
    email = mail.outbox[0]
    assert email.to == ["dana@freight.example"]
    assert "Freight Co, 1 Dock Road" in email.body
    assert email.message()["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
