"""Background jobs (imports, rescoring, bulk actions): one model base, one claim, one sweep.

A job row has ``status``, ``started_at`` and ``heartbeat_at``. A run may take
it when it is queued, or when it is running but its heartbeat is older than
``stale_after`` (the worker died); the claim is one conditional ``UPDATE``,
so two runs never both hold it.

Each app registers its kinds of job (:func:`register`, from its
``AppConfig.ready()``): the model, its status enum, how long a silent worker
is trusted and the name of the Celery task that runs one. A service *starts*
a job by saving the row and calling :func:`enqueue`, which sends that task
after commit; the service never imports the task, so tasks may import
services and no circle forms. The scheduled sweep (:func:`resume_stalled_jobs`,
run per tenant by ``leadflow.lib.job_tasks``) sends again every registered
job nobody is running, and runs the apps' registered clean-ups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from celery import current_app
from django.db import models, transaction
from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadflow.tenancy.models import TenantOwnedModel

# A queued job gets this long for its message to reach a worker before it is sent again.
QUEUED_GRACE = timedelta(minutes=5)

#: Finds the current tenant's stalled jobs of one kind: ``(job id, tenant id)`` pairs.
StalledFinder = Callable[[datetime], list[tuple[int, int]]]


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BackgroundJob(TenantOwnedModel):
    """What every resumable job row has: its state and the times a run claimed and touched it.

    :func:`claim` takes a queued job, or a running one whose heartbeat is
    stale; runs save their progress with a fresh heartbeat. A kind with more
    states (cancelled) overrides ``status`` with its own choices.
    """

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        abstract = True
        ordering = ["-created_at", "-id"]


# --- Claiming ---------------------------------------------------------------------------


def abandoned(now: datetime, *, running: str, stale_after: timedelta) -> Q:
    """Running jobs whose worker stopped answering."""
    return Q(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - stale_after), status=running)


def claim(
    jobs: QuerySet[BackgroundJob], *, queued: str, running: str, stale_after: timedelta
) -> bool:
    """Take the job in ``jobs`` (filtered to one) for this run; False if another run holds it."""
    now = timezone.now()
    claimable = Q(status=queued) | abandoned(now, running=running, stale_after=stale_after)
    return bool(
        jobs.filter(claimable).update(
            status=running,
            started_at=Coalesce(F("started_at"), Value(now), output_field=DateTimeField()),
            heartbeat_at=now,
        )
    )


# --- The registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    """One kind of background job, as its app declares it.

    ``task`` is the Celery task's name (it takes ``job_id`` and ``tenant_id``).
    A kind whose state is not the model's ``status`` (an import's dry run)
    gives its own ``find_stalled`` instead.
    """

    name: str
    model: type[models.Model]
    status: type[models.TextChoices]
    stale_after: timedelta
    task: str
    find_stalled: StalledFinder | None = None

    def stalled(self, now: datetime) -> list[tuple[int, int]]:
        """The current tenant's jobs of this kind that no worker is running."""
        if self.find_stalled is not None:
            return self.find_stalled(now)
        queued, running = self.status["QUEUED"].value, self.status["RUNNING"].value
        lost = Q(status=queued, created_at__lt=now - QUEUED_GRACE)
        dead = abandoned(now, running=running, stale_after=self.stale_after)
        rows = self.model._default_manager.filter(lost | dead).values_list("pk", "tenant_id")
        return [(pk, tenant_id) for pk, tenant_id in rows]


_kinds: dict[str, JobKind] = {}
_cleanups: dict[str, Callable[[], list[int]]] = {}


def register(kind: JobKind) -> None:
    """Declare a kind of job: the sweep resumes it and :func:`enqueue` knows its task."""
    _kinds[kind.name] = kind


def register_cleanup(name: str, cleanup: Callable[[], list[int]]) -> None:
    """Run ``cleanup`` in every tenant's sweep; it returns the ids it dealt with."""
    _cleanups[name] = cleanup


def registered() -> tuple[JobKind, ...]:
    return tuple(_kinds.values())


def _send(task_name: str, *, job_id: int, tenant_id: int) -> None:
    module, _, _ = task_name.rpartition(".")
    import_module(module)  # registers the task with the Celery app; a no-op once imported
    current_app.tasks[task_name].delay(job_id=job_id, tenant_id=tenant_id)


def enqueue(kind: str, *, job_id: int, tenant_id: int) -> None:
    """Send the task that runs the job once the transaction that recorded it commits."""
    task_name = _kinds[kind].task
    transaction.on_commit(lambda: _send(task_name, job_id=job_id, tenant_id=tenant_id))


# --- The sweep --------------------------------------------------------------------------


@transaction.atomic
def resume_stalled_jobs(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Queue again the current tenant's registered jobs that no worker is running.

    Runs commit their progress chunk by chunk and resume after the last
    committed chunk, so sending one twice is harmless: the second run finds
    the job held (fresh heartbeat) or finished and returns. What the sweep
    repairs is that *no* run is coming: the worker was killed and Redis only
    redelivers after its visibility timeout (an hour), the task gave up after
    its retries, or the broker lost its queue in a restart.
    """
    now = now or timezone.now()
    stalled = {kind.name: (kind.task, kind.stalled(now)) for kind in _kinds.values()}

    def send() -> None:
        for task_name, found in stalled.values():
            for job_id, tenant_id in found:
                _send(task_name, job_id=job_id, tenant_id=tenant_id)

    transaction.on_commit(send)
    return {name: [pk for pk, _ in found] for name, (_, found) in stalled.items()}


def run_cleanups() -> dict[str, list[int]]:
    """Run the apps' registered clean-ups in the current tenant."""
    return {name: cleanup() for name, cleanup in _cleanups.items()}
