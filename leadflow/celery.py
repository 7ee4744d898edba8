"""The Celery app; broker and schedule come from settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

app = Celery("leadflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["leadflow.tenancy", "leadflow.outbox"])
app.autodiscover_tasks(["leadflow.lib"], related_name="job_tasks")
# The Monday report's tasks live in its sub-package (reporting/weekly/tasks.py).
app.autodiscover_tasks(["reporting.weekly"])
# The dashboards' rollup refresh (issue 22) lives in a package of reporting.
app.autodiscover_tasks(["reporting.dashboards"])


@worker_init.connect
@beat_init.connect
def refuse_an_unsafe_database_role(**kwargs) -> None:
    """Stop the worker or beat before it runs anything as a role RLS does not bind."""
    import django
    from django.apps import apps
    from django.core.management.base import SystemCheckError

    if not apps.ready:
        django.setup()
    from leadflow.tenancy.checks import require_safe_database_role

    try:
        require_safe_database_role()
    except SystemCheckError as error:
        # Celery logs and swallows an exception a signal receiver raises; SystemExit stops it.
        raise SystemExit(str(error)) from None
