"""Enrollment through the mover's hook, by hand, the long-term fallback, and every exit."""

from __future__ import annotations

import pytest

from inquiries.models import Stage
from leadflow.lib.rules import RuleViolation
from nurture.models import Enrollment, EnrollmentState, ExitReason, NurtureProgram
from nurture.services import enrollment, programs
from tests.nurture.conftest import (
    active,
    move,
    nurture_inquiry,
    person,
    to_nurture,
    two_step_program,
)

pytestmark = pytest.mark.django_db


def test_every_tenant_has_one_long_term_program(in_a):
    first = programs.long_term_program()
    assert programs.long_term_program() == first
    assert NurtureProgram.objects.filter(is_long_term=True).count() == 1
    assert [s.kind for s in first.steps.order_by("position")] == ["email", "wait"]


def test_a_person_moved_to_nurture_goes_to_the_first_program_whose_audience_fits(
    in_a, system_a, django_capture_on_commit_callbacks
):
    programs.create_program(
        name="Retail", steps=[], audience={"industry": ["retail"]}, position=1, by=system_a
    )
    factories = programs.create_program(
        name="Factories",
        steps=[],
        audience={"industry": ["manufacturing"]},
        position=2,
        by=system_a,
    )
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    enrolled = active(inquiry.pk).get()
    assert enrolled.program == factories
    assert enrolled.reason == "below_threshold"


def test_no_fitting_program_means_the_long_term_one(
    in_a, system_a, django_capture_on_commit_callbacks
):
    programs.create_program(name="Retail", steps=[], audience={"industry": ["retail"]}, by=system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    assert active(inquiry.pk).get().program.is_long_term


def test_a_paused_program_takes_no_new_people(in_a, system_a, django_capture_on_commit_callbacks):
    program = programs.create_program(name="Everyone", steps=[], by=system_a)
    programs.set_program_paused(program=program, paused=True, by=system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    assert active(inquiry.pk).get().program.is_long_term


def test_the_reason_audience_tells_a_rejected_lead_from_a_low_score(
    in_a, system_a, django_capture_on_commit_callbacks
):
    rejected = programs.create_program(
        name="Back from sales", steps=[], audience={"reason": ["not_a_lead"]}, by=system_a
    )
    inquiry = person(stage=Stage.LEAD)
    to_nurture(
        [inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks, reason="not a lead"
    )
    assert active(inquiry.pk).get().program == rejected


@pytest.mark.parametrize(
    ("stage", "reason"),
    [
        (Stage.MQL, ExitReason.BECAME_MQL),
        (Stage.LEAD, ExitReason.BOOKED),
        (Stage.DISQUALIFIED, ExitReason.DISQUALIFIED),
    ],
)
def test_leaving_nurture_ends_the_enrollment_with_its_reason(
    in_a, system_a, django_capture_on_commit_callbacks, stage, reason
):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    move([inquiry.pk], stage, system_a, run_hooks=django_capture_on_commit_callbacks)
    assert not active(inquiry.pk).exists()
    ended = Enrollment.objects.get(inquiry_id=inquiry.pk)
    assert (ended.state, ended.exit_reason) == (EnrollmentState.EXITED, reason)
    assert ended.exited_at is not None


def test_coming_back_to_nurture_enrolls_again(in_a, system_a, django_capture_on_commit_callbacks):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    move([inquiry.pk], Stage.MQL, system_a, run_hooks=django_capture_on_commit_callbacks)
    to_nurture([inquiry.pk], system_a, run_hooks=django_capture_on_commit_callbacks)
    assert active(inquiry.pk).count() == 1
    assert Enrollment.objects.filter(inquiry_id=inquiry.pk).count() == 2


def test_enrolling_by_hand_moves_others_to_nurture_and_switches_programs(
    in_a, actors, system_a, django_capture_on_commit_callbacks
):
    in_nurture = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    program = two_step_program(system_a)
    new = person(stage=Stage.INQUIRY)
    with django_capture_on_commit_callbacks(execute=True):
        result = enrollment.enroll_by_hand(
            inquiry_ids=[in_nurture.pk, new.pk], program=program, by=actors.teammate.principal
        )
    assert sorted(result.enrolled) == sorted([in_nurture.pk, new.pk])
    assert result.moved_to_nurture == [new.pk]
    assert active(in_nurture.pk).get().program == program
    assert active(new.pk).get().program == program
    assert Enrollment.objects.get(inquiry_id=in_nurture.pk, state="exited").exit_reason == "moved"


def test_a_lead_with_sales_cannot_be_enrolled_by_hand(in_a, actors, system_a):
    program = two_step_program(system_a)
    lead = person(stage=Stage.LEAD)
    with pytest.raises(RuleViolation) as refused:
        enrollment.enroll_by_hand(inquiry_ids=[lead.pk], program=program, by=actors.owner.principal)
    assert refused.value.field == "inquiry_ids"
    assert not Enrollment.objects.exists()


def test_removing_by_hand_continues_in_the_long_term_program(
    in_a, actors, system_a, django_capture_on_commit_callbacks
):
    program = programs.create_program(name="Everyone", steps=[], by=system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    replacement = enrollment.remove_from_program(
        enrollment=active(inquiry.pk).get(), by=actors.owner.principal
    )
    assert replacement.program.is_long_term
    assert Enrollment.objects.get(program=program).exit_reason == ExitReason.REMOVED
    with pytest.raises(RuleViolation) as refused:
        enrollment.remove_from_program(enrollment=replacement, by=actors.owner.principal)
    assert refused.value.conflict


def test_the_long_term_program_cannot_be_deleted(in_a, actors):
    with pytest.raises(RuleViolation) as refused:
        programs.delete_program(program=programs.long_term_program(), by=actors.owner.principal)
    assert refused.value.conflict
    assert NurtureProgram.objects.filter(is_long_term=True).exists()
