"""A lead's life with its owner: accept, reject, qualify, the next step — and two clocks.

Who may act: the lead's owner (its rep, or any user or key of its partner)
or a manager/admin; anyone else is refused (:class:`NotOwner`; the API and the
pages never let them get this far, a lead they cannot see being a 404).

* **Accept** (awaiting acceptance → accepted, SAL). Late is still accepted:
  the breach the scan recorded stays on the lead (``breached_at``).
* **Reject** takes a kind. ``not_a_lead`` closes the lead as ``rejected``
  and sends the person back to marketing's nurture. ``cannot_serve`` keeps
  the lead awaiting acceptance and routes it again, skipping that owner
  (``leads.services.routing``); with nobody left it has no owner, for a
  manager to give to someone else. Both only while the lead awaits
  acceptance: once accepted, the owner has taken it on and ends it as lost
  or postponed, or asks a manager to reassign it.
* **Qualify** (accepted → SQL) records budget, authority, need and timeline.
* **Next step**: a date (today or later) and an action, or neither.

Two scheduled scans run per tenant: :func:`scan_acceptance_breaches` marks
awaiting leads whose acceptance window lapsed and alerts the managers once;
:func:`return_postponed_leads` brings postponed leads back on their date.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from inquiries.models import Inquiry
from inquiries.services import handover
from leadflow import outbox
from leadflow.lib import stages, times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import AuditEvent, Membership, Tenant
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import record_audit
from leads import stages as lead_stages
from leads.models import CLOSED_STAGES, AssignmentKind, Lead, LeadStage, RejectKind
from leads.selectors.settings import lead_settings
from leads.services import webhook_events
from leads.services.closing import close_as, closed_conflict, tenant_today
from leads.services.ownership import invite_accepting_partner
from leads.services.routing import route_leads

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 200
MAX_NEXT_STEP_LENGTH = 200
# The SQL fields and their limits (the columns' lengths).
QUALIFY_LIMITS = {"budget": 200, "authority": 200, "need": 500, "timeline": 200}


class NotOwner(RuleViolation):
    """The caller neither owns the lead nor manages the team."""

    def __init__(self) -> None:
        super().__init__(
            field="lead",
            code="not_owner",
            message="Only the lead's owner or a manager can do this.",
        )


def is_owner(lead: Lead, by: Principal) -> bool:
    """The lead's rep, or a user or key of its partner."""
    if by.partner is not None:
        return lead.partner_id == by.partner.pk
    return by.user is not None and lead.rep_id is not None and lead.rep_id == by.user.pk


def may_act_on(lead: Lead, by: Principal) -> bool:
    """Whether ``by`` may accept, reject, qualify or plan the next step of ``lead``."""
    if by.partner is not None:
        return is_owner(lead, by)
    return is_owner(lead, by) or by.has_role(*MANAGERS)


def _check_actor(lead: Lead, by: Principal) -> None:
    if not may_act_on(lead, by):
        raise NotOwner()


# --- Accept ---------------------------------------------------------------------------


@transaction.atomic
def accept_lead(*, lead: Lead, by: Principal) -> Lead:
    """The owner accepts the lead (SAL). After the window it is still accepted, breach kept."""
    _check_actor(lead, by)
    if lead.rep_id is None and lead.partner_id is None:
        raise RuleViolation(
            field="lead",
            code="no_owner",
            message="This lead has no owner; a manager gives it to someone first.",
        )
    now = timezone.now()
    moved = stages.move(
        lead,
        LeadStage.ACCEPTED,
        by=by,
        reason="accepted",
        also={"accepted_at": now},
        only_from=[LeadStage.AWAITING_ACCEPTANCE],
        machine_name=lead_stages.MACHINE,
    )
    if not moved:
        if lead.is_open:
            raise RuleViolation(
                field="stage",
                code="already_accepted",
                conflict=True,
                message=f"This lead is accepted already ({lead.get_stage_display()}).",
            )
        raise closed_conflict(lead)
    late = lead.acceptance_due_at is not None and now > lead.acceptance_due_at
    invite_accepting_partner(lead)
    webhook_events.accepted(lead)
    record_audit(
        action="lead.accepted",
        obj=lead,
        before={"stage": LeadStage.AWAITING_ACCEPTANCE.value},
        after={
            "stage": LeadStage.ACCEPTED.value,
            "late": late,
            "breached_at": lead.breached_at.isoformat() if lead.breached_at else None,
        },
        by=by,
    )
    return lead


# --- Reject ---------------------------------------------------------------------------


