"""Programs: the long-term one every tenant has, creating, pausing, resuming, deleting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture.models import NurtureProgram, NurtureStep, StepKind

LONG_TERM_NAME = "Long-term nurture"
LONG_TERM_DESCRIPTION = "A gentle monthly email for everyone not ready yet; it never ends."
LONG_TERM_SUBJECT = "News from {{ sender_name }}"
LONG_TERM_BODY = (
    "Hello {{ first_name }},\n\n"
    "Here is what is new this month. When the time is right for {{ company }}, "
    "reply to this email and we will set up a call.\n"
)
AUDIENCE_KEYS = frozenset({"industry", "behaviour_level", "source", "reason"})


def long_term_program() -> NurtureProgram:
    """The tenant's long-term program, created with its monthly email the first time it is asked.

    ``INSERT … ON CONFLICT DO NOTHING`` on the one-per-tenant constraint, so two
    callers at once make one program.
    """
    program = NurtureProgram.objects.filter(is_long_term=True).first()
    if program is not None:
        return program
    with transaction.atomic():
        NurtureProgram.objects.bulk_create(
            [
                NurtureProgram(
                    tenant_id=require_tenant_id(),
                    name=LONG_TERM_NAME,
                    description=LONG_TERM_DESCRIPTION,
                    position=10_000,
                    is_long_term=True,
                )
            ],
            ignore_conflicts=True,
        )
        program = NurtureProgram.objects.get(is_long_term=True)
        if not NurtureStep.objects.filter(program=program).exists():
            NurtureStep.objects.bulk_create(
                [
                    NurtureStep(
                        tenant_id=program.tenant_id,
                        program=program,
                        position=0,
                        kind=StepKind.EMAIL,
                        subject=LONG_TERM_SUBJECT,
                        body=LONG_TERM_BODY,
                    ),
                    NurtureStep(
                        tenant_id=program.tenant_id,
                        program=program,
                        position=1,
                        kind=StepKind.WAIT,
                        wait_days=30,
                    ),
                ],
                ignore_conflicts=True,
            )
    return program


def _clean_audience(audience: Mapping[str, Any]) -> dict[str, list[str]]:
    unknown = set(audience) - AUDIENCE_KEYS
    if unknown:
        raise RuleViolation(
            field="audience",
            code="unknown_key",
            message=f"An audience rule has no key(s) {', '.join(sorted(unknown))}.",
        )
    cleaned: dict[str, list[str]] = {}
    for key, values in audience.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise RuleViolation(
                field="audience", code="invalid", message=f"{key} is a list of values."
            )
        cleaned[key] = values
    return cleaned


@transaction.atomic
def create_program(
    *,
    name: str,
    steps: Sequence[Mapping[str, Any]],
    audience: Mapping[str, Any] | None = None,
    position: int = 100,
    description: str = "",
    by: Principal,
) -> NurtureProgram:
    """A new program with its steps in order (``kind`` and the step's fields each)."""
    if not name.strip():
        raise RuleViolation(field="name", code="required", message="A program needs a name.")
    program = NurtureProgram.objects.create(
        name=name.strip(),
        description=description,
        audience=_clean_audience(audience or {}),
        position=position,
    )
    rows = []
    for index, step in enumerate(steps):
        kind = step.get("kind")
        if kind not in StepKind.values:
            raise RuleViolation(
                field="steps", code="invalid", message=f"Step {index + 1} has no known kind."
            )
        rows.append(
            NurtureStep(
                tenant_id=program.tenant_id,
                program=program,
                position=index,
                kind=kind,
                subject=step.get("subject", ""),
                body=step.get("body", ""),
                wait_days=step.get("wait_days", 0),
                wait_minutes=step.get("wait_minutes", 0),
                branch_to=step.get("branch_to"),
            )
        )
    NurtureStep.objects.bulk_create(rows)
    record_audit(action="nurture.program_created", obj=program, after={"name": name}, by=by)
    return program


@transaction.atomic
def set_program_paused(*, program: NurtureProgram, paused: bool, by: Principal) -> NurtureProgram:
    """Pause (nothing of it runs) or resume a program; resuming runs what fell due meanwhile."""
    if program.paused == paused:
        return program
    program.paused = paused
    program.paused_at = timezone.now() if paused else None
    program.updated_at = timezone.now()
    program.save(update_fields=["paused", "paused_at", "updated_at"])
    record_audit(
        action="nurture.program_paused" if paused else "nurture.program_resumed",
        obj=program,
        after={"paused": paused},
        by=by,
    )
    return program


@transaction.atomic
def delete_program(*, program: NurtureProgram, by: Principal) -> None:
    """Delete a program nobody was ever enrolled in; the long-term one never (409)."""
    if program.is_long_term:
        raise RuleViolation(
            field="program",
            code="long_term",
            message="The long-term program cannot be deleted: it is where everyone else goes.",
            conflict=True,
        )
    if program.enrollments.exists():
        raise RuleViolation(
            field="program",
            code="has_enrollments",
            message="People were enrolled in this program: pause it instead, to keep its history.",
            conflict=True,
        )
    record_audit(
        action="nurture.program_deleted", obj=program, before={"name": program.name}, by=by
    )
    program.delete()
