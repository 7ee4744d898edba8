"""The scheduler's one-statement email path: the step walk's outcome, in fixed queries."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leadflow.outbox.models import OutboxMessage
from nurture.models import (
    ConsentStatus,
    ContactConsent,
    Enrollment,
    NurtureSend,
    NurtureSettings,
    NurtureTask,
)
from nurture.services import consent, programs, scheduler
from tests.nurture.conftest import nurture_inquiry

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


class _Undo(Exception):
    """Raised to roll one variant's run back."""


def _outcome() -> tuple[list, list, list, list]:  # type: ignore[type-arg]
    # A finished enrollment's position and due time are read no more (the SQL path has
    # moved it past its last email; the walk leaves it where it was): its state counts.
    enrollments = sorted(
        (row[:3] if row[2] == "finished" else row)
        for row in Enrollment.objects.values_list(
            "inquiry_id", "program__name", "state", "position", "due_at", "step_started_at"
        )
    )
    sends = sorted(
        NurtureSend.objects.values_list("inquiry_id", "step__position", "kind", "status", "detail")
    )
    messages = sorted(OutboxMessage.objects.values_list("key", "recipient", "payload", "due_at"))
    tasks = sorted(NurtureTask.objects.values_list("inquiry_id", "title"))
    return enrollments, sends, messages, tasks


def _run_both(now: datetime) -> tuple[tuple, tuple, scheduler.RunResult]:  # type: ignore[type-arg]
    """The walk alone, rolled back, then the one-statement path first: both outcomes."""
    outcomes = []
    fast = scheduler.RunResult()
    for email_limit in (0, scheduler.EMAIL_BATCH):
        try:
            with transaction.atomic(), time_machine.travel(now, tick=False):
                result = scheduler.run_due_steps(email_limit=email_limit)
                outcomes.append(_outcome())
                raise _Undo
        except _Undo:
            if email_limit:
                fast = result
    return outcomes[0], outcomes[1], fast


def _people(by, run_hooks) -> None:
    """Consent of every kind, no address, suppressed, capped, and a program ending on an email."""
    programs.create_program(
        name="Welcome",
        steps=[
            {"kind": "email", "subject": "One", "body": "1"},
            {"kind": "wait", "wait_days": 3, "wait_minutes": 30},
            {"kind": "email", "subject": "Two", "body": "2"},
        ],
        by=by,
    )
    for _ in range(3):
        nurture_inquiry(by, run_hooks=run_hooks)
    nurture_inquiry(by, run_hooks=run_hooks, consent="opted_in")
    nurture_inquiry(by, run_hooks=run_hooks, consent="opted_out")
    nurture_inquiry(by, run_hooks=run_hooks, email="", external_id="crm-1")
    pending = nurture_inquiry(by, run_hooks=run_hooks)
    consent.record_consent(
        inquiry=pending, status=ConsentStatus.PENDING, source="by_hand", by_label="Pat"
    )
    suppressed = nurture_inquiry(by, run_hooks=run_hooks, consent="opted_in")
    ContactConsent.objects.update_or_create(
        inquiry=suppressed,
        defaults={"status": ConsentStatus.OPTED_IN, "suppressed_at": START},
    )
    # One whose first email went out: at the wait's end the last email, then the end.
    last = nurture_inquiry(by, run_hooks=run_hooks)
    Enrollment.objects.filter(inquiry=last).update(position=2, due_at=START - timedelta(minutes=1))
    # One at the cap: an email of the last days already queued (another program's).
    capped = nurture_inquiry(by, run_hooks=run_hooks)
    enrollment = Enrollment.objects.get(inquiry=capped)
    NurtureSend.objects.create(
        enrollment=enrollment,
        step=enrollment.program.steps.get(position=2),
        inquiry_id=capped.pk,
        kind="email",
        status="queued",
        created_at=START - timedelta(days=1),
    )