@transaction.atomic
def reject_lead(*, lead: Lead, kind: str, reason: str = "", by: Principal) -> Lead:
    """Reject a lead awaiting acceptance as ``not_a_lead`` or ``cannot_serve``.

    ``not_a_lead`` needs a reason; the lead closes as rejected and the person
    returns to nurture. ``cannot_serve`` leaves the lead awaiting acceptance
    and routes it to another owner (none eligible: no owner, the managers are
    told); its reason is kept on the lead.
    """
    if kind not in RejectKind.values:
        raise RuleViolation(
            field="kind",
            code="invalid",
            message="The kind is not_a_lead (back to marketing) or cannot_serve "
            "(another owner, please).",
        )
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise RuleViolation(
            field="reason", code="too_long", message=f"At most {MAX_REASON_LENGTH} characters."
        )
    if kind == RejectKind.NOT_A_LEAD and not reason:
        raise RuleViolation(
            field="reason",
            code="required",
            message="Say why this is not a lead: marketing reads it before nurturing them again.",
        )
    _check_actor(lead, by)
    if not lead.is_open:
        raise closed_conflict(lead)
    if lead.stage != LeadStage.AWAITING_ACCEPTANCE:
        raise RuleViolation(
            field="kind",
            code="accepted_already",
            message="An accepted lead is not rejected: close it as lost or postponed, "
            "or ask a manager to give it to someone else.",
        )
    if kind == RejectKind.NOT_A_LEAD:
        close_as(
            lead,
            LeadStage.REJECTED,
            by=by,
            reason=reason,
            also={"reject_kind": kind, "reject_reason": reason},
            action="lead.rejected",
        )
        inquiry = Inquiry.objects.select_for_update().get(pk=lead.inquiry_id)
        handover.return_to_nurture(inquiry=inquiry, reason=f"not a lead: {reason}", by=by)
        return lead
    if lead.rep_id is None and lead.partner_id is None:
        raise RuleViolation(
            field="lead",
            code="no_owner",
            conflict=True,
            message="This lead has no owner already; a manager gives it to someone.",
        )
    owner_before = {"rep": lead.rep_id, "partner": lead.partner_id}
    # Routed again, skipping this owner and anyone who gave it up before; nobody left:
    # no owner, and the managers are told.
    route_leads(leads=[lead], kind=AssignmentKind.CANNOT_SERVE, by=by)
    Lead.objects.filter(pk=lead.pk).update(reject_kind=kind, reject_reason=reason)
    lead.reject_kind, lead.reject_reason = kind, reason
    record_audit(
        action="lead.rejected",
        obj=lead,
        before=owner_before,
        after={
            "kind": kind,
            "reason": reason,
            "stage": lead.stage,
            "rep": lead.rep_id,
            "partner": lead.partner_id,
        },
        by=by,
    )
    return lead


# --- Qualify --------------------------------------------------------------------------


@transaction.atomic
def qualify_lead(
    *,
    lead: Lead,
    budget: str,
    authority: str,
    need: str,
    timeline: str,
    by: Principal,
) -> Lead:
    """Accepted → SQL with budget, authority, need and timeline, each required."""
    values = {
        "budget": (budget or "").strip(),
        "authority": (authority or "").strip(),
        "need": (need or "").strip(),
        "timeline": (timeline or "").strip(),
    }
    for name, value in values.items():
        if not value:
            raise RuleViolation(
                field=name,
                code="required",
                message=f"A sales-qualified lead needs its {name}.",
            )
        if len(value) > QUALIFY_LIMITS[name]:
            raise RuleViolation(
                field=name,
                code="too_long",
                message=f"At most {QUALIFY_LIMITS[name]} characters.",
            )
    _check_actor(lead, by)
    if not lead.is_open:
        raise closed_conflict(lead)
    if lead.stage == LeadStage.AWAITING_ACCEPTANCE:
        raise RuleViolation(
            field="stage",
            code="not_accepted",
            message="Accept the lead before qualifying it.",
        )
    if lead.stage == LeadStage.SQL:
        raise RuleViolation(
            field="stage",
            code="already_qualified",
            conflict=True,
            message="This lead is sales-qualified already.",
        )
    moved = stages.move(
        lead,
        LeadStage.SQL,
        by=by,
        reason="qualified",
        also={**values, "qualified_at": timezone.now()},
        only_from=[LeadStage.ACCEPTED],
        machine_name=lead_stages.MACHINE,
    )
    if not moved:  # changed meanwhile
        raise RuleViolation(
            field="stage",
            code="changed",
            conflict=True,
            message="This lead was changed meanwhile; reload it.",
        )
    record_audit(
        action="lead.qualified",
        obj=lead,
        before={"stage": LeadStage.ACCEPTED.value},
        after={"stage": LeadStage.SQL.value, **values},
        by=by,
    )
    return lead


# --- Next step ------------------------------------------------------------------------


