"""The scheduler: due steps become outbox messages once, within caps, windows and throttles."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail

from leadflow.outbox.models import OutboxMessage
from nurture.models import (
    ConsentStatus,
    Enrollment,
    NurtureSend,
    NurtureSettings,
    NurtureStep,
    NurtureTask,
)
from nurture.services import consent, programs, scheduler
from tests.nurture.conftest import active, dispatch, nurture_inquiry, two_step_program

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings_site(settings):
    settings.SITE_URL = "https://leadflow.example"


def test_a_due_email_becomes_one_outbox_message_keyed_by_enrollment_and_step(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False):
        two_step_program(system_a)
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        result = scheduler.run_due_steps()
        again = scheduler.run_due_steps()
    enrollment = active(inquiry.pk).get()
    first = NurtureStep.objects.get(program=enrollment.program, position=0)
    message = OutboxMessage.objects.get()
    assert message.key == f"nurture:{enrollment.pk}:{first.pk}"
    assert message.kind == "nurture_email"
    assert (result.emails, again.emails, again.claimed) == (1, 0, 0)
    # The wait step is next, due three days after the email went out.
    assert enrollment.position == 1
    assert enrollment.due_at == START + timedelta(days=3)


def test_after_the_wait_the_next_email_and_then_the_long_term_program(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False):
        program = two_step_program(system_a)
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        scheduler.run_due_steps()
    with time_machine.travel(START + timedelta(days=2), tick=False):
        assert scheduler.run_due_steps().claimed == 0
    with time_machine.travel(START + timedelta(days=3, minutes=1), tick=False):
        result = scheduler.run_due_steps()
    assert result.emails == 1
    assert result.finished == 1
    finished = Enrollment.objects.get(program=program)
    assert (finished.state, finished.exit_reason) == ("finished", "finished")
    assert active(inquiry.pk).get().program.is_long_term
    assert OutboxMessage.objects.count() == 2


def test_an_edited_program_never_repeats_a_finished_step(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False):
        program = two_step_program(system_a)
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        scheduler.run_due_steps()
        # The program is edited: the sent email moves down behind a new first step.
        enrollment = active(inquiry.pk).get()
        NurtureStep.objects.filter(program=program).update(position=models_shift())
        for step in NurtureStep.objects.filter(program=program).order_by("-position"):
            step.position = step.position - 1000 + 1
            step.save(update_fields=["position"])
        NurtureStep.objects.create(program=program, position=0, kind="task", subject="Call")
        Enrollment.objects.filter(pk=enrollment.pk).update(position=0, due_at=START)
        scheduler.run_due_steps()
    assert NurtureTask.objects.count() == 1
    # The first email (now at position 1) was skipped, not sent again.
    assert OutboxMessage.objects.count() == 1
    assert NurtureSend.objects.filter(kind="email").count() == 1


def models_shift():
    from django.db.models import F

    return F("position") + 1000


def test_the_frequency_cap_holds_across_programs(
    in_a, system_a, django_capture_on_commit_callbacks
):
    NurtureSettings.objects.create(
        consent_mode="opt_out", window_start=time(0), window_end=time(0), cap_emails=1, cap_days=7
    )
    with time_machine.travel(START, tick=False):
        programs.create_program(
            name="Two at once",
            steps=[
                {"kind": "email", "subject": "One", "body": "1"},
                {"kind": "email", "subject": "Two", "body": "2"},
            ],
            by=system_a,
        )
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        result = scheduler.run_due_steps()
    assert (result.emails, result.deferred) == (1, 1)
    assert active(inquiry.pk).get().due_at == START + timedelta(days=7)


def test_the_throttle_defers_what_is_over_the_tenants_minute(
    in_a, system_a, django_capture_on_commit_callbacks
):
    NurtureSettings.objects.create(
        consent_mode="opt_out", window_start=time(0), window_end=time(0), throttle_per_minute=2
    )
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        first = scheduler.run_due_steps()
    assert (first.emails, first.deferred) == (2, 1)
    with time_machine.travel(START + timedelta(minutes=1, seconds=1), tick=False):
        assert scheduler.run_due_steps().emails == 1


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        # Saturday evening before spring-forward (Europe/Berlin, 29 Mar 2026): 09:00 CEST.
        (datetime(2026, 3, 28, 20, 0, tzinfo=UTC), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        # Saturday evening before fall-back (25 Oct 2026): 09:00 CET.
        (datetime(2026, 10, 24, 20, 0, tzinfo=UTC), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
        # Inside the window: now.
        (datetime(2026, 3, 30, 10, 0, tzinfo=UTC), datetime(2026, 3, 30, 10, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_open_at_the_tenants_local_time_across_dst(
    actors, in_a, system_a, django_capture_on_commit_callbacks, now, opens
):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])
    NurtureSettings.objects.create(
        consent_mode="opt_out", window_start=time(9), window_end=time(17)
    )
    with time_machine.travel(now, tick=False):
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        result = scheduler.run_due_steps()
    if opens == now:
        assert result.emails == 1
    else:
        assert result.emails == 0
        assert active(inquiry.pk).get().due_at == opens
        with time_machine.travel(opens, tick=False):
            assert scheduler.run_due_steps().emails == 1


def test_opt_in_mode_never_mails_unknown_consent(
    in_a, system_a, django_capture_on_commit_callbacks
):
    NurtureSettings.objects.create(window_start=time(0), window_end=time(0))
    with time_machine.travel(START, tick=False):
        unknown = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        agreed = nurture_inquiry(
            system_a, run_hooks=django_capture_on_commit_callbacks, consent="opted_in"
        )
        result = scheduler.run_due_steps()
    assert result.emails == 1
    assert OutboxMessage.objects.get().recipient == agreed.email
    assert NurtureSend.objects.get(inquiry_id=unknown.pk).detail == "no consent"


def test_opt_out_mode_mails_unknown_but_never_an_opt_out(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False):
        unknown = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks, consent="opted_out")
        result = scheduler.run_due_steps()
    assert result.emails == 1
    assert OutboxMessage.objects.get().recipient == unknown.email


@pytest.mark.parametrize("mode", ["opt_in", "opt_out"])
def test_consent_is_checked_again_at_send_time(
    in_a, system_a, django_capture_on_commit_callbacks, settings_site, mode
):
    NurtureSettings.objects.create(consent_mode=mode, window_start=time(0), window_end=time(0))
    with time_machine.travel(START, tick=False):
        inquiry = nurture_inquiry(
            system_a, run_hooks=django_capture_on_commit_callbacks, consent="opted_in"
        )
        assert scheduler.run_due_steps().emails == 1
        # Between the scheduler's run and the send, the contact opts out.
        consent.record_consent(
            inquiry=inquiry, status=ConsentStatus.OPTED_OUT, source="by_hand", by_label="Pat"
        )
        dispatch()
    assert mail.outbox == []
    message = OutboxMessage.objects.get()
    assert message.state == "failed"
    assert "not sent" in message.last_error


def test_the_long_term_program_mails_again_every_month(
    open_window, system_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False):
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        assert scheduler.run_due_steps().emails == 1
    for month in (1, 2):
        # The wait ends: the round is finished and a new one starts, mailed at the next run.
        with time_machine.travel(START + timedelta(days=30 * month, minutes=month), tick=False):
            assert scheduler.run_due_steps().finished == 1
        with time_machine.travel(START + timedelta(days=30 * month, minutes=month + 1), tick=False):
            assert scheduler.run_due_steps().emails == 1
    assert OutboxMessage.objects.count() == 3
    assert active(inquiry.pk).get().program.is_long_term
    assert Enrollment.objects.filter(inquiry_id=inquiry.pk, exit_reason="finished").count() == 2


@pytest.mark.parametrize(("clicked", "next_subject"), [(True, "Clicked"), (False, "No click")])
def test_a_branch_follows_a_click_within_its_days(
    open_window, system_a, django_capture_on_commit_callbacks, clicked, next_subject
):
    from tests.factories import ActivityFactory

    with time_machine.travel(START, tick=False):
        programs.create_program(
            name="Branching",
            steps=[
                {"kind": "branch", "wait_days": 2, "branch_to": 3},
                {"kind": "email", "subject": "No click", "body": "b"},
                {"kind": "wait", "wait_days": 10},
                {"kind": "email", "subject": "Clicked", "body": "c"},
            ],
            by=system_a,
        )
        inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
        assert scheduler.run_due_steps().emails == 0  # waits for the branch's days
    if clicked:
        ActivityFactory(
            tenant=inquiry.tenant,
            inquiry=inquiry,
            kind="email_click",
            occurred_at=START + timedelta(days=1),
        )
    with time_machine.travel(START + timedelta(days=2, minutes=1), tick=False):
        assert scheduler.run_due_steps().emails == 1
    message = OutboxMessage.objects.get()
    step = NurtureStep.objects.get(pk=message.payload["step"])
    assert step.subject == next_subject
