"""One person's history, merged: the inquiry's moves, the leads, touches, updates, meetings.

Read in a fixed number of queries whatever its length (leads, stage changes,
touches, updates, appointments — each one query with the names it shows
joined), then merged in Python and sorted newest first. Each entry is one
human-readable line ("Riley Rep logged a call — no answer") with who and when;
times are in the viewer's time zone. Only the leads the viewer may see (and
what hangs off them) are included; the qualifier's touches before hand-over
belong to the person and are always shown.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal

from django.db.models import Q

from inquiries.models import Inquiry, Stage
from leadflow.lib import weeks
from leadflow.lib.timeline import TimelineEntry, entries_from_sources
from leadflow.tenancy.models import Partner, StageChange, User
from leadflow.tenancy.principal import Principal
from leads.models import (
    Appointment,
    Assignment,
    AssignmentKind,
    Lead,
    LeadStage,
    RejectKind,
    Touch,
    TouchKind,
    TouchOutcome,
    UpdateStatus,
    WeeklyUpdate,
)
from leads.selectors.leads import lead_list

CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def money(value: Decimal | None, currency: str) -> str:
    """``€12,500`` (whole amounts without cents), ``CHF 99.50``."""
    if value is None:
        return ""
    amount = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount}" if sign else f"{currency} {amount}"


def _who(user: User | None, partner: Partner | None = None, label: str = "") -> str:
    if user is not None:
        return user.display_name
    if partner is not None:
        return partner.name
    return label or "LeadFlow"


def person_timeline(*, inquiry: Inquiry, principal: Principal) -> list[TimelineEntry]:
    """The person's history as ``principal`` may see it, newest first. Five queries: the
    leads with their appointments, stage changes, touches, updates, assignments; plus
    each registered source's own fixed count (``leadflow.lib.timeline``; nurture: one)."""
    tz = principal.timezone
    currency = principal.tenant.currency
    leads = {
        lead.pk: lead
        for lead in lead_list(principal=principal)
        .select_related("appointment__booked_by", "rep")
        .filter(inquiry_id=inquiry.pk)
    }
    entries: list[TimelineEntry] = [
        TimelineEntry(
            at=inquiry.created_at.astimezone(tz),
            kind="inquiry_stage",
            text=f"Inquiry received ({inquiry.get_source_display().lower()})",
        )
    ]
    changes = StageChange.objects.select_related("actor").filter(
        Q(machine="inquiry", object_id=inquiry.pk) | Q(machine="lead", object_id__in=list(leads))
    )
    for change in changes:
        who = _who(change.actor, label=change.actor_label)
        if change.machine == "inquiry":
            entries.append(_inquiry_move(change, who, tz))
        else:
            entries.append(_lead_move(change, leads[change.object_id], who, tz, currency))
    for lead in leads.values():
        entries.append(_lead_created(lead, tz))
    touches = (
        Touch.objects.select_related("user", "partner")
        .filter(inquiry_id=inquiry.pk)
        .filter(Q(lead__isnull=True) | Q(lead_id__in=list(leads)))
    )
    for touch in touches:
        kind = TouchKind(touch.kind).label.lower() if touch.kind in TouchKind.values else touch.kind
        outcome = (
            TouchOutcome(touch.outcome).label.lower()
            if touch.outcome in TouchOutcome.values
            else touch.outcome
        )
        entries.append(
            TimelineEntry(
                at=touch.at.astimezone(tz),
                kind="touch",
                text=f"{_who(touch.user, touch.partner)} logged {_a(kind)} {kind} — {outcome}",
                detail=touch.note,
                lead_id=touch.lead_id,
            )
        )
    updates = WeeklyUpdate.objects.select_related("user", "partner").filter(lead_id__in=list(leads))
    for update in updates:
        status = UpdateStatus(update.status).label.lower()
        late = " (late)" if update.late else ""
        entries.append(
            TimelineEntry(
                at=update.created_at.astimezone(tz),
                kind="update",
                text=f"{_who(update.user, update.partner)} reported {weeks.week_label(update.week)}"
                f": {status}{late}",
                detail=update.note,
                lead_id=update.lead_id,
            )
        )
    # The appointments came with their leads (joined); the assignments are one query.
    for lead in leads.values():
        entries += _appointment_entries(lead.appointment, lead, tz)
    assignments = Assignment.objects.select_related(
        "rep", "partner", "previous_rep", "previous_partner"
    ).filter(lead_id__in=list(leads))
    for assignment in assignments:
        entries.append(_assignment_entry(assignment, tz))
    # What other apps keep about the person (nurture's enrollments and exits), registered.
    entries += entries_from_sources(inquiry.pk, principal, tz)
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _inquiry_move(change: StageChange, who: str, tz: tzinfo) -> TimelineEntry:
    def label(stage: str) -> str:
        return Stage(stage).label if stage in Stage.values else stage

    text = f"{who} moved the inquiry from {label(change.from_stage)} to {label(change.to_stage)}"
    if change.to_stage == Stage.LEAD:
        text = "Handed to sales: the inquiry became a lead"
    elif change.to_stage == Stage.NURTURE and change.from_stage == Stage.LEAD:
        text = "Back to marketing's nurture"
    # Handing over says why itself ("appointment booked"); other moves keep their reason.
    detail = "" if change.to_stage == Stage.LEAD else change.reason
    return TimelineEntry(
        at=change.created_at.astimezone(tz), kind="inquiry_stage", text=text, detail=detail
    )


