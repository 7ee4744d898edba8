"""The builder's services: each rule refuses (nothing written); edits keep people in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from inquiries.models import Activity, Stage
from leadflow.lib.rules import RuleViolation
from leadflow.outbox.models import OutboxMessage
from nurture import selectors
from nurture.models import Enrollment, NurtureProgram, NurtureSend, NurtureStep
from nurture.services import builder, preview
from nurture.services.scheduler import run_due_steps
from tests.nurture.conftest import active, dispatch, move, nurture_inquiry, person

pytestmark = pytest.mark.django_db

UNSUB = "\n\nUnsubscribe: {{ unsubscribe_url }}"
EMAIL = {"kind": "email", "subject": "Hello {{ first_name }}", "body": "Hi {{ company }}." + UNSUB}
WAIT = {"kind": "wait", "wait_days": 2}


def three_steps(by, **kwargs):
    """Email, wait, branch (clicked within a day: back to the wait) — the issue's example."""
    return builder.create_program(
        name=kwargs.pop("name", "Builder program"),
        steps=[EMAIL, WAIT, {"kind": "branch", "wait_days": 1, "branch_to": 1}],
        by=by,
        **kwargs,
    )


def refused(code, steps, by):
    with pytest.raises(RuleViolation) as caught:
        builder.create_program(name="Refused", steps=steps, by=by)
    assert caught.value.code == code
    assert not NurtureProgram.objects.filter(name="Refused").exists()
    return caught.value


def test_a_branch_with_no_target_is_refused(in_a, system_a):
    error = refused("required", [EMAIL, {"kind": "branch", "wait_days": 1}], system_a)
    assert error.field == "branch_to"
    assert error.message.startswith("Step 2:")


def test_a_branch_to_a_step_past_the_last_is_refused(in_a, system_a):
    refused("out_of_range", [EMAIL, {"kind": "branch", "wait_days": 1, "branch_to": 2}], system_a)


def test_a_branch_to_itself_is_refused(in_a, system_a):
    refused("self", [EMAIL, {"kind": "branch", "wait_days": 1, "branch_to": 1}], system_a)


def test_a_wait_of_zero_is_refused(in_a, system_a):
    error = refused("zero_wait", [EMAIL, {"kind": "wait", "wait_days": 0}], system_a)
    assert error.field == "wait_days"


def test_a_branch_with_a_zero_click_window_is_refused(in_a, system_a):
    refused("zero_wait", [EMAIL, {"kind": "branch", "branch_to": 0}], system_a)


def test_an_email_without_an_unsubscribe_link_is_refused(in_a, system_a):
    error = refused("no_unsubscribe", [{**EMAIL, "body": "Hi {{ first_name }}."}], system_a)
    assert error.field == "body"


def test_an_unknown_merge_field_is_refused(in_a, system_a):
    error = refused(
        "unknown_merge_field", [{**EMAIL, "body": "Hi {{ nickname }}." + UNSUB}], system_a
    )
    assert "nickname" in error.message


def test_a_template_tag_is_refused(in_a, system_a):
    refused("template_tag", [{**EMAIL, "body": "{% load static %}" + UNSUB}], system_a)


def test_an_empty_subject_is_refused(in_a, system_a):
    error = refused("required", [{**EMAIL, "subject": "  "}], system_a)
    assert error.field == "subject"


def test_a_task_without_a_title_is_refused(in_a, system_a):
    refused("required", [{"kind": "task"}], system_a)


def test_an_unknown_audience_value_is_refused(in_a, system_a):
    with pytest.raises(RuleViolation) as caught:
        builder.create_program(
            name="Refused", steps=[EMAIL], audience={"source": ["carrier_pigeon"]}, by=system_a
        )
    assert caught.value.code == "unknown_value"


