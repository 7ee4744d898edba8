"""Partner compliance enforced: partners who stop reporting stop receiving leads.

:func:`enforce_partner_compliance` runs hourly per tenant (``leads.tasks``) on
what ``leads.selectors.compliance.partner_compliance`` reads, with K the
tenant's ``suspend_after_weeks``:

- **warning**: an active partner with K−1 missed weeks (K ≥ 2) not warned this
  ISO week gets ``warned_at`` and one email (its contact address and its
  active users) listing the leads to report, with links, and the deadline
  (Friday 17:00 tenant time);
- **suspension**: an active partner with K or more missed weeks is suspended
  by the rule (``suspend_partner(by_rule=True)``, audited with the reason),
  emailed the leads to report and, when ``recall_on_suspension`` is on, has
  its open leads (not those protected by a deal registration) recalled
  through ``route_leads(kind=PARTNER_SUSPENDED)``. A manager who reactivates a
  partner by hand is heard: the rule does not suspend it again in the same week;
- **reinstatement**: a partner suspended by the rule with no missed week left
  (its backlog reported, late updates count) is reactivated, audited and
  emailed. A partner suspended by hand is never reinstated by the rule.

The tenant's managers (admins and managers) get one summary email per run
that suspended or reinstated someone. The run acts the same whenever it
runs within a week; every email's outbox key carries the ISO week, so a
rerun sends nothing twice (and finds nothing to change).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow import outbox
from leadflow.lib import times, weeks
from leadflow.lib.rules import RuleViolation
from leadflow.outbox.models import WebhookEvent
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import AuditEvent, Membership, Partner, PartnerStatus, Tenant
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import reactivate_partner, suspend_partner
from leads.models import CLOSED_STAGES, AssignmentKind, Lead
from leads.selectors.compliance import Compliance, partner_compliance
from leads.selectors.settings import lead_settings
from leads.selectors.weekly import current_week
from leads.services import webhook_events

logger = logging.getLogger(__name__)

CAUSE = "partner-compliance"
SYSTEM_LABEL = "compliance"
REINSTATED_REASON = "Backlog reported: no missed weeks left"


@dataclass
class Result:
    """What one run did: partner ids warned, suspended, reinstated; lead ids recalled."""

    warned: list[int] = field(default_factory=list)
    suspended: list[int] = field(default_factory=list)
    reinstated: list[int] = field(default_factory=list)
    recalled: list[int] = field(default_factory=list)


@dataclass
class _Context:
    tenant: Tenant
    tz: object
    week_label: str
    by: Principal
    people: dict[int, list[tuple[str, str]]]
    buyers: dict[int, str]


def enforce_partner_compliance(*, now: datetime | None = None) -> Result:
    """Warn, suspend and reinstate the current tenant's partners by the reporting rule."""
    now = now or timezone.now()
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    week = current_week(tz, now)
    label = weeks.week_label(week)
    rules = lead_settings()
    after = rules.suspend_after_weeks
    standing = partner_compliance(now=now)
    partners = {partner.pk: partner for partner in Partner.objects.filter(pk__in=list(standing))}
    week_start = weeks.week_bounds(week, tz)[0]
    by = Principal.system(tenant, SYSTEM_LABEL)
    to_warn, to_suspend, to_reinstate = [], [], []
    held = _reactivated_by_hand(week_start, by)
    for partner_id, found in standing.items():
        partner = partners[partner_id]
        missed = len(found.missing_weeks)
        if partner.status == PartnerStatus.ACTIVE:
            if missed >= after and partner_id not in held:
                to_suspend.append((partner, found))
            elif 1 <= after - 1 <= missed and not _warned_in(partner, week_start):
                to_warn.append((partner, found))
        elif partner.suspended_by_rule and missed == 0:
            to_reinstate.append((partner, found))
    result = Result()
    if not (to_warn or to_suspend or to_reinstate):
        return result
    acting = [partner for partner, _ in to_warn + to_suspend + to_reinstate]
    leads = {lead for _, found in to_warn + to_suspend for lead in found.missing_leads}
    context = _Context(
        tenant=tenant,
        tz=tz,
        week_label=label,
        by=by,
        people=_partner_people(acting),
        buyers=_buyers(leads),
    )
    for partner, found in to_warn:
        with transaction.atomic():
            _warn(partner, found, now=now, context=context)
        result.warned.append(partner.pk)
    suspended: list[tuple[Partner, Compliance]] = []
    for partner, found in to_suspend:
        try:
            with transaction.atomic():
                recalled = _suspend(
                    partner, found, recall=rules.recall_on_suspension, context=context
                )
        except RuleViolation as refused:  # a person suspended it meanwhile: theirs stands
            logger.info("partner %s not suspended by the rule (%s)", partner.pk, refused.message)
            continue
        suspended.append((partner, found))
        result.suspended.append(partner.pk)
        result.recalled += recalled
    reinstated: list[Partner] = []
    for partner, _found in to_reinstate:
        try:
            with transaction.atomic():
                _reinstate(partner, context=context)
        except RuleViolation as refused:  # a person reactivated it meanwhile
            logger.info("partner %s not reinstated by the rule (%s)", partner.pk, refused.message)
            continue
        reinstated.append(partner)
        result.reinstated.append(partner.pk)
    if result.suspended or result.reinstated:
        with transaction.atomic():
            _summarise(suspended, reinstated, result, context=context)
    logger.info(
        "compliance: %s warned, %s suspended, %s reinstated, %s leads recalled",
        len(result.warned),
        len(result.suspended),
        len(result.reinstated),
        len(result.recalled),
        extra={"tenant_id": tenant.pk},
    )
    return result


