"""Changing the tenant's country starts re-parsing stored phones as a resumable job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from inquiries.models import Inquiry, PhoneJob
from inquiries.services.phones import run_phone_job, set_tenant_country
from inquiries.tasks import run_phone_job_task
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Tenant
from tests.factories import InquiryFactory


@pytest.fixture
def queued(monkeypatch):
    messages = []
    monkeypatch.setattr(run_phone_job_task, "delay", lambda **kwargs: messages.append(kwargs))
    return messages


@pytest.fixture
def phones(actors):
    """Two spellings of one Berlin number stored as two people, and one Munich number."""
    tenant = actors.tenant_a
    with tenant_context(tenant):
        return [
            InquiryFactory(tenant=tenant, phone="030 1234567", phone_normalized="0301234567"),
            InquiryFactory(tenant=tenant, phone="+49 30 1234567", phone_normalized="+49301234567"),
            InquiryFactory(tenant=tenant, phone="+49 89 7654321", phone_normalized="+49897654321"),
        ]


def set_country(actor, country):
    with tenant_context(actor.tenant):
        return set_tenant_country(country=country, by=actor.principal)


def run(actor, job, **kwargs) -> PhoneJob:
    with tenant_context(actor.tenant):
        return run_phone_job(job=job, **kwargs)


def test_changing_the_country_stores_it_and_queues_a_job_after_commit(
    actors, phones, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = set_country(actors.owner, "de")
    assert Tenant.objects.get(pk=actors.tenant_a.pk).country == "DE"
    assert (job.status, job.region, job.total) == ("queued", "DE", 3)
    assert queued == [{"job_id": job.pk, "tenant_id": actors.tenant_a.pk}]
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="tenant.country_changed").count() == 1


def test_the_same_country_again_starts_no_job(actors, phones, queued):
    set_country(actors.owner, "DE")
    assert set_country(actors.owner, "DE") is None
    with tenant_context(actors.tenant_a):
        assert PhoneJob.objects.count() == 1


@pytest.mark.parametrize("bad", ["XX", "UK", "Germany", 49])
def test_an_unknown_country_is_refused_and_nothing_changes(actors, phones, queued, bad):
    with pytest.raises(RuleViolation) as refused:
        set_country(actors.owner, bad)
    assert refused.value.field == "country"
    assert Tenant.objects.get(pk=actors.tenant_a.pk).country == ""
    assert not PhoneJob.dangerously_all_tenants.exists()


def test_a_marketer_may_not_change_the_country(actors, queued):
    with pytest.raises(PermissionDenied):
        set_country(actors.teammate, "DE")


def test_the_job_reveals_the_numbers_now_shared(actors, phones, queued):
    job = run(actors.owner, set_country(actors.owner, "DE"))
    assert (job.status, job.done, job.changed, job.percent) == ("done", 3, 1, 100)
    assert job.duplicates == {"+49301234567": [phones[0].pk, phones[1].pk]}
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.get(pk=phones[0].pk).phone_normalized == "+49301234567"


def test_a_job_whose_worker_died_resumes_after_its_last_batch(actors, phones, queued):
    job = run(actors.owner, set_country(actors.owner, "DE"), batch_size=1, stop_after_batches=1)
    assert (job.status, job.done, job.percent) == ("running", 1, 33)
    with tenant_context(actors.tenant_a):
        PhoneJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=10)
        )
    job = run(actors.owner, job, batch_size=1)
    assert (job.status, job.done, job.changed, job.shared) == ("done", 3, 1, 1)


def test_a_job_held_by_a_live_worker_is_not_run_twice(actors, phones, queued):
    job = run(actors.owner, set_country(actors.owner, "DE"), batch_size=1, stop_after_batches=1)
    again = run(actors.owner, job, batch_size=1)
    assert (again.status, again.done) == ("running", 1)


def test_the_task_runs_the_job_in_its_tenant(actors, phones, queued):
    job = set_country(actors.owner, "DE")
    assert run_phone_job_task(job_id=job.pk, tenant_id=actors.tenant_a.pk) == "done"
    with tenant_context(actors.tenant_a):
        assert PhoneJob.objects.get(pk=job.pk).shared == 1


def test_another_tenants_inquiries_are_not_touched(actors, phones, queued):
    with tenant_context(actors.tenant_b):
        other = InquiryFactory(
            tenant=actors.tenant_b, phone="030 1234567", phone_normalized="0301234567"
        )
    job = run(actors.owner, set_country(actors.owner, "DE"))
    assert job.done == 3
    with tenant_context(actors.tenant_b):
        assert Inquiry.objects.get(pk=other.pk).phone_normalized == "0301234567"
