"""Enrollment and exit: who is in which program, from the mover's hooks and by hand.

The rule this module keeps (the property test in tests/nurture proves it):
every inquiry in stage ``nurture`` has exactly one active enrollment, unless
the contact left nurture email themselves (unsubscribed, bounced hard,
complained), which is recorded with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inquiries.models import Inquiry, Stage
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture.models import Enrollment, EnrollmentState, ExitReason, NurtureProgram
from nurture.selectors import (
    has_active_enrollment,
    left_nurture_email,
    unenrolled_nurture_inquiries,
)
from nurture.services.programs import long_term_program

INQUIRY_MACHINE = "inquiry"
# Why a person reached nurture (what an audience's ``reason`` matches).
BELOW_THRESHOLD = "below_threshold"
MARKED = "marked"
NOT_A_LEAD = "not_a_lead"
LOST_NOT_NOW = "lost_not_now"
POSTPONED = "postponed"
REQUALIFIED = "requalified"
BY_HAND = "by_hand"
FINISHED_PROGRAM = "finished_program"
NEVER_DROPPED = "never_dropped"
REASONS = (
    BELOW_THRESHOLD,
    MARKED,
    NOT_A_LEAD,
    LOST_NOT_NOW,
    POSTPONED,
    REQUALIFIED,
    BY_HAND,
    FINISHED_PROGRAM,
    NEVER_DROPPED,
)
# Reached by hand-enrollment through the mover: stages a person may be put into nurture from.
ENROLLABLE_STAGES = (Stage.INQUIRY, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED)


def reason_of_move(from_stage: str | None, move_reason: str) -> str:
    """Why a person reached nurture, from where they came and the mover's reason text."""
    text = move_reason.lower()
    if from_stage == Stage.LEAD:
        if "not a lead" in text or "not_a_lead" in text:
            return NOT_A_LEAD
        if "postpone" in text:
            return POSTPONED
        return LOST_NOT_NOW
    if from_stage == Stage.DISQUALIFIED:
        return REQUALIFIED
    if "by hand" in text:
        return BY_HAND
    if "marked" in text:
        return MARKED
    return BELOW_THRESHOLD


def matches(program: NurtureProgram, facts: dict[str, str], reason: str) -> bool:
    """Whether a person (their industry, behaviour level, source) and reason fit the audience."""
    for key, values in (program.audience or {}).items():
        if not values:
            continue
        actual = reason if key == "reason" else facts.get(key, "")
        if actual not in values:
            return False
    return True


def _active() -> Q:
    """Already enrolled, or left nurture email themselves: not enrolled (again)."""
    return Q(has_active_enrollment()) | Q(left_nurture_email())


def enroll_matching(*, inquiry_ids: Iterable[int], reasons: dict[int, str], by_label: str) -> int:
    """Enroll the nurture inquiries with no active enrollment in the first program that fits.

    Programs are tried by position (paused ones skipped); no fit: the long-term
    program. One read, one insert; a concurrent enrollment of the same person
    loses quietly to the one-active constraint.
    """
    ids = sorted(set(inquiry_ids))
    if not ids:
        return 0
    long_term = long_term_program()
    programs = list(
        NurtureProgram.objects.filter(paused=False, is_long_term=False).order_by("position", "id")
    )
    people = (
        Inquiry.objects.filter(pk__in=ids, stage=Stage.NURTURE)
        .exclude(_active())
        .values("pk", "industry", "behaviour_level", "source")
    )
    now = timezone.now()
    rows = []
    for person in people:
        reason = reasons.get(person["pk"], BELOW_THRESHOLD)
        chosen = next((p for p in programs if matches(p, person, reason)), long_term)
        rows.append(_new(person["pk"], chosen, reason, by_label, now))
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _new(
    inquiry_id: int, program: NurtureProgram, reason: str, by_label: str, now: datetime
) -> Enrollment:
    return Enrollment(
        tenant_id=require_tenant_id(),
        inquiry_id=inquiry_id,
        program=program,
        state=EnrollmentState.ACTIVE,
        position=0,
        due_at=now,
        step_started_at=now,
        reason=reason,
        enrolled_by=by_label[:200],
        enrolled_at=now,
    )


def exit_enrollments(*, inquiry_ids: Iterable[int], reason: str, state: str = "exited") -> int:
    """End the active enrollments of these people with ``reason`` (one UPDATE)."""
    ids = sorted(set(inquiry_ids))
    if not ids:
        return 0
    return Enrollment.objects.filter(inquiry_id__in=ids, state=EnrollmentState.ACTIVE).update(
        state=state, exit_reason=reason, exited_at=timezone.now()
    )