@transaction.atomic
def set_next_step(*, lead: Lead, on: date | None, action: str, by: Principal) -> Lead:
    """Set the owner's next step (a date from today on, and an action), or clear it (neither)."""
    action = (action or "").strip()
    if on is None and action:
        raise RuleViolation(
            field="on", code="required", message="When is the next step? Give its date."
        )
    if on is not None and not action:
        raise RuleViolation(
            field="action", code="required", message="What is the next step? Say it briefly."
        )
    if len(action) > MAX_NEXT_STEP_LENGTH:
        raise RuleViolation(
            field="action", code="too_long", message=f"At most {MAX_NEXT_STEP_LENGTH} characters."
        )
    if on is not None and on < tenant_today(by):
        raise RuleViolation(
            field="on", code="past", message="The next step is today or later, not in the past."
        )
    _check_actor(lead, by)
    if not lead.is_open:
        raise closed_conflict(lead)
    before = {
        "next_step_on": lead.next_step_on.isoformat() if lead.next_step_on else None,
        "next_step": lead.next_step,
    }
    lead.next_step_on, lead.next_step = on, action
    lead.save(update_fields=["next_step_on", "next_step"])
    record_audit(
        action="lead.next_step_set",
        obj=lead,
        before=before,
        after={"next_step_on": on.isoformat() if on else None, "next_step": action},
        by=by,
    )
    return lead


# --- The acceptance window's scan -----------------------------------------------------


@dataclass(frozen=True)
class BreachScan:
    breached: list[int]
    alerts: int


def scan_acceptance_breaches(*, now: datetime | None = None, alert: bool = True) -> BreachScan:
    """Mark the current tenant's awaiting leads whose acceptance window lapsed; alert managers.

    Set-based: one locking select of the lapsed leads, one ``UPDATE``, one
    insert of their audit rows, and one email per manager listing them (the
    key makes a repeated scan of the same leads add nothing). A lead breached
    once is not breached again until a new owner gets a fresh window.
    """
    now = now or timezone.now()
    tenant = Tenant.objects.get(pk=require_tenant_id())
    with transaction.atomic():
        lapsed = list(
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                stage=LeadStage.AWAITING_ACCEPTANCE,
                acceptance_due_at__lt=now,
                breached_at__isnull=True,
            )
            .select_related("rep", "partner", "inquiry")
            .order_by("acceptance_due_at", "id")
        )
        if not lapsed:
            return BreachScan(breached=[], alerts=0)
        ids = [lead.pk for lead in lapsed]
        Lead.objects.filter(pk__in=ids).update(breached_at=now)
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    tenant=tenant,
                    actor=None,
                    actor_label="acceptance scan",
                    action="lead.acceptance_breached",
                    object_type=Lead._meta.label_lower,
                    object_id=str(lead.pk),
                    object_repr=str(lead)[:200],
                    before={"breached_at": None},
                    after={
                        "breached_at": now.isoformat(),
                        "acceptance_due_at": lead.acceptance_due_at.isoformat()
                        if lead.acceptance_due_at
                        else None,
                    },
                )
                for lead in lapsed
            ]
        )
        # The recall (``leads.services.routing.recall_leads``) sends its own alert.
        alerts = _alert_managers(tenant, lapsed, now) if alert else 0
    logger.info(
        "%s lead(s) breached their acceptance window",
        len(ids),
        extra={"tenant_id": tenant.pk},
    )
    return BreachScan(breached=ids, alerts=alerts)


def _owner_name(lead: Lead) -> str:
    if lead.rep is not None:
        return lead.rep.display_name
    if lead.partner is not None:
        return lead.partner.name
    return "nobody"


