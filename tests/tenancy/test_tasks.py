"""Tenant tasks: refused without a tenant, confined to theirs with one, run by a real worker."""

import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from leadflow.celery import app
from leadflow.tenancy.context import NoTenantSelected, tenant_context
from leadflow.tenancy.models import IdempotencyRecord, Tenant
from leadflow.tenancy.tasks import (
    purge_expired_idempotency_keys,
    purge_expired_idempotency_keys_of_tenant,
)
from tests.conftest import transactional_databases, wait_until
from tests.factories import TenantFactory


def expired_record(tenant, key="old"):
    with tenant_context(tenant):
        return IdempotencyRecord.objects.create(
            tenant=tenant,
            caller="user:1",
            key=key,
            fingerprint="f" * 64,
            state="completed",
            created_at=timezone.now() - timedelta(hours=30),
        )


def records(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(IdempotencyRecord.objects.values_list("key", flat=True))


def test_enqueueing_a_tenant_task_without_tenant_id_is_refused():
    with pytest.raises(NoTenantSelected):
        purge_expired_idempotency_keys_of_tenant.delay()


def test_running_a_tenant_task_without_tenant_id_is_refused():
    with pytest.raises(NoTenantSelected):
        purge_expired_idempotency_keys_of_tenant()


def test_tenant_task_changes_only_its_tenants_rows(actors):
    expired_record(actors.tenant_a)
    expired_record(actors.tenant_b)
    assert purge_expired_idempotency_keys_of_tenant(tenant_id=actors.tenant_a.pk) == 1
    assert records(actors.tenant_a) == []
    assert records(actors.tenant_b) == ["old"]


def test_tenant_task_for_a_deleted_tenant_returns_quietly(db):
    assert purge_expired_idempotency_keys_of_tenant(tenant_id=987654) is None


def test_recent_records_are_kept(actors):
    with tenant_context(actors.tenant_a):
        IdempotencyRecord.objects.create(
            tenant=actors.tenant_a,
            caller="user:1",
            key="new",
            fingerprint="f" * 64,
            state="completed",
        )
    purge_expired_idempotency_keys_of_tenant(tenant_id=actors.tenant_a.pk)
    assert records(actors.tenant_a) == ["new"]


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_real_worker_runs_the_hourly_purge_for_every_tenant_through_redis(monkeypatch):
    a = TenantFactory(slug="worker-a")
    b = TenantFactory(slug="worker-b")
    expired_record(a)
    expired_record(b)
    queue = f"test-{uuid.uuid4().hex[:8]}"  # xdist workers share one Redis
    monkeypatch.setitem(app.conf, "task_default_queue", queue)
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        purge_expired_idempotency_keys.apply_async(queue=queue)
        assert wait_until(lambda: records(a) == [] and records(b) == [])
    assert Tenant.objects.count() == 2
