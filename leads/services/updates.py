"""The weekly update: the owner's report on one open lead for one ISO week.

A lead is open for updates when accepted or SQL (``REPORTED_STAGES``): one
awaiting acceptance is accepted first (400), a closed one is a conflict (409).
An update is a note and/or a touch and/or an outcome — never empty. Won, lost
and postponed close the lead through ``closing.close_lead`` so its refusals
(value, reason, date) reach the caller unchanged. The week is the tenant's
(Monday start, local midnights): the current one by default, a past one to
clear a backlog (marked late), never a future one nor one before the owner got
the lead. The touch, the close, the update and the audit row commit together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from inquiries.models import Inquiry
from leadflow.lib import times, weeks
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads.models import REPORTED_STAGES, Lead, LeadStage, Touch, UpdateStatus, WeeklyUpdate
from leads.selectors.weekly import current_week
from leads.services.closing import close_lead, closed_conflict
from leads.services.touches import MAX_NOTE_LENGTH, log_touch, works_lead

TOUCH_FIELDS = ("kind", "outcome", "note", "at")

# ``Lead.reported_weeks`` keeps bits 0..62 (bit 63 is a bigint's sign).
WEEKS_KEPT = 63
KEPT_MASK = (1 << WEEKS_KEPT) - 1


def mark_reported(last_week: date | None, reported: int, monday: date) -> tuple[date, int]:
    """A lead's ``(last_update_week, reported_weeks)`` once it has an update for ``monday``.

    Bit ``k`` of ``reported_weeks`` is the week ``k`` weeks before
    ``last_update_week``. A newer week shifts the bits left by the gap (a gap
    of 63 weeks or more leaves none) and sets bit 0; the same week changes
    nothing; an older (late) week sets its own bit, if within the 63 kept.
    The caller holds the lead's row lock, so two updates of one lead never
    read the same old value.
    """
    if last_week is None:
        return monday, 1
    gap = (monday - last_week).days // 7
    if gap > 0:
        shifted = (reported << gap) & KEPT_MASK if gap < WEEKS_KEPT else 0
        return monday, shifted | 1
    back = -gap
    if back < WEEKS_KEPT:
        reported |= 1 << back
    return last_week, reported


def update_week(lead: Lead, week: date | str | None, *, by: Principal) -> tuple[date, bool]:
    """The Monday the update reports on and whether it is late; 400 for a week it cannot name."""
    tz = times.zone(by.tenant.timezone)
    this_week = current_week(tz)
    if week is None or week == "":
        return this_week, False
    if isinstance(week, str):
        try:
            monday = weeks.parse_week(week)
        except ValueError:
            raise RuleViolation(
                field="week",
                code="invalid",
                message=f"{week!r} is not a week: use its Monday (2026-12-28) or 2026-W53.",
            ) from None
    else:
        monday = weeks.week_of(week)
    if monday > this_week:
        raise RuleViolation(
            field="week",
            code="future",
            message=f"{weeks.week_label(monday)} has not begun; report on this week "
            f"({weeks.week_label(this_week)}) or a past one.",
        )
    assigned_week = weeks.week_of_moment(lead.assigned_at, tz)
    if monday < assigned_week:
        raise RuleViolation(
            field="week",
            code="before_assigned",
            message=f"This lead was assigned in {weeks.week_label(assigned_week)}; "
            f"{weeks.week_label(monday)} is before that.",
        )
    return monday, monday < this_week


def _check_open(lead: Lead) -> None:
    if lead.stage == LeadStage.AWAITING_ACCEPTANCE:
        raise RuleViolation(
            field="stage",
            code="not_accepted",
            message="This lead is awaiting acceptance: accept it first, then report on it.",
        )
    if lead.stage not in REPORTED_STAGES:
        raise closed_conflict(lead)


@transaction.atomic
def record_weekly_update(
    *,
    lead: Lead,
    status: str,
    note: str = "",
    touch: Mapping[str, Any] | None = None,
    value: Decimal | str | None = None,
    closed_on: date | None = None,
    lost_reason: str = "",
    postponed_until: date | None = None,
    week: date | str | None = None,
    by: Principal,
) -> WeeklyUpdate:
    """Record the owner's update for ``week`` (default this week); closes the lead on an outcome.

    ``touch`` (``kind``, ``outcome``, ``note``, ``at``) is logged with
    ``log_touch`` and linked. Refusals are 400s naming the field (409 for a
    closed lead); nothing is written then.
    """
    if not works_lead(lead, by):
        raise PermissionDenied("Only the lead's owner or a manager reports on it.")
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _check_open(lead)
    if status not in UpdateStatus.values:
        raise RuleViolation(
            field="status",
            code="invalid",
            message="The status is progress, won, lost or postponed.",
        )
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise RuleViolation(
            field="note", code="too_long", message=f"At most {MAX_NOTE_LENGTH} characters."
        )
    if status == UpdateStatus.PROGRESS and not note and not touch:
        raise RuleViolation(
            field="note",
            code="required",
            message="An update says what happened: write a note or log a touch.",
        )
    monday, late = update_week(lead, week, by=by)
    logged = _log(lead, touch, by=by) if touch else None
    if status != UpdateStatus.PROGRESS:
        close_lead(
            lead=lead,
            stage=status,
            by=by,
            value=value,
            closed_on=closed_on,
            lost_reason=lost_reason,
            postponed_until=postponed_until,
            reason=note[:200],
        )
    update = WeeklyUpdate.objects.create(
        tenant=by.tenant,
        lead=lead,
        week=monday,
        status=status,
        note=note,
        touch=logged,
        user=by.user,
        partner=by.partner,
        late=late,
    )
    # Under the row lock taken above: a concurrent update of this lead waits, then reads ours.
    last_week, reported = mark_reported(lead.last_update_week, lead.reported_weeks, monday)
    Lead.objects.filter(pk=lead.pk).update(last_update_week=last_week, reported_weeks=reported)
    record_audit(
        action="lead.weekly_update",
        obj=lead,
        after={
            "week": weeks.week_label(monday),
            "status": status,
            "late": late,
            "touch": logged.pk if logged else None,
        },
        by=by,
    )
    return update


def _log(lead: Lead, touch: Mapping[str, Any], *, by: Principal) -> Touch:
    unknown = set(touch) - set(TOUCH_FIELDS)
    if unknown:
        raise RuleViolation(
            field="touch",
            code="invalid",
            message="A touch has kind, outcome, note and at; not " + ", ".join(sorted(unknown)),
        )
    inquiry = Inquiry.objects.get(pk=lead.inquiry_id)
    try:
        return log_touch(
            inquiry=inquiry,
            lead=lead,
            kind=touch.get("kind") or "",
            outcome=touch.get("outcome") or "",
            note=touch.get("note") or "",
            at=touch.get("at"),
            by=by,
        )
    except RuleViolation as refused:
        raise RuleViolation(
            field="touch",
            code=refused.code,
            message=f"{refused.field}: {refused.message}",
            conflict=refused.conflict,
        ) from None