def test_a_valid_program_is_stored_in_order(in_a, system_a):
    program = three_steps(system_a)
    steps = list(NurtureStep.objects.filter(program=program).order_by("position"))
    assert [(s.position, s.kind, s.branch_to) for s in steps] == [
        (0, "email", None),
        (1, "wait", None),
        (2, "branch", 1),
    ]


def test_editing_a_step_to_a_zero_wait_is_refused_and_keeps_it(in_a, system_a):
    program = three_steps(system_a)
    wait = NurtureStep.objects.get(program=program, position=1)
    with pytest.raises(RuleViolation):
        builder.update_step(step=wait, changes={"wait_days": 0}, by=system_a)
    wait.refresh_from_db()
    assert wait.wait_days == 2


def test_reordering_keeps_branch_targets_on_the_same_steps(in_a, system_a):
    program = three_steps(system_a)
    email, wait, branch = NurtureStep.objects.filter(program=program).order_by("position")
    builder.reorder_steps(program=program, order=[wait.pk, branch.pk, email.pk], by=system_a)
    branch.refresh_from_db()
    wait.refresh_from_db()
    assert branch.position == 1
    assert branch.branch_to == wait.position == 0


def test_reordering_keeps_enrollments_on_their_next_step(
    in_a, system_a, django_capture_on_commit_callbacks
):
    program = three_steps(system_a)
    email, wait, branch = NurtureStep.objects.filter(program=program).order_by("position")
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    Enrollment.objects.filter(inquiry=inquiry).update(program=program, position=1)
    builder.reorder_steps(program=program, order=[branch.pk, email.pk, wait.pk], by=system_a)
    assert active(inquiry.pk).get().position == 2  # still the wait


def test_a_reorder_naming_other_steps_is_refused(in_a, system_a):
    program = three_steps(system_a)
    ids = list(NurtureStep.objects.filter(program=program).values_list("pk", flat=True))
    with pytest.raises(RuleViolation):
        builder.reorder_steps(program=program, order=ids[:2], by=system_a)


