"""Bulk sync: many weekly updates (and touches, next steps) in one call, each on its own.

A partner's integration reports its week in one request instead of a
thousand: ``POST /api/v1/leads/sync/``. The leads named are read and locked
in one query among those the caller may see: a lead it may not see fails as
"not found", exactly like one that does not exist.

Progress updates (with a note and/or a touch) take the set-based path: each
item is checked in memory by the single endpoint's own checks
(``works_lead``, ``updates.check_update``, ``updates.check_update_touch``),
so a refused item says exactly what ``POST …/updates/`` would and writes
nothing; then the accepted items are written together — one ``INSERT`` of
the touches, one of the updates, one ``UPDATE`` of the leads' reported
weeks, one ``INSERT`` of the audit rows (``record_audits``), the same rows
the single path writes. An item that closes its lead (won, lost, postponed)
or sets a next step goes through the same services as the single endpoints
(``updates.record_weekly_update``, then ``lifecycle.set_next_step``) in a
savepoint of its own, and so does every other item of that lead, in order
(a close changes what its later items may do). Off PostgreSQL (the embedded
SQLite of ``make run``) every item takes that path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from leadflow.lib.instances import M, loaded
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services.audit import AuditEntry, record_audits
from leads.models import Lead, Touch, UpdateStatus
from leads.selectors.leads import lead_list
from leads.services.lifecycle import set_next_step
from leads.services.touches import CheckedTouch, touch_audit, works_lead
from leads.services.updates import (
    CheckedUpdate,
    check_update,
    check_update_touch,
    mark_reported,
    record_weekly_update,
    update_audit,
)

#: The most items one sync takes; more is refused whole (400 ``items``).
MAX_ITEMS = 1000
NOT_FOUND = "Not found."


@dataclass(frozen=True)
class SyncItem:
    """One item as validated: the lead's id, the update's fields, an optional next step.

    ``update`` holds ``record_weekly_update``'s keyword arguments (``status``,
    ``note``, ``touch``, ``value``, ``closed_on``, ``lost_reason``,
    ``postponed_until``, ``week``); ``next_step`` is ``{"on", "action"}``.
    """

    index: int
    lead: int
    update: Mapping[str, Any]
    next_step: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SyncOutcome:
    """What became of one item: its update's id, or why it was refused (``{field: [message]}``)."""

    index: int
    lead: int | None
    update_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.update_id is not None


def check_size(count: int) -> None:
    """400 on ``items`` for an empty sync or one over ``MAX_ITEMS``; nothing is written."""
    if count < 1:
        raise RuleViolation(field="items", code="required", message="Send at least one item.")
    if count > MAX_ITEMS:
        raise RuleViolation(
            field="items",
            code="too_many",
            message=f"At most {MAX_ITEMS} items per sync; this one has {count}. "
            "Send the rest in another request.",
        )


def sync_updates(*, items: Sequence[SyncItem], by: Principal) -> list[SyncOutcome]:
    """Record each item's update as ``by``; one outcome per item, in the items' order.

    Refused (400 ``items``) before anything is written when there are more
    than ``MAX_ITEMS`` (the API checks the request's count with ``check_size``,
    items of the wrong shape included). One query reads every lead named; then each item costs
    what its single ``POST …/updates/`` (and ``…/next-step/``) would.
    """
    if len(items) > MAX_ITEMS:
        check_size(len(items))
    if not items:
        return []
    set_based = connection.vendor == "postgresql"
    one_by_one = {item.lead for item in items if not set_based or _needs_services(item)}
    outcomes: dict[int, SyncOutcome] = {}
    batch = _Batch(by=by)
    with transaction.atomic():
        visible, arrived = _locked_leads(items, by, touches=any(_touch(item) for item in items))
        batch.arrived = arrived
        for item in items:
            lead = visible.get(item.lead)
            if lead is None or item.lead in one_by_one:
                outcomes[item.index] = _sync_one(item, lead, by)
            else:
                refused = batch.check(item, lead)
                if refused is not None:
                    outcomes[item.index] = refused
        for outcome in batch.write():
            outcomes[outcome.index] = outcome
    return [outcomes[item.index] for item in items]


# What the lock query reads of a lead: what the checks and the reported weeks need.
LEAD_FIELDS = (
    "id",
    "tenant_id",
    "stage",
    "rep_id",
    "partner_id",
    "inquiry_id",
    "assigned_at",
    "last_update_week",
    "reported_weeks",
)


