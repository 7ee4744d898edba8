"""The import keeps the planner's estimate of a new tenant near the truth (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from inquiries.services.imports import statistics as statistics_module
from inquiries.services.imports.statistics import PlannerStatistics, estimated_tenant_rows
from leadflow.tenancy.context import tenant_context
from tests.conftest import transactional_databases
from tests.factories import InquiryFactory, TenantFactory
from tests.inquiries.test_imports import csv_bytes, import_file, person

pytestmark = pytest.mark.postgres


def analysed_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'inquiries_inquiry'")
        return cursor.fetchone()[0]


def refresh() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT inquiries_refresh_statistics()")


@pytest.fixture
def misjudged(actors):
    """The statistics are taken before tenant A has any inquiry; then it gets 40."""
    with tenant_context(actors.tenant_a):
        refresh()
        InquiryFactory.create_batch(40, tenant=actors.tenant_a)
        yield actors


def test_the_runtime_role_may_refresh_the_statistics_it_may_not_analyse_itself(actors):
    InquiryFactory.create_batch(3, tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        refresh()
    assert analysed_rows() >= 3


def test_statistics_are_refreshed_when_the_planner_misjudges_the_tenant(misjudged, monkeypatch):
    monkeypatch.setattr(PlannerStatistics, "STALE_AFTER", 10)
    assert estimated_tenant_rows() < 20
    assert PlannerStatistics().refresh_if_stale(40) is True
    assert estimated_tenant_rows() >= 20


def test_statistics_are_left_alone_while_the_estimate_holds(misjudged, monkeypatch):
    monkeypatch.setattr(PlannerStatistics, "STALE_AFTER", 10)
    refresh()
    assert PlannerStatistics().refresh_if_stale(40) is False


def test_a_small_import_never_refreshes_them(misjudged):
    assert PlannerStatistics().refresh_if_stale(40) is False
    assert estimated_tenant_rows() < 20


def test_they_are_refreshed_at_most_once_per_fourfold_growth_of_the_rows_written(
    misjudged, monkeypatch
):
    monkeypatch.setattr(PlannerStatistics, "STALE_AFTER", 10)
    statistics = PlannerStatistics()
    statistics.refreshed_at = 11  # 40 rows written are under 4 × 11
    assert statistics.refresh_if_stale(40) is False


def test_an_import_refreshes_them_between_chunks(actors, monkeypatch):
    monkeypatch.setattr(PlannerStatistics, "STALE_AFTER", 4)
    with tenant_context(actors.tenant_a):
        refresh()  # taken while the tenant is empty
    before = analysed_rows()
    job = import_file(actors.owner, csv_bytes([person(n) for n in range(20)]), chunk_size=5)
    assert (job.status, job.new_count) == ("done", 20)
    assert analysed_rows() >= before + 8


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_outside_a_transaction_they_are_refreshed_on_a_connection_of_their_own(monkeypatch):
    monkeypatch.setattr(PlannerStatistics, "STALE_AFTER", 10)
    refreshed_by: list[int] = []
    original = statistics_module._refresh_statistics

    def spied() -> None:
        refreshed_by.append(backend_pid())
        original()

    monkeypatch.setattr(statistics_module, "_refresh_statistics", spied)
    tenant = TenantFactory(slug="beside")
    with tenant_context(tenant):
        refresh()  # taken while the tenant is empty
        InquiryFactory.create_batch(40, tenant=tenant)
        statistics = PlannerStatistics()
        assert statistics.refresh_if_stale(40) is True
        statistics.wait()
        assert refreshed_by and refreshed_by[0] != backend_pid()
        assert estimated_tenant_rows() >= 20