# --- Deciding ---------------------------------------------------------------------------


def _warned_in(partner: Partner, week_start: datetime) -> bool:
    return partner.warned_at is not None and partner.warned_at >= week_start


def _reactivated_by_hand(week_start: datetime, by: Principal) -> set[int]:
    """Partners a person reactivated this week: the rule leaves them alone until next week."""
    ids = (
        AuditEvent.objects.filter(
            action="partner.reactivated",
            object_type=Partner._meta.label_lower,
            created_at__gte=week_start,
        )
        .exclude(actor_label=by.label)
        .values_list("object_id", flat=True)
    )
    return {int(pk) for pk in ids}


# --- Acting -----------------------------------------------------------------------------


def _warn(partner: Partner, found: Compliance, *, now: datetime, context: _Context) -> None:
    Partner.objects.filter(pk=partner.pk).update(warned_at=now)
    deadline = times.shown(found.report_by, context.tz)  # type: ignore[arg-type]
    count = len(found.missing_weeks)
    subject = (
        f"{context.tenant.name}: {count} week{'s' if count != 1 else ''} of updates missing "
        f"— report by {deadline} or new leads pause"
    )
    text = (
        f"{found.reason}.\n\nReport these leads by {deadline}, or {context.tenant.name} "
        f"pauses new leads to {partner.name} until they are reported:\n\n"
        f"{_lead_lines(found.missing_leads, context)}\n\n{_my_week_line()}"
    )
    _email_partner(partner, "warning", subject, text, context=context)
    webhook_events.partner_standing(
        partner, WebhookEvent.PARTNER_WARNING, reason=found.reason, key=context.week_label
    )


def _suspend(partner: Partner, found: Compliance, *, recall: bool, context: _Context) -> list[int]:
    from leads.services.routing import route_leads

    suspend_partner(partner=partner, by=context.by, reason=found.reason, by_rule=True)
    recalled: list[int] = []
    if recall:
        now = timezone.now()
        open_leads = list(
            Lead.objects.filter(partner_id=partner.pk)
            .exclude(stage__in=[str(stage) for stage in CLOSED_STAGES])
            .filter(Q(protected_until__isnull=True) | Q(protected_until__lte=now))
            .only("pk")
            .order_by("pk")
        )
        assignments = route_leads(
            leads=open_leads, kind=AssignmentKind.PARTNER_SUSPENDED, by=context.by
        )
        recalled = [assignment.lead_id for assignment in assignments]
    subject = f"{context.tenant.name}: new leads to {partner.name} are paused"
    recall_line = (
        f"\n{len(recalled)} open lead{'s were' if len(recalled) != 1 else ' was'} "
        "given to other owners.\n"
        if recalled
        else ""
    )
    text = (
        f"{context.tenant.name} has paused new leads to {partner.name}. {found.reason}.\n"
        f"{recall_line}\nReport these leads and new leads resume by themselves within the "
        f"hour:\n\n{_lead_lines(found.missing_leads, context)}\n\n{_my_week_line()}"
    )
    _email_partner(partner, "suspended", subject, text, context=context)
    webhook_events.partner_standing(
        partner, WebhookEvent.PARTNER_SUSPENDED, reason=found.reason, key=context.week_label
    )
    return recalled


def _reinstate(partner: Partner, *, context: _Context) -> None:
    reactivate_partner(partner=partner, by=context.by, reason=REINSTATED_REASON)
    subject = f"{context.tenant.name}: new leads to {partner.name} resume"
    text = (
        f"Thank you: every missed weekly update of {partner.name} is reported, so "
        f"{context.tenant.name} sends it new leads again.\n\n{_my_week_line()}"
    )
    _email_partner(partner, "reinstated", subject, text, context=context)
    webhook_events.partner_standing(
        partner, WebhookEvent.PARTNER_REINSTATED, reason=REINSTATED_REASON, key=context.week_label
    )


