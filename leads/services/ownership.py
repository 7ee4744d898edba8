"""Who owns a lead — a rep or a partner — and every change of that owner.

One function changes the owner (:func:`change_owner`): a manager's reassign
(one lead or many), a ``cannot_serve`` rejection handing the lead back with no
owner, and later the router. The new owner gets the lead as if just booked
for them: ``assigned_at`` is now (their first week's update may be exempt),
and a lead still awaiting acceptance gets a fresh acceptance window and its
breach cleared. The appointment's rep is the lead's (read through it, not
stored twice), and a meeting still
ahead moves calendars with it: the old owner's invitation is cancelled and the
new owner invited, through the outbox. Audited.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from leadflow.lib import edits
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Partner, PartnerStatus, Tenant, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads.models import Appointment, Assignment, AssignmentKind, Lead, LeadStage
from leads.selectors.appointments import owner_people
from leads.services import webhook_events
from leads.services.booking import acceptance_due, check_rep
from leads.services.confirmations import enqueue_owner_change

MAX_LEADS_AT_ONCE = 500


def _check_partner(partner: Partner) -> None:
    if partner.status != PartnerStatus.ACTIVE:
        raise RuleViolation(
            field="partner",
            code="suspended",
            message=f"{partner.name} is suspended and receives no leads.",
        )


@transaction.atomic
def change_owner(
    *,
    lead: Lead,
    rep: User | None = None,
    partner: Partner | None = None,
    by: Principal,
    reason: str = "",
) -> bool:
    """Give ``lead`` to ``rep`` or ``partner`` (neither: no owner, for another to take).

    Returns whether the owner changed (the same owner again changes nothing).
    A closed lead is a conflict; a rep must be an active member who sells, a
    partner active.
    """
    if rep is not None and partner is not None:
        raise RuleViolation(
            field="rep", code="one_owner", message="A lead has one owner: a rep or a partner."
        )
    # Read the owner and stage again under a row lock: two managers reassigning the same
    # lead at once change it one after the other, each seeing the other's owner.
    list(Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk"))
    lead.refresh_from_db(fields=["rep", "partner", "stage"])
    if not lead.is_open:
        raise RuleViolation(
            field="lead",
            code="not_open",
            conflict=True,
            message=f"This lead is closed ({lead.get_stage_display()}); reopen it first.",
        )
    check_rep(rep)
    if partner is not None:
        _check_partner(partner)
    new_rep_id = rep.pk if rep is not None else None
    new_partner_id = partner.pk if partner is not None else None
    if (lead.rep_id, lead.partner_id) == (new_rep_id, new_partner_id):
        return False
    before = {"rep": lead.rep_id, "partner": lead.partner_id}
    now = timezone.now()
    lead.rep_id, lead.partner_id, lead.assigned_at = new_rep_id, new_partner_id, now
    fields = ["rep", "partner", "assigned_at"]
    if lead.stage == LeadStage.AWAITING_ACCEPTANCE:
        owned = rep is not None or partner is not None
        lead.acceptance_due_at = acceptance_due(now, by) if owned else None
        lead.breached_at = None
        fields += ["acceptance_due_at", "breached_at"]
    lead.save(update_fields=fields)
    edits.edited("lead", [lead.pk], fields)
    send_owner_invites(
        lead, old_rep_id=before["rep"], old_partner_id=before["partner"], new_rep=rep
    )
    webhook_events.owner_changed(lead, old_partner_id=before["partner"], reason=reason)
    record_audit(
        action="lead.reassigned",
        obj=lead,
        before=before,
        after={"rep": new_rep_id, "partner": new_partner_id, "reason": reason},
        by=by,
    )
    return True


def send_owner_invites(
    lead: Lead, *, old_rep_id: int | None, old_partner_id: int | None, new_rep: User | None
) -> None:
    """Cancel the old owner's calendar invitation and invite the new owner, through the outbox.

    Only for a meeting still ahead (not started, cancelled or marked): the
    sequence goes up by one, the old rep (or the old partner's contacts) get
    ``METHOD:CANCEL`` naming only them, the new one ``METHOD:REQUEST``. With
    no new owner (``cannot_serve``) only the cancellation goes out, and so with
    a partner offered the lead: it is invited once it accepts.
    """
    appointment = Appointment.objects.select_for_update().get(pk=lead.appointment_id)
    if (
        appointment.cancelled_at is not None
        or appointment.held_at is not None
        or appointment.no_show_at is not None
        or appointment.closed_at is not None
        or appointment.starts_at <= timezone.now()
    ):
        return
    tenant = Tenant.objects.get(pk=lead.tenant_id)
    old_rep = User.objects.filter(pk=old_rep_id).first() if old_rep_id is not None else None
    old_owners = owner_people(rep=old_rep, partner_id=old_partner_id, tenant=tenant)
    new_owners = owner_people(rep=new_rep, partner_id=lead.partner_id, tenant=tenant)
    if lead.partner_id is not None and lead.stage == LeadStage.AWAITING_ACCEPTANCE:
        # An offer: the invitation names the buyer, so the partner gets it on accepting
        # (invite_accepting_partner), not before.
        new_owners = []
    if not old_owners and not new_owners:
        return
    appointment.sequence += 1
    appointment.save(update_fields=["sequence"])
    enqueue_owner_change(
        appointment=appointment,
        partner_id=lead.partner_id,
        old_owners=old_owners,
        new_owners=new_owners,
    )


@transaction.atomic
def reassign_leads(
    *,
    lead_ids: Iterable[int],
    rep: User | None = None,
    partner: Partner | None = None,
    by: Principal,
) -> int:
    """A manager gives many leads to one owner; returns how many changed owner.

    All or nothing: one closed or unknown lead refuses the whole set (the
    error names it), so a manager never wonders which half went through.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        raise RuleViolation(field="leads", code="required", message="Choose at least one lead.")
    if len(ids) > MAX_LEADS_AT_ONCE:
        raise RuleViolation(
            field="leads",
            code="too_many",
            message=f"At most {MAX_LEADS_AT_ONCE} leads at once.",
        )
    if rep is None and partner is None:
        raise RuleViolation(
            field="rep", code="required", message="Choose the rep or the partner to give them to."
        )
    leads = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=ids)}
    unknown = [pk for pk in ids if pk not in leads]
    if unknown:
        raise RuleViolation(field="leads", code="not_found", message=f"No such lead: {unknown[0]}.")
    closed = [pk for pk in ids if not leads[pk].is_open]
    if closed:
        raise RuleViolation(
            field="leads",
            code="not_open",
            conflict=True,
            message=f"Lead {closed[0]} is closed; reopen it before giving it to someone.",
        )
    return sum(change_owner(lead=leads[pk], rep=rep, partner=partner, by=by) for pk in ids)


def invite_accepting_partner(lead: Lead) -> None:
    """A partner that accepted a lead it was offered gets the meeting's invitation now.

    Offers go out without it (the invitation names the buyer); a partner's own
    referral or registered deal was invited at booking and is not invited twice.
    """
    if lead.partner_id is None:
        return
    latest = Assignment.objects.filter(lead_id=lead.pk).order_by("-created_at", "-id").first()
    if latest is None or latest.kind in (AssignmentKind.REFERRAL, AssignmentKind.PROTECTED):
        return
    send_owner_invites(lead, old_rep_id=None, old_partner_id=None, new_rep=None)