def test_inserting_a_step_keeps_enrollments_and_branches_on_their_steps(
    in_a, system_a, django_capture_on_commit_callbacks
):
    program = three_steps(system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    Enrollment.objects.filter(inquiry=inquiry).update(program=program, position=1)
    builder.add_step(
        program=program, step={"kind": "task", "subject": "Call"}, position=0, by=system_a
    )
    kinds = list(
        NurtureStep.objects.filter(program=program)
        .order_by("position")
        .values_list("kind", "branch_to")
    )
    assert kinds == [("task", None), ("email", None), ("wait", None), ("branch", 2)]
    assert active(inquiry.pk).get().position == 2


def test_deleting_a_branch_target_is_refused(in_a, system_a):
    program = three_steps(system_a)
    wait = NurtureStep.objects.get(program=program, position=1)
    with pytest.raises(RuleViolation) as caught:
        builder.delete_step(step=wait, by=system_a)
    assert caught.value.conflict
    assert NurtureStep.objects.filter(pk=wait.pk).exists()


def test_deleting_a_step_moves_people_on_to_the_next(
    in_a, system_a, django_capture_on_commit_callbacks
):
    program = builder.create_program(name="Three emails", steps=[EMAIL, WAIT, EMAIL], by=system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    Enrollment.objects.filter(inquiry=inquiry).update(program=program, position=2)
    builder.delete_step(step=NurtureStep.objects.get(program=program, position=0), by=system_a)
    assert list(
        NurtureStep.objects.filter(program=program)
        .order_by("position")
        .values_list("position", "kind")
    ) == [(0, "wait"), (1, "email")]
    assert active(inquiry.pk).get().position == 1


def test_a_step_that_ran_cannot_be_deleted(
    in_a, system_a, open_window, django_capture_on_commit_callbacks
):
    program = builder.create_program(name="One email", steps=[EMAIL, WAIT], by=system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    Enrollment.objects.filter(inquiry=inquiry).update(program=program)
    run_due_steps()
    email = NurtureStep.objects.get(program=program, position=0)
    assert NurtureSend.objects.filter(step=email).exists()
    with pytest.raises(RuleViolation) as caught:
        builder.delete_step(step=email, by=system_a)
    assert caught.value.code == "has_run"


def test_the_audience_count_counts_people_in_nurture_that_fit(
    in_a, system_a, django_capture_on_commit_callbacks
):
    nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks, source="webinar")
    nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks, source="referral")
    person(source="webinar", stage=Stage.MQL)  # not in nurture
    assert builder.audience_count({"source": ["webinar"]}) == 1
    assert builder.audience_count({}) == 2
    assert builder.audience_count({"reason": ["below_threshold"]}) == 2
    assert builder.audience_count({"reason": ["by_hand"]}) == 0


def test_the_funnel_counts_engagement_and_stages_after_enrollment(
    in_a, system_a, django_capture_on_commit_callbacks
):
    run_hooks = django_capture_on_commit_callbacks
    program = three_steps(system_a, audience={})
    program.position = 1
    program.save()
    quiet = nurture_inquiry(system_a, run_hooks=run_hooks)
    clicker = nurture_inquiry(system_a, run_hooks=run_hooks)
    Activity.objects.create(
        tenant_id=clicker.tenant_id, inquiry=clicker, kind="email_click", occurred_at=timezone.now()
    )
    Activity.objects.create(
        tenant_id=quiet.tenant_id,
        inquiry=quiet,
        kind="download",
        occurred_at=timezone.now() - timedelta(days=30),  # before the enrollment: not engaged
    )
    move([clicker.pk], Stage.MQL, system_a, run_hooks=run_hooks)
    funnel = selectors.program_funnel(program)
    assert (funnel.enrolled, funnel.engaged, funnel.mql, funnel.lead, funnel.won) == (2, 1, 1, 0, 0)


def test_the_funnel_is_one_query(in_a, system_a, django_assert_num_queries):
    program = three_steps(system_a)
    with django_assert_num_queries(1):
        selectors.program_funnel(program)


def test_the_preview_fills_merge_fields_and_the_footer(in_a, system_a, open_window):
    program = three_steps(system_a)
    email = NurtureStep.objects.get(program=program, position=0)
    inquiry = person(first_name="Dana", company="Freight Co")
    shown = preview.render_step(step=email, inquiry=inquiry)
    assert shown.subject == "Hello Dana"
    assert "Hi Freight Co." in shown.text
    assert "Acme Inc., 1 Main St, Springfield" in shown.html
    assert "/u/" in shown.html and "{{" not in shown.text


def test_a_test_send_goes_to_me_marked_and_records_nothing_for_the_sample(
    in_a, actors, open_window, django_capture_on_commit_callbacks
):
    by = actors.teammate.principal
    program = three_steps(by)
    email = NurtureStep.objects.get(program=program, position=0)
    inquiry = person(first_name="Dana", email="dana@freight.example")
    with django_capture_on_commit_callbacks(execute=False):
        preview.send_test(step=email, inquiry=inquiry, by=by)
    dispatch()
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [actors.teammate.user.email]
    assert sent.subject == "[Test] Hello Dana"
    assert not NurtureSend.objects.exists()
    assert not OutboxMessage.objects.filter(recipient="dana@freight.example").exists()
    assert preview.PREVIEW_CONTACT_TOKEN in sent.body  # never a real contact's token


def test_a_preview_of_a_draft_is_validated(in_a, system_a):
    program = three_steps(system_a)
    email = NurtureStep.objects.get(program=program, position=0)
    with pytest.raises(RuleViolation):
        preview.render_step(step=email, inquiry=person(), body="No link here.")


@pytest.mark.parametrize("name", ["DEMO_STEPS", "BUILDER_STEPS"])
def test_the_demo_programs_pass_the_builders_validation(name):
    from nurture import demo

    steps = getattr(demo, name)
    for index, step in enumerate(steps):
        builder.check_step(step, index=index, count=len(steps))
