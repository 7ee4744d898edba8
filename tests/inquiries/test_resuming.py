"""Import and rescoring jobs that no worker runs any more are queued again by the sweep."""

import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from inquiries.models import BulkJob, ImportJob, ImportStatus, Inquiry, RescoreJob, RescoreStatus
from inquiries.services import imports
from inquiries.tasks import (
    run_bulk_job_task,
    run_dry_run_task,
    run_import_job_task,
    run_rescore_job_task,
)
from leadflow.celery import app
from leadflow.lib.job_tasks import resume_stalled_jobs as resume_stalled_jobs_task
from leadflow.lib.job_tasks import resume_stalled_jobs_of_tenant
from leadflow.lib.jobs import resume_stalled_jobs
from leadflow.tenancy.context import NoTenantSelected, tenant_context
from leadflow.tenancy.models import AuditEvent
from tests.conftest import make_actor, transactional_databases, wait_until
from tests.factories import LeadDefinitionFactory, TenantFactory
from tests.inquiries.test_imports import csv_bytes, mapped, person, upload

NOW = timezone.now()


@pytest.fixture
def sent(monkeypatch):
    """The task messages the sweep sends, by task."""
    messages = []
    for task in (run_import_job_task, run_rescore_job_task, run_bulk_job_task, run_dry_run_task):
        monkeypatch.setattr(
            task, "delay", lambda task=task, **kwargs: messages.append((task.name, kwargs))
        )
    return messages


def import_job(tenant, status, *, heartbeat=None, age=timedelta(minutes=30)) -> ImportJob:
    with tenant_context(tenant):
        return ImportJob.objects.create(
            tenant=tenant,
            file_name="people.csv",
            stored_path="x/people.csv",
            status=status,
            created_at=NOW - age,
            heartbeat_at=heartbeat,
        )


def rescore_job(tenant, status, *, heartbeat=None, age=timedelta(minutes=30)) -> RescoreJob:
    with tenant_context(tenant):
        return RescoreJob.objects.create(
            tenant=tenant,
            definition=LeadDefinitionFactory(tenant=tenant, status="retired"),
            status=status,
            created_at=NOW - age,
            heartbeat_at=heartbeat,
        )


def sweep(tenant, django_capture_on_commit_callbacks) -> dict:
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        return resume_stalled_jobs(now=NOW)


def test_a_running_import_whose_worker_died_is_queued_again(
    actors, sent, django_capture_on_commit_callbacks
):
    dead = import_job(actors.tenant_a, ImportStatus.RUNNING, heartbeat=NOW - timedelta(minutes=10))
    assert sweep(actors.tenant_a, django_capture_on_commit_callbacks)["imports"] == [dead.pk]
    assert sent == [
        (run_import_job_task.name, {"job_id": dead.pk, "tenant_id": actors.tenant_a.pk})
    ]


def test_a_running_job_with_a_fresh_heartbeat_is_left_alone(
    actors, sent, django_capture_on_commit_callbacks
):
    import_job(actors.tenant_a, ImportStatus.RUNNING, heartbeat=NOW - timedelta(seconds=20))
    rescore_job(actors.tenant_a, RescoreStatus.RUNNING, heartbeat=NOW - timedelta(seconds=20))
    assert sweep(actors.tenant_a, django_capture_on_commit_callbacks) == {
        "imports": [],
        "rescores": [],
        "bulk": [],
        "dry_runs": [],
        "phones": [],
        "suggestions": [],
    }
    assert sent == []


def test_a_queued_job_gets_a_grace_period_before_it_is_sent_again(
    actors, sent, django_capture_on_commit_callbacks
):
    import_job(actors.tenant_a, ImportStatus.QUEUED, age=timedelta(minutes=1))
    lost = import_job(actors.tenant_a, ImportStatus.QUEUED, age=timedelta(minutes=20))
    assert sweep(actors.tenant_a, django_capture_on_commit_callbacks)["imports"] == [lost.pk]


def test_finished_jobs_are_never_run_again(actors, sent, django_capture_on_commit_callbacks):
    for status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED):
        import_job(actors.tenant_a, status, heartbeat=NOW - timedelta(hours=1))
    for status in (RescoreStatus.DONE, RescoreStatus.FAILED):
        rescore_job(actors.tenant_a, status, heartbeat=NOW - timedelta(hours=1))
    sweep(actors.tenant_a, django_capture_on_commit_callbacks)
    assert sent == []


def test_a_stalled_rescoring_job_is_queued_again(actors, sent, django_capture_on_commit_callbacks):
    dead = rescore_job(actors.tenant_a, RescoreStatus.RUNNING, heartbeat=NOW - timedelta(hours=1))
    assert sweep(actors.tenant_a, django_capture_on_commit_callbacks)["rescores"] == [dead.pk]
    assert sent == [
        (run_rescore_job_task.name, {"job_id": dead.pk, "tenant_id": actors.tenant_a.pk})
    ]


def test_a_stalled_bulk_job_is_queued_again(actors, sent, django_capture_on_commit_callbacks):
    with tenant_context(actors.tenant_a):
        dead = BulkJob.objects.create(
            tenant=actors.tenant_a,
            action="nurture",
            query="stage=inquiry",
            status="running",
            heartbeat_at=NOW - timedelta(minutes=10),
        )
    assert sweep(actors.tenant_a, django_capture_on_commit_callbacks)["bulk"] == [dead.pk]
    assert sent == [
        ("inquiries.tasks.run_bulk_job_task", {"job_id": dead.pk, "tenant_id": actors.tenant_a.pk})
    ]


