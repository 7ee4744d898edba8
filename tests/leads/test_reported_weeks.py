"""``Lead.reported_weeks``: the weeks reported, as bits counted back from ``last_update_week``."""

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connections, transaction

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from leads.services.updates import mark_reported, record_weekly_update
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, LeadFactory, TenantFactory

# Wednesday of 2026-W50 (Monday 7 December).
NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
MONDAY = date(2026, 12, 7)


def back(n: int) -> date:
    return MONDAY - timedelta(weeks=n)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def lead(actors, rep_a):
    return LeadFactory(
        tenant=actors.tenant_a,
        inquiry=InquiryFactory(tenant=actors.tenant_a, stage="lead"),
        rep=rep_a.user,
        stage="accepted",
        assigned_at=NOW - timedelta(weeks=80),
    )


def report(actors, lead, by, week: date) -> tuple[date | None, int]:
    with tenant_context(actors.tenant_a):
        record_weekly_update(lead=lead, by=by, status="progress", note="Called", week=week)
        stored = Lead.objects.get(pk=lead.pk)
    return stored.last_update_week, stored.reported_weeks


def test_weeks_in_order_shift_the_bits_and_set_bit_zero(actors, rep_a, lead):
    for week in (back(2), back(1), MONDAY):
        result = report(actors, lead, rep_a.principal, week)
    assert result == (MONDAY, 0b111)


def test_a_late_week_sets_its_own_bit_and_keeps_the_latest_week(actors, rep_a, lead):
    report(actors, lead, rep_a.principal, MONDAY)
    assert report(actors, lead, rep_a.principal, back(3)) == (MONDAY, 0b1001)


def test_weeks_out_of_order_give_the_same_bits_as_in_order(actors, rep_a, lead):
    for week in (back(1), back(4), MONDAY, back(2)):
        result = report(actors, lead, rep_a.principal, week)
    assert result == (MONDAY, 0b10111)


def test_the_same_week_twice_is_one_bit(actors, rep_a, lead):
    report(actors, lead, rep_a.principal, back(1))
    assert report(actors, lead, rep_a.principal, back(1)) == (back(1), 0b1)


def test_a_gap_of_more_than_62_weeks_clears_the_old_bits(actors, rep_a, lead):
    report(actors, lead, rep_a.principal, back(70))
    report(actors, lead, rep_a.principal, back(69))
    assert report(actors, lead, rep_a.principal, MONDAY) == (MONDAY, 0b1)


def test_a_gap_of_62_weeks_keeps_the_old_week_in_bit_62():
    assert mark_reported(back(62), 0b1, MONDAY) == (MONDAY, (1 << 62) | 1)
    assert mark_reported(back(62), 0b11, MONDAY) == (MONDAY, (1 << 62) | 1)


def test_a_late_week_older_than_62_weeks_sets_no_bit():
    assert mark_reported(MONDAY, 0b1, back(63)) == (MONDAY, 0b1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_concurrent_updates_of_one_lead_both_keep_their_week():
    tenant = TenantFactory(slug="reported-race")
    rep = make_actor(tenant, Role.REP)
    lead = LeadFactory(
        tenant=tenant,
        inquiry=InquiryFactory(tenant=tenant, stage="lead"),
        rep=rep.user,
        stage="accepted",
        assigned_at=NOW - timedelta(weeks=10),
    )
    locked = threading.Event()
    errors: list[BaseException] = []

    def holder():
        # Holds the lead's row lock while both updates start, so they meet at it.
        try:
            with tenant_context(tenant), transaction.atomic():
                Lead.objects.select_for_update().get(pk=lead.pk)
                locked.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    def reporter(week: date):
        try:
            locked.wait(5)
            with tenant_context(tenant):
                record_weekly_update(
                    lead=lead, by=rep.principal, status="progress", note="Called", week=week
                )
        except BaseException as failed:  # noqa: BLE001 — reported below
            errors.append(failed)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=holder)] + [
        threading.Thread(target=reporter, args=(week,)) for week in (back(1), back(2))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with tenant_context(tenant):
        stored = Lead.objects.get(pk=lead.pk)
    assert (stored.last_update_week, stored.reported_weeks) == (back(1), 0b11)
