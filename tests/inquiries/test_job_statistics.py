"""Rescoring and the bulk jobs leave the planner's statistics fresh (autovacuum is off here).

Mirrors ``test_import_statistics``: the statistics are taken while tenant A is
empty, then it gets rows the planner does not know of; each job that writes
many rows must refresh them (``refresh_statistics``, threshold lowered here).
"""

from __future__ import annotations

import pytest
from django.db import connection

from inquiries.models import Inquiry
from inquiries.selectors.inbox import Selection
from inquiries.services import outcomes, phones, planner, rescoring, triage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from tests.factories import InquiryFactory, LeadDefinitionFactory

pytestmark = pytest.mark.postgres

ROWS = 30


def analysed_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'inquiries_inquiry'")
        return cursor.fetchone()[0]


@pytest.fixture
def unknown_rows(actors, monkeypatch):
    """Statistics of an empty tenant; then 30 inquiries the planner has not seen."""
    monkeypatch.setattr(planner, "ANALYZE_AFTER", 10)
    with tenant_context(actors.tenant_a):
        with connection.cursor() as cursor:
            cursor.execute("SELECT inquiries_refresh_statistics()")
        before = analysed_rows()
        InquiryFactory.create_batch(
            ROWS, tenant=actors.tenant_a, stage="inquiry", phone="030 1234567"
        )
    assert analysed_rows() < before + ROWS / 2  # the planner has not seen them yet
    return before


def test_a_rescore_refreshes_the_statistics(actors, unknown_rows):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        job = rescoring.start_rescore(
            definition=definition, by=Principal.system(actors.tenant_a, "tests")
        )
        job = rescoring.run_rescore_job(job=job)
    assert job.status == "done"
    assert analysed_rows() >= unknown_rows + ROWS


def test_a_bulk_triage_job_refreshes_the_statistics(actors, unknown_rows, monkeypatch):
    monkeypatch.setattr(triage, "INLINE_LIMIT", 5)
    monkeypatch.setattr("inquiries.tasks.run_bulk_job_task.delay", lambda **kwargs: None)
    with tenant_context(actors.tenant_a):
        job = triage.run_bulk_action(
            action="nurture",
            selection=Selection(query="stage=inquiry"),
            values={},
            by=actors.teammate.principal,
        )
        assert not isinstance(job, triage.BulkResult)  # a job, not done in the request
        job = triage.run_bulk_job(job=job)
    assert (job.status, job.changed) == ("done", ROWS)
    assert analysed_rows() >= unknown_rows + ROWS


def test_bulk_outcomes_refresh_the_statistics(
    actors, unknown_rows, django_capture_on_commit_callbacks
):
    with tenant_context(actors.tenant_a):
        ids = list(Inquiry.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            result = outcomes.record_outcomes(ids=ids, outcome="won", by=actors.owner.principal)
    assert result.changed == ROWS
    assert analysed_rows() >= unknown_rows + ROWS


def test_the_phone_job_refreshes_the_statistics(actors, unknown_rows, monkeypatch):
    monkeypatch.setattr("inquiries.tasks.run_phone_job_task.delay", lambda **kwargs: None)
    with tenant_context(actors.tenant_a):
        job = phones.set_tenant_country(country="DE", by=actors.owner.principal)
        job = phones.run_phone_job(job=job)
    assert (job.status, job.changed) == ("done", ROWS)
    assert analysed_rows() >= unknown_rows + ROWS