def dry_run_job(tenant, state, *, minutes_ago) -> ImportJob:
    job = import_job(tenant, ImportStatus.ANALYSED)
    with tenant_context(tenant):
        job.dry_run = {
            "state": state,
            "updated_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        }
        job.save(update_fields=["dry_run"])
    return job


def test_a_dry_run_whose_worker_died_or_whose_message_was_lost_is_sent_again(
    actors, sent, django_capture_on_commit_callbacks
):
    dead = dry_run_job(actors.tenant_a, "running", minutes_ago=10)
    lost = dry_run_job(actors.tenant_a, "queued", minutes_ago=20)
    dry_run_job(actors.tenant_a, "running", minutes_ago=0)  # alive
    dry_run_job(actors.tenant_a, "queued", minutes_ago=1)  # in its grace period
    dry_run_job(actors.tenant_a, "done", minutes_ago=60)
    found = sweep(actors.tenant_a, django_capture_on_commit_callbacks)["dry_runs"]
    assert sorted(found) == sorted([dead.pk, lost.pk])
    assert sorted(kwargs["job_id"] for name, kwargs in sent if "dry_run" in name) == sorted(
        [dead.pk, lost.pk]
    )


def test_the_sweep_sees_only_the_current_tenants_jobs(
    actors, sent, django_capture_on_commit_callbacks
):
    import_job(actors.tenant_b, ImportStatus.RUNNING, heartbeat=NOW - timedelta(hours=1))
    assert sweep(actors.tenant_a, django_capture_on_commit_callbacks)["imports"] == []
    assert sent == []


def test_the_tenant_sweep_task_refuses_to_run_without_a_tenant():
    with pytest.raises(NoTenantSelected):
        resume_stalled_jobs_of_tenant.delay()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_an_import_killed_halfway_is_finished_by_the_scheduled_sweep_on_a_real_worker(
    monkeypatch,
):
    tenant = TenantFactory(slug="sweep-worker")
    actor = make_actor(tenant, "marketer")
    job = mapped(actor, upload(actor, csv_bytes([person(n) for n in range(30)])))
    with tenant_context(tenant):
        # Queued as start_import leaves it, without sending the message: the run starts here.
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
        job = imports.run_import_job(job=job, chunk_size=10, stop_after_chunks=1)
        # The worker died: its heartbeat goes stale and no message is coming.
        ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=NOW - timedelta(hours=1))
    assert (job.status, job.done_rows) == ("running", 10)
    queue = f"test-{uuid.uuid4().hex[:8]}"  # xdist workers share one Redis
    monkeypatch.setitem(app.conf, "task_default_queue", queue)
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        resume_stalled_jobs_task.delay()

        def finished():
            with tenant_context(tenant):
                return ImportJob.objects.get(pk=job.pk).status == "done"

        assert wait_until(finished)
    with tenant_context(tenant):
        assert ImportJob.objects.get(pk=job.pk).done_rows == 30
        assert Inquiry.objects.count() == 30


# --- Uploads nobody started ---------------------------------------------------------------


@pytest.fixture
def stored_upload(actors, settings, tmp_path):
    """An upload of tenant A analysed eight days ago, its file on disk."""
    settings.IMPORTS_ROOT = tmp_path / "imports"
    job = upload(actors.owner, csv_bytes([person(1)]))
    with tenant_context(actors.tenant_a):
        ImportJob.objects.filter(pk=job.pk).update(created_at=NOW - timedelta(days=8))
    return job


def test_an_upload_never_started_is_cancelled_and_its_file_removed(
    actors, stored_upload, django_capture_on_commit_callbacks
):
    path = imports.stored_file(stored_upload)
    assert path.exists()
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        expired = imports.expire_unstarted_uploads(now=NOW)
        job = ImportJob.objects.get(pk=stored_upload.pk)
        audited = AuditEvent.objects.filter(action="import.expired").count()
    assert expired == [stored_upload.pk]
    assert (job.status, job.error) == (
        "cancelled",
        "Never started; the uploaded file was removed after 7 days.",
    )
    assert not path.exists()
    assert audited == 1


def test_a_recent_upload_is_kept(actors, stored_upload):
    with tenant_context(actors.tenant_a):
        ImportJob.objects.filter(pk=stored_upload.pk).update(created_at=NOW - timedelta(days=6))
        assert imports.expire_unstarted_uploads(now=NOW) == []
    assert imports.stored_file(stored_upload).exists()


def test_an_old_upload_with_a_dry_run_under_way_is_kept(actors, stored_upload):
    with tenant_context(actors.tenant_a):
        ImportJob.objects.filter(pk=stored_upload.pk).update(
            dry_run={"state": "running", "updated_at": timezone.now().isoformat()}
        )
        assert imports.expire_unstarted_uploads(now=NOW) == []


def test_started_imports_are_never_expired(actors, stored_upload):
    with tenant_context(actors.tenant_a):
        ImportJob.objects.filter(pk=stored_upload.pk).update(status=ImportStatus.DONE)
        assert imports.expire_unstarted_uploads(now=NOW) == []


def test_the_expiry_sees_only_the_current_tenants_uploads(actors, stored_upload):
    with tenant_context(actors.tenant_b):
        assert imports.expire_unstarted_uploads(now=NOW) == []
    with tenant_context(actors.tenant_a):
        assert ImportJob.objects.get(pk=stored_upload.pk).status == "analysed"


def test_the_tenant_sweep_task_expires_unstarted_uploads(actors, stored_upload, sent):
    result = resume_stalled_jobs_of_tenant.apply(kwargs={"tenant_id": actors.tenant_a.pk}).get()
    assert result["expired_uploads"] == [stored_upload.pk]