def _alert_managers(tenant: Tenant, lapsed: list[Lead], now: datetime) -> int:
    """One email per manager/admin listing the breached leads: name, company, owner, due."""
    managers = list(
        Membership.objects.filter(
            role__in=MANAGERS, partner__isnull=True, is_active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("id")
    )
    if not managers:
        return 0
    tz = times.zone(tenant.timezone)
    digest = hashlib.sha256(",".join(str(lead.pk) for lead in lapsed).encode()).hexdigest()[:16]
    lines = []
    for lead in lapsed:
        person = lead.inquiry.display_name
        company = f" ({lead.inquiry.company})" if lead.inquiry.company else ""
        due = lead.acceptance_due_at.astimezone(tz) if lead.acceptance_due_at else now
        lines.append(
            f"- {person}{company}: {_owner_name(lead)}, due {due:%a %d %b %H:%M} (lead {lead.pk})"
        )
    count = len(lapsed)
    noun = "lead was" if count == 1 else "leads were"
    text = (
        f"{count} {noun} not accepted within the acceptance window:\n\n"
        + "\n".join(lines)
        + "\n\nOpen LeadFlow to remind their owners or give them to someone else.\n"
    )
    local_day = now.astimezone(tz).date().isoformat()
    sent = 0
    for membership in managers:
        try:
            outbox.enqueue(
                kind="email",
                key=f"lead-breach:{local_day}:{membership.user_id}:{digest}",
                recipient=membership.user.email,
                payload={
                    "subject": f"{tenant.name}: {count} {noun.split()[0]} not accepted in time",
                    "text": text,
                },
                cause=("lead-breach", local_day),
            )
            sent += 1
        except ValueError as refused:
            logger.warning("no breach alert to member %s (%s)", membership.pk, refused)
    return sent


# --- Postponed leads coming back ------------------------------------------------------


@dataclass(frozen=True)
class Returned:
    to_owner: list[int]
    to_nurture: list[int]
    left: list[int]


def _open_lead_of_same_person() -> Exists:
    return Exists(
        Lead.objects.filter(inquiry_id=OuterRef("inquiry_id"))
        .exclude(pk=OuterRef("pk"))
        .exclude(stage__in=[str(stage) for stage in CLOSED_STAGES])
    )


def return_postponed_leads(*, today: date | None = None) -> Returned:
    """Bring the current tenant's postponed leads whose date came back (idempotent).

    Back into the owner's week as accepted (``assigned_at`` now, so the first
    week may be exempt as for any new lead), or — when the tenant says so —
    the person to nurture, the lead staying postponed with its date cleared.
    A person booked again meanwhile keeps their new lead: the postponed one
    stays as it is, logged.
    """
    tenant = Tenant.objects.get(pk=require_tenant_id())
    by = Principal.system(tenant, "postponement return")
    today = today or tenant_today(by)
    due = Lead.objects.filter(stage=LeadStage.POSTPONED, postponed_until__lte=today)
    left = list(due.filter(_open_lead_of_same_person()).values_list("pk", flat=True))
    for pk in left:
        logger.info(
            "postponed lead %s stays postponed: the person has an open lead",
            pk,
            extra={"tenant_id": tenant.pk, "lead_id": pk},
        )
    ready = due.exclude(pk__in=left)
    if lead_settings().postponed_to_nurture:
        return Returned(to_owner=[], to_nurture=_to_nurture(ready, by), left=left)
    ids = list(ready.values_list("pk", flat=True))
    if not ids:
        return Returned(to_owner=[], to_nurture=[], left=left)
    moved = _back_to_owner(ids, by)
    return Returned(to_owner=moved, to_nurture=[], left=[*left, *sorted(set(ids) - set(moved))])


def _back_to_owner(ids: list[int], by: Principal) -> list[int]:
    now = timezone.now()
    also: dict[str, Any] = {"closed_at": None, "postponed_until": None, "assigned_at": now}

    def move(batch: list[int]) -> list[int]:
        with transaction.atomic():
            stages.move_many(
                lead_stages.MACHINE,
                batch,
                LeadStage.ACCEPTED,
                by=by,
                reason="postponement date reached",
                also=also,
                only_from=[LeadStage.POSTPONED],
            )
            moved = list(
                Lead.objects.filter(pk__in=batch, stage=LeadStage.ACCEPTED, assigned_at=now)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            AuditEvent.objects.bulk_create(
                [
                    AuditEvent(
                        tenant=by.tenant,
                        actor=None,
                        actor_label=by.label,
                        action="lead.postponement_returned",
                        object_type=Lead._meta.label_lower,
                        object_id=str(pk),
                        object_repr=f"lead {pk} (accepted)",
                        before={"stage": LeadStage.POSTPONED.value},
                        after={"stage": LeadStage.ACCEPTED.value},
                    )
                    for pk in moved
                ]
            )
            return moved

    try:
        return move(ids)
    except IntegrityError:
        # A person booked again between the check and the move: one at a time, skip theirs.
        moved: list[int] = []
        for pk in ids:
            try:
                moved += move([pk])
            except IntegrityError:
                logger.info("postponed lead %s stays postponed: the person has an open lead", pk)
        return moved


def _to_nurture(ready: Any, by: Principal) -> list[int]:
    returned = []
    for lead in ready.order_by("pk"):
        with transaction.atomic():
            inquiry = Inquiry.objects.select_for_update().get(pk=lead.inquiry_id)
            handover.return_to_nurture(inquiry=inquiry, reason="postponement date reached", by=by)
            Lead.objects.filter(pk=lead.pk).update(postponed_until=None)
            record_audit(
                action="lead.postponement_to_nurture",
                obj=lead,
                before={"postponed_until": lead.postponed_until.isoformat()},
                after={"postponed_until": None, "inquiry_stage": inquiry.stage},
                by=by,
            )
        returned.append(lead.pk)
    return returned
