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
from dataclasses import dataclass
from datetime import date, datetime
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
from leads.services.touches import (
    MAX_NOTE_LENGTH,
    CheckedTouch,
    check_touch,
    save_touch,
    works_lead,
)

TOUCH_FIELDS = ("kind", "outcome", "note", "at")

# ``Lead.reported_weeks`` keeps bits 0..62 (bit 63 is a bigint's sign).
WEEKS_KEPT = 63
KEPT_MASK = (1 << WEEKS_KEPT) - 1
# Built once (``TextChoices.values`` builds its list on every read).
STATUSES = frozenset(UpdateStatus.values)


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


def update_week(
    lead: Lead, week: date | str | None, *, by: Principal, this_week: date | None = None
) -> tuple[date, bool]:
    """The Monday the update reports on and whether it is late; 400 for a week it cannot name.

    ``this_week`` is the current week in the tenant's zone, when the caller has it (the bulk
    sync reads the clock once for its 1,000 items).
    """
    tz = times.zone(by.tenant.timezone)
    if this_week is None:
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


@dataclass(frozen=True)
class CheckedUpdate:
    """An update that passed ``check_update``: its cleaned note and the week it reports on."""

    status: str
    note: str
    week: date
    late: bool


def check_update(
    lead: Lead,
    *,
    status: str,
    note: str = "",
    touch: Mapping[str, Any] | None = None,
    week: date | str | None = None,
    by: Principal,
    this_week: date | None = None,
) -> CheckedUpdate:
    """``record_weekly_update``'s rules on the update itself, in its order, without writing.

    The lead is open (400 awaiting acceptance, 409 closed), the status known,
    the note within its length and not missing on a bare progress update, the
    week one the update may name (``update_week``; ``this_week`` as there). The bulk
    sync checks its items with it too. The caller checks ``works_lead`` first and, to write,
    holds the lead's row lock.
    """
    _check_open(lead)
    if status not in STATUSES:
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
    monday, late = update_week(lead, week, by=by, this_week=this_week)
    return CheckedUpdate(status=status, note=note, week=monday, late=late)


def update_audit(checked: CheckedUpdate, touch_id: int | None) -> dict[str, Any]:
    """The ``after`` of an update's ``lead.weekly_update`` audit row (one shape for all writers)."""
    return {
        "week": weeks.week_label(checked.week),
        "status": checked.status,
        "late": checked.late,
        "touch": touch_id,
    }


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
    checked = check_update(lead, status=status, note=note, touch=touch, week=week, by=by)
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
            reason=checked.note[:200],
        )
    update = WeeklyUpdate.objects.create(
        tenant=by.tenant,
        lead=lead,
        week=checked.week,
        status=status,
        note=checked.note,
        touch=logged,
        user=by.user,
        partner=by.partner,
        late=checked.late,
    )
    # Under the row lock taken above: a concurrent update of this lead waits, then reads ours.
    last_week, reported = mark_reported(lead.last_update_week, lead.reported_weeks, checked.week)
    Lead.objects.filter(pk=lead.pk).update(last_update_week=last_week, reported_weeks=reported)
    record_audit(
        action="lead.weekly_update",
        obj=lead,
        after=update_audit(checked, logged.pk if logged else None),
        by=by,
    )
    return update


def check_touch_fields(touch: Mapping[str, Any]) -> None:
    """An update's touch names only the touch's fields (400 ``touch`` otherwise)."""
    unknown = set(touch) - set(TOUCH_FIELDS)
    if unknown:
        raise RuleViolation(
            field="touch",
            code="invalid",
            message="A touch has kind, outcome, note and at; not " + ", ".join(sorted(unknown)),
        )


def as_touch_refusal(refused: RuleViolation) -> RuleViolation:
    """A touch's refusal as an update reports it: on ``touch``, naming the touch's field."""
    return RuleViolation(
        field="touch",
        code=refused.code,
        message=f"{refused.field}: {refused.message}",
        conflict=refused.conflict,
    )


def check_update_touch(
    lead: Lead, touch: Mapping[str, Any], *, inquiry_created_at: datetime, by: Principal
) -> CheckedTouch:
    """An update's touch checked as ``log_touch`` checks it; refusals on ``touch``."""
    check_touch_fields(touch)
    try:
        return check_touch(
            inquiry_id=lead.inquiry_id,
            inquiry_created_at=inquiry_created_at,
            lead=lead,
            kind=touch.get("kind") or "",
            outcome=touch.get("outcome") or "",
            note=touch.get("note") or "",
            at=touch.get("at"),
            by=by,
        )
    except RuleViolation as refused:
        raise as_touch_refusal(refused) from None


def _log(lead: Lead, touch: Mapping[str, Any], *, by: Principal) -> Touch:
    check_touch_fields(touch)
    created_at = Inquiry.objects.values_list("created_at", flat=True).get(pk=lead.inquiry_id)
    checked = check_update_touch(lead, touch, inquiry_created_at=created_at, by=by)
    return save_touch(checked, inquiry_id=lead.inquiry_id, lead=lead, by=by)