def _lead_move(
    change: StageChange, lead: Lead, who: str, tz: tzinfo, currency: str
) -> TimelineEntry:
    to, source = change.to_stage, change.from_stage
    if to == LeadStage.ACCEPTED and source == LeadStage.AWAITING_ACCEPTANCE:
        text = f"{who} accepted the lead"
    elif to == LeadStage.ACCEPTED and source == LeadStage.POSTPONED and not change.actor_id:
        text = "Postponement over: the lead is back with its owner"
    elif to == LeadStage.ACCEPTED:
        text = f"{who} reopened the lead"
    elif to == LeadStage.SQL:
        text = f"{who} qualified the lead (SQL)"
    elif to == LeadStage.WON:
        value = money(lead.value, currency) if lead.stage == LeadStage.WON else ""
        text = f"Lead won — {value}" if value else "Lead won"
    elif to == LeadStage.LOST:
        reason = lead.lost_reason if lead.stage == LeadStage.LOST else ""
        text = f"Lead lost — {reason}" if reason else "Lead lost"
    elif to == LeadStage.POSTPONED:
        until = lead.postponed_until if lead.stage == LeadStage.POSTPONED else None
        text = f"Lead postponed until {until:%d %b %Y}" if until else "Lead postponed"
    elif to == LeadStage.REJECTED:
        text = f"{who} rejected the lead: {RejectKind.NOT_A_LEAD.label.lower()}"
    elif to == LeadStage.NO_SHOW:
        text = "The buyer did not show up: the lead closed as a no-show"
    else:
        text = f"{who} moved the lead to {to}"
    detail = change.reason if change.reason not in ("accepted", "qualified") else ""
    return TimelineEntry(
        at=change.created_at.astimezone(tz),
        kind="lead_stage",
        text=text,
        detail=detail,
        lead_id=lead.pk,
    )


def _lead_created(lead: Lead, tz: tzinfo) -> TimelineEntry:
    rules = ", ".join(
        f"{item.get('rule', '?')} {int(item.get('points', 0)):+d}"
        for item in (lead.score_breakdown or [])
        if isinstance(item, dict)
    )
    return TimelineEntry(
        at=lead.created_at.astimezone(tz),
        kind="lead_created",
        text=f"Sales received the lead with score {lead.score}",
        detail=rules,
        lead_id=lead.pk,
    )


def zone_label(tz: tzinfo) -> str:
    """``Chicago`` for America/Chicago, ``UTC`` for UTC: the zone as people name it."""
    return str(tz).rsplit("/", 1)[-1].replace("_", " ")