def move_to_long_term(*, inquiry_ids: Sequence[int], by_label: str) -> int:
    """Those who finished their program: the enrollment is finished, the long-term one starts."""
    if not inquiry_ids:
        return 0
    exit_enrollments(
        inquiry_ids=inquiry_ids, reason=ExitReason.FINISHED, state=EnrollmentState.FINISHED
    )
    long_term = long_term_program()
    now = timezone.now()
    people = Inquiry.objects.filter(pk__in=inquiry_ids, stage=Stage.NURTURE).exclude(_active())
    rows = [
        _new(pk, long_term, FINISHED_PROGRAM, by_label, now)
        for pk in people.values_list("pk", flat=True)
    ]
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@dataclass
class EnrollResult:
    enrolled: list[int] = field(default_factory=list)
    moved_to_nurture: list[int] = field(default_factory=list)


@transaction.atomic
def enroll_by_hand(
    *, inquiry_ids: Sequence[int], program: NurtureProgram, by: Principal
) -> EnrollResult:
    """Put people into ``program`` by hand (one or many); those not in nurture move there first.

    People with sales (stage ``lead``) are refused, as are ids the tenant does
    not have; nothing changes then (400).
    """
    ids = sorted(set(inquiry_ids))
    if not ids:
        raise RuleViolation(field="inquiry_ids", code="required", message="Name the inquiries.")
    found = dict(Inquiry.objects.filter(pk__in=ids).values_list("pk", "stage"))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise RuleViolation(
            field="inquiry_ids",
            code="not_found",
            message=f"No inquiry {', '.join(map(str, missing[:20]))}.",
        )
    with_sales = [pk for pk, stage in found.items() if stage not in ENROLLABLE_STAGES]
    if with_sales:
        raise RuleViolation(
            field="inquiry_ids",
            code="with_sales",
            message=f"Inquiry {', '.join(map(str, with_sales[:20]))} is a lead with sales.",
        )
    result = EnrollResult()
    outside = [pk for pk, stage in found.items() if stage != Stage.NURTURE]
    if outside:
        stages.move_many(
            INQUIRY_MACHINE, outside, Stage.NURTURE, by=by, reason="enrolled in nurture by hand"
        )
        result.moved_to_nurture = outside
    Enrollment.objects.filter(inquiry_id__in=ids, state=EnrollmentState.ACTIVE).exclude(
        program=program
    ).update(state=EnrollmentState.EXITED, exit_reason=ExitReason.MOVED, exited_at=timezone.now())
    now = timezone.now()
    people = Inquiry.objects.filter(pk__in=ids, stage=Stage.NURTURE).exclude(_active())
    rows = [_new(pk, program, BY_HAND, by.label, now) for pk in people.values_list("pk", flat=True)]
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
    result.enrolled = [row.inquiry_id for row in rows]
    record_audit(
        action="nurture.enrolled_by_hand",
        obj=program,
        after={"inquiries": result.enrolled},
        by=by,
    )
    return result


@transaction.atomic
def remove_from_program(*, enrollment: Enrollment, by: Principal) -> Enrollment | None:
    """Take a person out of their program by hand: they continue in the long-term program.

    Refused (409) for the long-term program itself: to stop nurturing a person,
    move them out of nurture (or record their opt-out).
    """
    if enrollment.state != EnrollmentState.ACTIVE:
        raise RuleViolation(
            field="enrollment",
            code="not_active",
            message="This enrollment has ended.",
            conflict=True,
        )
    if enrollment.program.is_long_term:
        raise RuleViolation(
            field="enrollment",
            code="long_term",
            message="The long-term program is the last stop: move the person out of nurture.",
            conflict=True,
        )
    exit_enrollments(inquiry_ids=[enrollment.inquiry_id], reason=ExitReason.REMOVED)
    record_audit(
        action="nurture.removed", obj=enrollment, after={"program": enrollment.program_id}, by=by
    )
    long_term = long_term_program()
    Enrollment.objects.bulk_create(
        [_new(enrollment.inquiry_id, long_term, BY_HAND, by.label, timezone.now())],
        ignore_conflicts=True,
    )
    return Enrollment.objects.filter(
        inquiry_id=enrollment.inquiry_id, state=EnrollmentState.ACTIVE
    ).first()


def enroll_missing(*, limit: int = 5000) -> list[int]:
    """The never-dropped sweep: enroll nurture inquiries found without an enrollment."""
    ids = list(unenrolled_nurture_inquiries().values_list("pk", flat=True)[:limit])
    if ids:
        with transaction.atomic():
            enroll_matching(
                inquiry_ids=ids,
                reasons=dict.fromkeys(ids, NEVER_DROPPED),
                by_label="never-dropped sweep",
            )
    return ids