def _summarise(
    suspended: list[tuple[Partner, Compliance]],
    reinstated: list[Partner],
    result: Result,
    *,
    context: _Context,
) -> None:
    """One email to every active admin and manager listing this run's changes."""
    lines = [f"- Suspended: {partner.name} — {found.reason}" for partner, found in suspended]
    if result.recalled:
        lines.append(f"- Open leads recalled and routed again: {len(result.recalled)}")
    lines += [f"- Reinstated: {partner.name} — {REINSTATED_REASON}" for partner in reinstated]
    text = (
        "The reporting rule changed these partners' standing "
        f"({context.week_label}):\n\n" + "\n".join(lines) + f"\n\nPartners: {_site()}/partners/\n"
    )
    subject = (
        f"{context.tenant.name}: partner compliance — {len(suspended)} suspended, "
        f"{len(reinstated)} reinstated"
    )
    # The run's changes name the message: the same changes in the same week are one email.
    changes = ",".join(
        [f"s{partner.pk}" for partner, _ in suspended] + [f"r{p.pk}" for p in reinstated]
    )
    digest = hashlib.sha256(changes.encode()).hexdigest()[:16]
    managers = (
        Membership.objects.filter(
            role__in=MANAGERS, partner__isnull=True, is_active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("id")
    )
    for membership in managers:
        _enqueue(
            key=f"compliance:summary:{context.week_label}:{digest}:{membership.user_id}",
            recipient=membership.user.email,
            subject=subject,
            text=f"Hello {membership.user.display_name},\n\n{text}",
            context=context,
        )


# --- Emails -----------------------------------------------------------------------------


def _partner_people(partners: Iterable[Partner]) -> dict[int, list[tuple[str, str]]]:
    """(email, name) per partner: its contact address and its active users, one query."""
    people: dict[int, list[tuple[str, str]]] = defaultdict(list)
    ids = []
    for partner in partners:
        ids.append(partner.pk)
        if partner.contact_email:
            people[partner.pk].append((partner.contact_email, partner.name))
    members = (
        Membership.objects.filter(partner_id__in=ids, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
    )
    for membership in members:
        known = {email.lower() for email, _ in people[membership.partner_id]}
        if membership.user.email and membership.user.email.lower() not in known:
            people[membership.partner_id].append(
                (membership.user.email, membership.user.display_name)
            )
    return people


def _buyers(lead_ids: set[int]) -> dict[int, str]:
    """``Pat Buyer (Acme)`` per lead: the buyer and company, never the score or notes."""
    rows = Lead.objects.filter(pk__in=sorted(lead_ids)).values_list(
        "pk",
        "inquiry__first_name",
        "inquiry__last_name",
        "inquiry__email",
        "inquiry__phone",
        "inquiry__external_id",
        "inquiry__company",
    )
    buyers = {}
    for pk, first, last, email, phone, external_id, company in rows:
        person = SimpleNamespace(
            first_name=first, last_name=last, email=email, phone=phone, external_id=external_id
        )
        name = Inquiry.display_name.fget(person)  # type: ignore[attr-defined]
        buyers[pk] = f"{name} ({company})" if company else name
    return buyers


def _site() -> str:
    return getattr(settings, "SITE_URL", "") or ""


def _lead_lines(lead_ids: list[int], context: _Context) -> str:
    return "\n".join(
        f"- {context.buyers.get(pk, f'Lead {pk}')}: {_site()}/leads/{pk}/" for pk in lead_ids
    )


def _my_week_line() -> str:
    return f"Report them in My week: {_site()}/leads/week/\n"


def _email_partner(
    partner: Partner, event: str, subject: str, text: str, *, context: _Context
) -> None:
    for email, name in context.people.get(partner.pk, []):
        _enqueue(
            key=f"compliance:{event}:{context.week_label}:partner:{partner.pk}:{email.lower()}",
            recipient=email,
            subject=subject,
            text=f"Hello {name},\n\n{text}",
            context=context,
        )


def _enqueue(*, key: str, recipient: str, subject: str, text: str, context: _Context) -> None:
    try:
        outbox.enqueue(
            kind="email",
            key=key[:255],
            recipient=recipient,
            payload={"subject": subject, "text": text},
            cause=(CAUSE, context.week_label),
        )
    except ValueError as refused:
        logger.warning("no compliance email %s (%s)", key, refused)
