"""The registry of background jobs: every kind names a task that exists, and runs after commit."""

from importlib import import_module

import pytest

from inquiries.tasks import run_bulk_job_task
from leadflow.celery import app
from leadflow.lib import jobs


def test_every_registered_kind_names_a_celery_task_that_exists():
    kinds = jobs.registered()
    assert {kind.name for kind in kinds} >= {"imports", "rescores", "bulk", "dry_runs"}
    for kind in kinds:
        import_module(kind.task.rpartition(".")[0])
        assert kind.task in app.tasks, kind.task


def test_enqueue_sends_the_kinds_task_only_when_the_transaction_commits(
    monkeypatch, django_capture_on_commit_callbacks, db
):
    sent = []
    monkeypatch.setattr(run_bulk_job_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        jobs.enqueue("bulk", job_id=7, tenant_id=3)
        assert sent == []
    assert len(callbacks) == 1
    assert sent == [{"job_id": 7, "tenant_id": 3}]


def test_enqueue_refuses_a_kind_nobody_registered():
    with pytest.raises(KeyError):
        jobs.enqueue("no-such-kind", job_id=1, tenant_id=1)


def test_the_beat_schedule_runs_the_sweep_task_that_exists(settings):
    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["resume-stalled-jobs"]["task"] in app.tasks