@pytest.mark.parametrize("mode", ["opt_in", "opt_out"])
def test_the_sql_path_ends_where_the_step_walk_ends_for_consent_address_cap_and_exits(
    in_a, system_a, django_capture_on_commit_callbacks, mode
):
    NurtureSettings.objects.create(
        consent_mode=mode, window_start=time(0), window_end=time(0), cap_emails=1
    )
    with time_machine.travel(START - timedelta(minutes=5), tick=False):
        _people(system_a, django_capture_on_commit_callbacks)
    walked, fast, result = _run_both(START)
    assert fast == walked
    assert result.fast_emails >= 1


def test_the_sql_path_keeps_the_throttle_in_due_order(
    in_a, system_a, django_capture_on_commit_callbacks
):
    NurtureSettings.objects.create(
        consent_mode="opt_out", window_start=time(0), window_end=time(0), throttle_per_minute=3
    )
    with time_machine.travel(START - timedelta(minutes=5), tick=False):
        programs.create_program(
            name="One", steps=[{"kind": "email", "subject": "1", "body": "1"}], by=system_a
        )
        for _ in range(5):
            nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    walked, fast, result = _run_both(START)
    assert fast == walked
    assert (result.fast_emails, result.emails, result.deferred) == (3, 3, 2)


def test_the_sql_path_leaves_a_closed_window_to_the_walk_in_the_tenants_zone(
    actors, in_a, system_a, django_capture_on_commit_callbacks
):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])
    NurtureSettings.objects.create(
        consent_mode="opt_out", window_start=time(9), window_end=time(17)
    )
    evening = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # 21:00 in Berlin
    with time_machine.travel(evening - timedelta(minutes=5), tick=False):
        programs.create_program(
            name="One", steps=[{"kind": "email", "subject": "1", "body": "1"}], by=system_a
        )
        nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    walked, fast, result = _run_both(evening)
    assert fast == walked
    assert (result.fast_emails, result.deferred) == (0, 1)
    assert fast[0][0][4] == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST


def test_the_sql_path_leaves_a_task_first_program_to_the_walk(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START - timedelta(minutes=5), tick=False):
        programs.create_program(
            name="Call first",
            steps=[
                {"kind": "task", "subject": "Call"},
                {"kind": "email", "subject": "1", "body": "1"},
            ],
            by=system_a,
        )
        nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    walked, fast, result = _run_both(START)
    assert fast == walked
    assert (result.fast_emails, result.tasks, result.emails) == (0, 1, 1)


def _queries_of_one_tick(now: datetime) -> tuple[int, int]:
    with time_machine.travel(now, tick=False), CaptureQueriesContext(connection) as queries:
        result = scheduler.run_due_steps()
    return len(queries), result.emails


def test_a_tick_takes_the_same_queries_however_many_emails_are_due(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START - timedelta(minutes=5), tick=False):
        programs.create_program(
            name="Guide",
            steps=[
                {"kind": "email", "subject": "1", "body": "1"},
                {"kind": "wait", "wait_days": 30},
            ],
            by=system_a,
        )
        for _ in range(2):
            nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    few = _queries_of_one_tick(START)
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        for _ in range(12):
            nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    many = _queries_of_one_tick(START + timedelta(minutes=10))
    assert (few[1], many[1]) == (2, 12)
    assert few[0] == many[0]


def test_deleting_an_inquiry_deletes_its_sends_through_its_enrollment(
    open_window, system_a, django_capture_on_commit_callbacks
):
    from inquiries.models import Inquiry

    with time_machine.travel(START - timedelta(minutes=5), tick=False):
        program = programs.create_program(
            name="One", steps=[{"kind": "email", "subject": "1", "body": "1"}], by=system_a
        )
        gone = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        kept = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    with time_machine.travel(START, tick=False):
        assert scheduler.run_due_steps().emails == 2
    Inquiry.objects.filter(pk=gone.pk).delete()
    assert list(NurtureSend.objects.values_list("inquiry_id", flat=True)) == [kept.pk]
    assert program.enrollments.filter(inquiry_id=gone.pk).count() == 0