def meeting_time(moment: datetime, tz: tzinfo) -> str:
    """``Tue 10 Dec 10:00 (Chicago)``: a meeting's time in ``tz``, the zone named."""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M} ({zone_label(tz)})"


def _appointment_entries(appointment: Appointment, lead: Lead, tz: tzinfo) -> list[TimelineEntry]:
    lead_id = lead.pk
    booked_by = _who(appointment.booked_by, label="LeadFlow")
    # The meeting's rep is its lead's (read through the lead, selected with it).
    rep = f" with {lead.rep.display_name}" if lead.rep is not None else ""
    found = [
        TimelineEntry(
            at=appointment.created_at.astimezone(tz),
            kind="appointment",
            text=f"Appointment booked for {meeting_time(appointment.starts_at, tz)}{rep}",
            detail=f"by {booked_by}",
            lead_id=lead_id,
        )
    ]
    if appointment.held_at:
        found.append(
            TimelineEntry(
                at=appointment.held_at.astimezone(tz),
                kind="appointment",
                text="The meeting was held",
                lead_id=lead_id,
            )
        )
    if appointment.no_show_at:
        found.append(
            TimelineEntry(
                at=appointment.no_show_at.astimezone(tz),
                kind="appointment",
                text="The buyer did not show up to the meeting",
                lead_id=lead_id,
            )
        )
    if appointment.cancelled_at:
        found.append(
            TimelineEntry(
                at=appointment.cancelled_at.astimezone(tz),
                kind="appointment",
                text="The meeting was cancelled",
                detail=appointment.cancel_reason,
                lead_id=lead_id,
            )
        )
    return found


SKIP_WORDS = {
    "deactivated": "deactivated",
    "suspended": "suspended",
    "on_leave": "on leave",
    "at_capacity": "at capacity",
    "double_booked": "booked at that time",
    "declined": "declined",
}
RECALL_WHY = {
    AssignmentKind.RECALL_UNACCEPTED: "not accepted in time",
    AssignmentKind.RECALL_IDLE: "no touch or update",
    AssignmentKind.CANNOT_SERVE: "cannot serve it",
}


def _assignment_entry(assignment: Assignment, tz: tzinfo) -> TimelineEntry:
    """Why the lead went to its owner: ``Routed to Robin Rep — rule DACH, team Central,
    turn 3; skipped Sam (on leave)``, or ``Recalled from X: not accepted in time → Y``."""
    owner = _who(assignment.rep, assignment.partner, label="nobody (no one could take it)")
    previous = _who(assignment.previous_rep, assignment.previous_partner, label="nobody")
    kind = assignment.kind
    if kind == AssignmentKind.NAMED:
        text = f"Given to {owner} at booking (named)"
    elif kind == AssignmentKind.REFERRAL:
        text = f"Stays with {owner}: their referral"
    elif kind in RECALL_WHY:
        verb = "Recalled from" if kind != AssignmentKind.CANNOT_SERVE else "Handed back by"
        text = f"{verb} {previous}: {RECALL_WHY[AssignmentKind(kind)]} → {owner}"
    else:
        text = f"Routed to {owner}"
    how = []
    if assignment.rule:
        how.append(f"rule {assignment.rule}")
    if assignment.team:
        how.append(f"team {assignment.team}")
    if assignment.turn is not None:
        how.append(f"turn {assignment.turn}")
    skipped = ", ".join(
        f"{skip.get('owner', '?')} ({SKIP_WORDS.get(skip.get('reason', ''), skip.get('reason'))})"
        for skip in (assignment.skips or [])
        if isinstance(skip, dict)
    )
    detail = ", ".join(how)
    if skipped:
        detail = f"{detail}; skipped {skipped}" if detail else f"skipped {skipped}"
    if kind == AssignmentKind.ROUTED or kind == AssignmentKind.BOOKED:
        text = f"{text} — {detail}" if detail else text
        detail = ""
    return TimelineEntry(
        at=assignment.created_at.astimezone(tz),
        kind="assignment",
        text=text,
        detail=detail,
        lead_id=assignment.lead_id,
    )
