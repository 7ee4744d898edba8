"""The program builder: programs and their steps edited safely while people are in them.

Steps are stored in ``position`` order 0..n-1 (the scheduler walks them as a
list, so a position is an index). Every change here keeps that numbering
contiguous and keeps two things pointing at the same *step* (by identity, not
by number):

- a branch's ``branch_to``: reordering, inserting or deleting renumbers it;
- an active enrollment's ``position`` (the next step to run): renumbered in
  the same transaction by one ``UPDATE … CASE``. A scheduler run that holds
  some of these rows commits first (the UPDATE waits for its row locks and
  then renumbers the position the run wrote), and a run that starts later
  skips the rows this transaction holds, so no run mixes the old and new order.

The validation (one :class:`RuleViolation` per refusal, nothing written) is in
:func:`check_step` and :func:`check_steps`. Merge fields are exactly
:data:`MERGE_FIELDS`; an email's body must carry ``{{ unsubscribe_url }}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Exists,
    F,
    OuterRef,
    PositiveIntegerField,
    Q,
    Value,
    When,
)
from django.utils import timezone

from inquiries.models import BehaviourLevel, Inquiry, Source, Stage
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture.models import (
    Enrollment,
    EnrollmentState,
    NurtureProgram,
    NurtureSend,
    NurtureStep,
    StepKind,
)
from nurture.services import programs as program_services
from nurture.services.enrollment import REASONS

# What a subject or body may name: mail.merge_fields() plus the contact's unsubscribe link.
MERGE_FIELDS = ("first_name", "last_name", "company", "sender_name", "unsubscribe_url")
UNSUBSCRIBE_FIELD = "unsubscribe_url"
STEP_FIELDS = ("kind", "subject", "body", "wait_days", "wait_minutes", "branch_to")
MAX_WAIT_DAYS = 365
MAX_WAIT_MINUTES = 24 * 60 - 1
MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_STEPS = 50
# Where renumbered positions are parked while a reorder runs (the unique key is not deferrable).
_PARK = 100_000

_VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TAG = re.compile(r"\{%|\{#")
_UNSUBSCRIBE = re.compile(r"\{\{\s*unsubscribe_url\s*\}\}")


def _refuse(field: str, code: str, message: str, *, index: int | None = None) -> RuleViolation:
    prefix = f"Step {index + 1}: " if index is not None else ""
    return RuleViolation(field=field, code=code, message=prefix + message)


def _check_merge_fields(field: str, text: str, index: int | None) -> None:
    if _TAG.search(text):
        raise _refuse(
            field,
            "template_tag",
            "Only merge fields like {{ first_name }} are allowed, no {% %} or {# #}.",
            index=index,
        )
    unknown = sorted({m.strip() for m in _VARIABLE.findall(text) if m.strip() not in MERGE_FIELDS})
    if unknown:
        raise _refuse(
            field,
            "unknown_merge_field",
            f"Unknown merge field(s) {', '.join('{{ ' + u + ' }}' for u in unknown)}; "
            f"known: {', '.join(MERGE_FIELDS)}.",
            index=index,
        )


def _number(step: Mapping[str, Any], name: str, index: int | None, upper: int) -> int:
    value = step.get(name, 0)
    if value is None:
        value = 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
        raise _refuse(name, "invalid", f"{name} is a whole number from 0 to {upper}.", index=index)
    return value


def check_step(
    step: Mapping[str, Any], *, index: int, count: int, label_index: bool = False
) -> dict[str, Any]:
    """One step, cleaned; refused (``RuleViolation`` on the field) when it could not run right.

    ``index`` is the step's position and ``count`` the program's number of
    steps (for a branch's target). With ``label_index`` messages start "Step n:".
    """
    at = index if label_index else None
    kind = step.get("kind")
    if kind not in StepKind.values:
        raise _refuse(
            "kind", "invalid", f"A step is one of {', '.join(StepKind.values)}.", index=at
        )
    subject = step.get("subject") or ""
    body = step.get("body") or ""
    if not isinstance(subject, str) or not isinstance(body, str):
        raise _refuse("subject", "invalid", "Subject and body are text.", index=at)
    subject, body = subject.strip(), body.strip()
    if len(subject) > MAX_SUBJECT:
        raise _refuse("subject", "too_long", f"At most {MAX_SUBJECT} characters.", index=at)
    if len(body) > MAX_BODY:
        raise _refuse("body", "too_long", f"At most {MAX_BODY:,} characters.", index=at)
    wait_days = _number(step, "wait_days", at, MAX_WAIT_DAYS)
    wait_minutes = _number(step, "wait_minutes", at, MAX_WAIT_MINUTES)
    cleaned: dict[str, Any] = {
        "kind": kind,
        "subject": "",
        "body": "",
        "wait_days": 0,
        "wait_minutes": 0,
        "branch_to": None,
    }
    if kind == StepKind.EMAIL:
        if not subject:
            raise _refuse("subject", "required", "An email needs a subject.", index=at)
        _check_merge_fields("subject", subject, at)
        if not body:
            raise _refuse("body", "required", "An email needs a body.", index=at)
        _check_merge_fields("body", body, at)
        if not _UNSUBSCRIBE.search(body):
            raise _refuse(
                "body",
                "no_unsubscribe",
                "An email's body must carry its unsubscribe link: add {{ unsubscribe_url }}.",
                index=at,
            )
        cleaned.update(subject=subject, body=body)
    elif kind == StepKind.TASK:
        if not subject:
            raise _refuse("subject", "required", "A task needs a title (subject).", index=at)
        cleaned["subject"] = subject
    else:  # wait or branch: a positive time
        if wait_days == 0 and wait_minutes == 0:
            what = "A wait" if kind == StepKind.WAIT else "A branch's click window"
            raise _refuse("wait_days", "zero_wait", f"{what} must be longer than zero.", index=at)
        cleaned.update(wait_days=wait_days, wait_minutes=wait_minutes)
    if kind == StepKind.BRANCH:
        target = step.get("branch_to")
        if target is None or target == "":
            raise _refuse(
                "branch_to", "required", "A branch needs a step to go to on a click.", index=at
            )
        if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < count:
            raise _refuse(
                "branch_to",
                "out_of_range",
                f"A branch goes to one of the program's steps (1 to {count}).",
                index=at,
            )
        if target == index:
            raise _refuse("branch_to", "self", "A branch cannot go to itself.", index=at)
        cleaned["branch_to"] = target
    return cleaned


def check_steps(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A whole program's steps, cleaned; the first refusal names its step ("Step n: …")."""
    if len(steps) > MAX_STEPS:
        raise RuleViolation(
            field="steps", code="too_many", message=f"At most {MAX_STEPS} steps a program."
        )
    return [
        check_step(step, index=i, count=len(steps), label_index=True)
        for i, step in enumerate(steps)
    ]


# --- Programs ------------------------------------------------------------------------------------


def check_audience(audience: Mapping[str, Any]) -> dict[str, list[str]]:
    """The audience rule, cleaned: known keys, each a list of known values (empty: everyone)."""
    if not isinstance(audience, Mapping):
        raise RuleViolation(field="audience", code="invalid", message="An audience is an object.")
    cleaned = program_services._clean_audience(audience)
    allowed = {
        "behaviour_level": set(BehaviourLevel.values),
        "source": set(Source.values),
        "reason": set(REASONS),
    }
    for key, values in cleaned.items():
        if key in allowed:
            unknown = sorted(set(values) - allowed[key])
            if unknown:
                raise RuleViolation(
                    field="audience",
                    code="unknown_value",
                    message=f"{key} has no value(s) {', '.join(unknown)}.",
                )
        elif any(not v.strip() or len(v) > 100 for v in values):
            raise RuleViolation(
                field="audience", code="invalid", message=f"{key}: values are 1-100 characters."
            )
    return {key: values for key, values in cleaned.items() if values}


def _name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise RuleViolation(field="name", code="required", message="A program needs a name.")
    if len(name.strip()) > 200:
        raise RuleViolation(field="name", code="too_long", message="At most 200 characters.")
    return name.strip()


@transaction.atomic
def create_program(
    *,
    name: str,
    steps: Sequence[Mapping[str, Any]] = (),
    audience: Mapping[str, Any] | None = None,
    position: int = 100,
    description: str = "",
    by: Principal,
) -> NurtureProgram:
    """A new program from the builder: every step validated, nothing written on a refusal."""
    cleaned = check_steps(steps)
    return program_services.create_program(
        name=_name(name),
        steps=cleaned,
        audience=check_audience(audience or {}),
        position=position,
        description=description,
        by=by,
    )


@transaction.atomic
def update_program(
    *, program: NurtureProgram, changes: Mapping[str, Any], by: Principal
) -> NurtureProgram:
    """Change a program's name, description, audience or position (its steps: the step calls)."""
    before = {"name": program.name, "audience": program.audience, "position": program.position}
    if "name" in changes:
        program.name = _name(changes["name"])
    if "description" in changes:
        program.description = str(changes["description"])
    if "audience" in changes:
        program.audience = check_audience(changes["audience"])
    if "position" in changes:
        program.position = int(changes["position"])
    program.updated_at = timezone.now()
    program.save(update_fields=["name", "description", "audience", "position", "updated_at"])
    record_audit(
        action="nurture.program_changed",
        obj=program,
        before=before,
        after={"name": program.name, "audience": program.audience, "position": program.position},
        by=by,
    )
    return program


# --- Steps ---------------------------------------------------------------------------------------


def _locked_steps(program: NurtureProgram) -> list[NurtureStep]:
    """The program's steps in order, with the program row locked (one builder edit at a time)."""
    NurtureProgram.objects.select_for_update().filter(pk=program.pk).first()
    return list(NurtureStep.objects.filter(program=program).order_by("position", "id"))


def _renumber(program: NurtureProgram, old: list[NurtureStep], new: list[NurtureStep]) -> None:
    """Store ``new`` (the same steps as ``old``, reordered); branches and enrollments follow."""
    new_index = {step.pk: i for i, step in enumerate(new)}
    old_to_new = {i: new_index[step.pk] for i, step in enumerate(old)}
    for step in new:
        if step.branch_to is not None:
            step.branch_to = old_to_new.get(step.branch_to, step.branch_to)
    moved = {i: j for i, j in old_to_new.items() if i != j}
    if moved:
        Enrollment.objects.filter(program=program, state=EnrollmentState.ACTIVE).update(
            position=Case(
                *(When(position=i, then=Value(j)) for i, j in moved.items()),
                default=F("position"),
                output_field=PositiveIntegerField(),
            )
        )
    _store_order(new)


def _touch(program: NurtureProgram) -> None:
    program.updated_at = timezone.now()
    program.save(update_fields=["updated_at"])


@transaction.atomic
def add_step(
    *,
    program: NurtureProgram,
    step: Mapping[str, Any],
    position: int | None = None,
    by: Principal,
) -> NurtureStep:
    """Insert a step (at the end, or before the step now at ``position``)."""
    steps = _locked_steps(program)
    at = len(steps) if position is None else position
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= len(steps):
        raise RuleViolation(
            field="position",
            code="out_of_range",
            message=f"A new step goes at position 0 to {len(steps)}.",
        )
    if len(steps) >= MAX_STEPS:
        raise RuleViolation(
            field="steps", code="too_many", message=f"At most {MAX_STEPS} steps a program."
        )
    # The new step's branch target is given in the order after the insert.
    cleaned = check_step(step, index=at, count=len(steps) + 1)
    # Existing targets at or after the insert move one down; the new step's is already right.
    created = NurtureStep(
        tenant_id=program.tenant_id, program=program, position=_PARK - 1, **cleaned
    )
    created.save()
    new = [*steps[:at], created, *steps[at:]]
    for existing in steps:
        if existing.branch_to is not None and existing.branch_to >= at:
            existing.branch_to += 1
    # Enrollments at or after the insert keep their step: shift them by hand (not via old→new).
    Enrollment.objects.filter(
        program=program, state=EnrollmentState.ACTIVE, position__gte=at
    ).update(position=F("position") + 1)
    _store_order(new)
    _touch(program)
    record_audit(action="nurture.step_added", obj=program, after={"position": at, **cleaned}, by=by)
    return created


def _store_order(new: list[NurtureStep]) -> None:
    for i, step in enumerate(new):
        step.position = _PARK + i
    NurtureStep.objects.bulk_update(new, ["position"])
    for i, step in enumerate(new):
        step.position = i
    NurtureStep.objects.bulk_update(new, ["position", "branch_to"])


@transaction.atomic
def update_step(*, step: NurtureStep, changes: Mapping[str, Any], by: Principal) -> NurtureStep:
    """Change one step's fields (its kind too); validated against its program as it stands."""
    steps = _locked_steps(step.program)
    current = next((s for s in steps if s.pk == step.pk), None)
    if current is None:
        raise RuleViolation(field="step", code="not_found", message="No such step.")
    merged = {name: getattr(current, name) for name in STEP_FIELDS}
    merged.update({k: v for k, v in changes.items() if k in STEP_FIELDS})
    cleaned = check_step(merged, index=current.position, count=len(steps))
    before = {name: getattr(current, name) for name in STEP_FIELDS}
    for name, value in cleaned.items():
        setattr(current, name, value)
    current.save(update_fields=list(STEP_FIELDS))
    _touch(step.program)
    record_audit(action="nurture.step_changed", obj=current, before=before, after=cleaned, by=by)
    return current


@transaction.atomic
def delete_step(*, step: NurtureStep, by: Principal) -> None:
    """Delete a step: refused while a branch goes to it, or once it has run for someone (409).

    People about to run it go on at the step that followed it.
    """
    steps = _locked_steps(step.program)
    index = next((i for i, s in enumerate(steps) if s.pk == step.pk), None)
    if index is None:
        raise RuleViolation(field="step", code="not_found", message="No such step.")
    pointing = [i + 1 for i, s in enumerate(steps) if s.branch_to == index and s.pk != step.pk]
    if pointing:
        raise RuleViolation(
            field="step",
            code="branch_target",
            message=f"Step {', '.join(map(str, pointing))} branches to this step: "
            "change that branch first.",
            conflict=True,
        )
    if NurtureSend.objects.filter(step=step).exists():
        raise RuleViolation(
            field="step",
            code="has_run",
            message="This step already ran for people and its record is kept: "
            "edit it, or pause the program.",
            conflict=True,
        )
    new = [s for s in steps if s.pk != step.pk]
    for other in new:
        if other.branch_to is not None and other.branch_to > index:
            other.branch_to -= 1
    record_audit(
        action="nurture.step_deleted",
        obj=step.program,
        before={"position": index, "kind": step.kind, "subject": step.subject},
        by=by,
    )
    step.delete()
    Enrollment.objects.filter(
        program=step.program, state=EnrollmentState.ACTIVE, position__gt=index
    ).update(position=F("position") - 1)
    _store_order(new)
    _touch(step.program)


@transaction.atomic
def reorder_steps(*, program: NurtureProgram, order: Sequence[int], by: Principal) -> None:
    """Put the steps in ``order`` (every step id once); branches and enrollments follow them.

    Refused when a branch would then go to itself (it cannot: a target is
    another step) — or when the ids are not exactly the program's steps.
    """
    steps = _locked_steps(program)
    ids = [s.pk for s in steps]
    if sorted(order) != sorted(ids) or len(set(order)) != len(order):
        raise RuleViolation(
            field="order", code="invalid", message="Name every step of the program once."
        )
    by_id = {s.pk: s for s in steps}
    new = [by_id[pk] for pk in order]
    if new == steps:
        return
    _renumber(program, steps, new)
    _touch(program)
    record_audit(action="nurture.steps_reordered", obj=program, after={"order": list(order)}, by=by)


def move_step(*, step: NurtureStep, offset: int, by: Principal) -> None:
    """Move a step one place up (-1) or down (+1): the up/down buttons; the edges stay put."""
    with transaction.atomic():
        steps = _locked_steps(step.program)
        ids = [s.pk for s in steps]
        i = ids.index(step.pk)
        j = i + offset
        if not 0 <= j < len(ids):
            return
        ids[i], ids[j] = ids[j], ids[i]
        reorder_steps(program=step.program, order=ids, by=by)


# --- Audience count and funnel --------------------------------------------------------------------


def audience_matches(audience: Mapping[str, list[str]]) -> Q:
    """The inquiries in nurture now that the (cleaned) rule fits, as a filter on ``Inquiry``.

    The same test as enrollment's ``matches()``: each non-empty key must hold;
    ``reason`` is why the person reached nurture, read from their active enrollment.
    """
    rule = Q(stage=Stage.NURTURE)
    for key in ("industry", "behaviour_level", "source"):
        if audience.get(key):
            rule &= Q(**{f"{key}__in": audience[key]})
    if audience.get("reason"):
        rule &= Q(
            Exists(
                Enrollment.objects.filter(
                    inquiry_id=OuterRef("pk"),
                    state=EnrollmentState.ACTIVE,
                    reason__in=audience["reason"],
                )
            )
        )
    return rule


def audience_count(audience: Mapping[str, Any]) -> int:
    """How many inquiries in nurture now fit this rule (validated first; one COUNT)."""
    return Inquiry.objects.filter(audience_matches(check_audience(audience))).count()