def _locked_leads(
    items: Sequence[SyncItem], by: Principal, *, touches: bool
) -> tuple[dict[int, Lead], dict[int, datetime]]:
    """The named leads the caller may see, locked in id order, in one query.

    With ``touches``, each lead's inquiry's arrival too (``log_touch`` checks
    a touch's time against it). The leads are deferred instances loaded with
    ``LEAD_FIELDS`` only (``leadflow.lib.instances.loaded``), as ``.only()``
    makes them without ``__init__``'s pass over every field.
    """
    leads = (
        lead_list(principal=by)
        .select_related(None)
        .filter(pk__in={item.lead for item in items})
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    found: dict[int, Lead] = {}
    arrived: dict[int, datetime] = {}
    if touches:
        for *values, created_at in leads.values_list(*LEAD_FIELDS, "inquiry__created_at"):
            found[values[0]] = loaded(Lead, LEAD_FIELDS, values)
            arrived[values[0]] = created_at
    else:
        for values in leads.values_list(*LEAD_FIELDS):
            found[values[0]] = loaded(Lead, LEAD_FIELDS, values)
    return found, arrived


def _touch(item: SyncItem) -> Mapping[str, Any] | None:
    touch = item.update.get("touch")
    return touch or None


def _needs_services(item: SyncItem) -> bool:
    """Whether the item goes through the single endpoints' services (closes, or a next step)."""
    return item.next_step is not None or item.update.get("status") != UpdateStatus.PROGRESS


@dataclass
class _Accepted:
    item: SyncItem
    lead: Lead
    update: CheckedUpdate
    touch: CheckedTouch | None


@dataclass
class _Batch:
    """The progress items checked so far, written together by ``write``."""

    by: Principal
    accepted: list[_Accepted] = field(default_factory=list)
    # Each lead's (last_update_week, reported_weeks) as its accepted items leave them.
    reported: dict[int, tuple[date | None, int]] = field(default_factory=dict)
    # Each lead's inquiry's arrival (read when some item has a touch).
    arrived: dict[int, datetime] = field(default_factory=dict)

    def check(self, item: SyncItem, lead: Lead) -> SyncOutcome | None:
        """Check one item as ``record_weekly_update`` would; its refusal, or None (kept)."""
        if not works_lead(lead, self.by):
            return SyncOutcome(
                index=item.index,
                lead=item.lead,
                errors={"lead": ["Only the lead's owner or a manager reports on it."]},
            )
        touch = _touch(item)
        try:
            update = check_update(
                lead,
                status=item.update.get("status") or "",
                note=item.update.get("note") or "",
                touch=touch,
                week=item.update.get("week"),
                by=self.by,
            )
            checked_touch = (
                check_update_touch(
                    lead,
                    touch,
                    inquiry_created_at=self.arrived[lead.pk],
                    by=self.by,
                )
                if touch
                else None
            )
        except RuleViolation as refused:
            return SyncOutcome(
                index=item.index, lead=item.lead, errors={refused.field: [refused.message]}
            )
        self.accepted.append(_Accepted(item, lead, update, checked_touch))
        last_week, mask = self.reported.get(lead.pk, (lead.last_update_week, lead.reported_weeks))
        self.reported[lead.pk] = mark_reported(last_week, mask, update.week)
        return None

    def write(self) -> list[SyncOutcome]:
        """The accepted items' touches, updates, leads' weeks and audit rows: one statement each."""
        if not self.accepted:
            return []
        by, tenant_id = self.by, self.by.tenant.pk
        user_id = by.user.pk if by.user is not None else None
        partner_id = by.partner.pk if by.partner is not None else None
        now = timezone.now()
        touches = self._insert_touches(tenant_id, user_id, partner_id)
        with_touch = [touches.get(n) for n in range(len(self.accepted))]
        rows = [
            (
                tenant_id,
                accepted.lead.pk,
                accepted.update.week,
                accepted.update.status,
                accepted.update.note,
                touch.pk if touch is not None else None,
                user_id,
                partner_id,
                accepted.update.late,
                now,
            )
            for accepted, touch in zip(self.accepted, with_touch, strict=True)
        ]
        ids = _insert(INSERT_UPDATES_SQL, list(zip(*rows, strict=True))[1:-1], tenant_id, now)
        with connection.cursor() as cursor:
            cursor.execute(
                UPDATE_LEADS_SQL,
                {
                    "tenant": tenant_id,
                    "ids": list(self.reported),
                    "weeks": [week for week, _ in self.reported.values()],
                    "masks": [mask for _, mask in self.reported.values()],
                },
            )
        entries: list[AuditEntry] = []
        for accepted, touch in zip(self.accepted, with_touch, strict=True):
            if touch is not None:
                entries.append(AuditEntry("touch.logged", touch, touch_audit(touch)))
            entries.append(
                AuditEntry(
                    "lead.weekly_update",
                    accepted.lead,
                    update_audit(accepted.update, touch.pk if touch is not None else None),
                )
            )
        record_audits(entries, by=by)
        return [
            SyncOutcome(index=accepted.item.index, lead=accepted.item.lead, update_id=pk)
            for accepted, pk in zip(self.accepted, ids, strict=True)
        ]

    def _insert_touches(
        self, tenant_id: int, user_id: int | None, partner_id: int | None
    ) -> dict[int, Touch]:
        """One INSERT of the accepted items' touches; position among the accepted → touch."""
        positions = [n for n, accepted in enumerate(self.accepted) if accepted.touch is not None]
        if not positions:
            return {}
        rows = []
        for n in positions:
            accepted = self.accepted[n]
            touch = accepted.touch
            assert touch is not None
            rows.append(
                (
                    tenant_id,
                    accepted.lead.inquiry_id,
                    accepted.lead.pk,
                    user_id,
                    partner_id,
                    touch.kind,
                    touch.outcome,
                    touch.note,
                    touch.at,
                    touch.created_at,
                )
            )
        ids = _insert(INSERT_TOUCHES_SQL, list(zip(*rows, strict=True))[1:], tenant_id, None)
        return {
            n: _stored(Touch, (pk, *row)) for n, pk, row in zip(positions, ids, rows, strict=True)
        }


INSERT_TOUCHES_SQL = """
INSERT INTO leads_touch (
    tenant_id, inquiry_id, lead_id, user_id, partner_id, kind, outcome, note, at, created_at)
SELECT %(tenant)s, v.inquiry_id, v.lead_id, v.user_id, v.partner_id, v.kind, v.outcome, v.note,
    v.at, v.created_at
FROM unnest(%(c0)s::bigint[], %(c1)s::bigint[], %(c2)s::bigint[], %(c3)s::bigint[],
            %(c4)s::text[], %(c5)s::text[], %(c6)s::text[], %(c7)s::timestamptz[],
            %(c8)s::timestamptz[]) WITH ORDINALITY
    AS v(inquiry_id, lead_id, user_id, partner_id, kind, outcome, note, at, created_at, n)
ORDER BY v.n
RETURNING id
"""

INSERT_UPDATES_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
SELECT %(tenant)s, v.lead_id, v.week, v.status, v.note, v.touch_id, v.user_id, v.partner_id,
    v.late, %(now)s
FROM unnest(%(c0)s::bigint[], %(c1)s::date[], %(c2)s::text[], %(c3)s::text[],
            %(c4)s::bigint[], %(c5)s::bigint[], %(c6)s::bigint[], %(c7)s::boolean[])
    WITH ORDINALITY
    AS v(lead_id, week, status, note, touch_id, user_id, partner_id, late, n)
ORDER BY v.n
RETURNING id
"""

UPDATE_LEADS_SQL = """
UPDATE leads_lead AS l SET last_update_week = v.week, reported_weeks = v.mask
FROM unnest(%(ids)s::bigint[], %(weeks)s::date[], %(masks)s::bigint[]) AS v(id, week, mask)
WHERE l.tenant_id = %(tenant)s AND l.id = v.id
"""


def _insert(
    sql: str, columns: list[tuple[Any, ...]], tenant_id: int, now: datetime | None
) -> list[int]:
    """Run one of the INSERTs above with its columns as arrays; the new ids in the rows' order."""
    params: dict[str, Any] = {"tenant": tenant_id, "now": now}
    params.update({f"c{n}": list(column) for n, column in enumerate(columns)})
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def _stored(model: type[M], values: tuple[Any, ...]) -> M:
    """A stored instance from its concrete fields' values in their order."""
    return loaded(model, [f.attname for f in model._meta.concrete_fields], values)


def _sync_one(item: SyncItem, lead: Lead | None, by: Principal) -> SyncOutcome:
    if lead is None:
        return SyncOutcome(index=item.index, lead=item.lead, errors={"lead": [NOT_FOUND]})
    if item.next_step is not None and item.update.get("status") != UpdateStatus.PROGRESS:
        return SyncOutcome(
            index=item.index,
            lead=item.lead,
            errors={
                "next_step": [
                    "A next step goes with a progress update: won, lost and postponed "
                    "close the lead."
                ]
            },
        )
    try:
        if item.next_step is None:  # the service's own savepoint is the item's
            update = record_weekly_update(lead=lead, by=by, **item.update)
        else:
            with transaction.atomic():  # the update and the next step: both or neither
                update = record_weekly_update(lead=lead, by=by, **item.update)
                _next_step(update.lead, item.next_step, by)
    except RuleViolation as refused:
        return SyncOutcome(
            index=item.index, lead=item.lead, errors={refused.field: [refused.message]}
        )
    except PermissionDenied:
        return SyncOutcome(
            index=item.index,
            lead=item.lead,
            errors={"lead": ["Only the lead's owner or a manager reports on it."]},
        )
    return SyncOutcome(index=item.index, lead=item.lead, update_id=update.pk)


def _next_step(lead: Lead, next_step: Mapping[str, Any], by: Principal) -> None:
    try:
        set_next_step(
            lead=lead, on=next_step.get("on"), action=next_step.get("action") or "", by=by
        )
    except RuleViolation as refused:
        raise RuleViolation(
            field=f"next_step.{refused.field}",
            code=refused.code,
            message=refused.message,
            conflict=refused.conflict,
        ) from None
