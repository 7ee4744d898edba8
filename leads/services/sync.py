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
the touches (when there are any), then one statement (``WRITE_SQL``,
data-modifying CTEs over arrays) for the ``INSERT`` of the updates, the
``UPDATE`` of the leads' reported weeks and the call's one ``leads.sync``
audit row. The update rows are the per-lead record (the timeline reads them);
the audit row names the call: the count, the leads, the updates and the
touches, in the items' order (as routing's one ``routing.run`` row a run).
The single path (``record_weekly_update``) still writes its
``lead.weekly_update`` row a lead. An item that closes its lead (won, lost, postponed)
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

from leadflow.lib import times
from leadflow.lib.instances import loaded
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leads.models import Lead, UpdateStatus
from leads.selectors.leads import lead_list
from leads.selectors.weekly import current_week
from leads.services.lifecycle import set_next_step
from leads.services.touches import CheckedTouch, works_lead
from leads.services.updates import (
    CheckedUpdate,
    check_update,
    check_update_touch,
    mark_reported,
    record_weekly_update,
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
    batch = _Batch(by=by, this_week=current_week(times.zone(by.tenant.timezone)))
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
    ids = sorted({item.lead for item in items})
    leads = lead_list(principal=by).select_related(None)
    if connection.vendor == "postgresql":
        # ``id = ANY(array)``: one parameter, where ``pk__in`` prepares and binds 1,000 (~3 ms).
        leads = leads.extra(where=[f'"{Lead._meta.db_table}"."id" = ANY(%s)'], params=[ids])
    else:
        # SQLite (``make run``) has no ``ANY`` nor arrays.
        leads = leads.filter(pk__in=ids)
    leads = leads.order_by("pk").select_for_update(of=("self",))
    found: dict[int, Lead] = {}
    arrived: dict[int, datetime] = {}
    db = connection.alias
    if touches:
        for *values, created_at in leads.values_list(*LEAD_FIELDS, "inquiry__created_at"):
            found[values[0]] = loaded(Lead, LEAD_FIELDS, values, db=db)
            arrived[values[0]] = created_at
    else:
        for values in leads.values_list(*LEAD_FIELDS):
            found[values[0]] = loaded(Lead, LEAD_FIELDS, values, db=db)
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
    # The current week in the tenant's zone: the clock read once for every item.
    this_week: date | None = None

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
                this_week=self.this_week,
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
        """The accepted items' touches (one ``INSERT``), then one statement for the rest.

        ``WRITE_SQL``: the updates' ``INSERT``, the leads' reported weeks'
        ``UPDATE`` and the sync's one ``leads.sync`` audit row (``sync_audit``),
        from arrays, in one round trip.
        """
        if not self.accepted:
            return []
        by, tenant_id = self.by, self.by.tenant.pk
        user_id = by.user.pk if by.user is not None else None
        partner_id = by.partner.pk if by.partner is not None else None
        touches = self._insert_touches(tenant_id, user_id, partner_id)
        accepted = self.accepted
        updates = [a.update for a in accepted]
        params: dict[str, Any] = {
            "tenant": tenant_id,
            "now": timezone.now(),
            "user": user_id,
            "partner": partner_id,
            "leads": [a.lead.pk for a in accepted],
            "weeks": [u.week for u in updates],
            "statuses": [u.status for u in updates],
            "notes": [u.note for u in updates],
            "touches": [touches.get(n) for n in range(len(accepted))],
            "lates": [u.late for u in updates],
            "marked": list(self.reported),
            "last_weeks": [week for week, _ in self.reported.values()],
            "masks": [mask for _, mask in self.reported.values()],
            "actor_id": user_id,
            "actor": by.label[:200],
            "object_type": by.tenant._meta.label_lower,
            "object_id": str(tenant_id),
            "object_repr": str(by.tenant)[:200],
        }
        with connection.cursor() as cursor:
            cursor.execute(WRITE_SQL, params)
            ids = [pk for (pk,) in cursor.fetchall()]
        return [
            SyncOutcome(index=a.item.index, lead=a.item.lead, update_id=pk)
            for a, pk in zip(accepted, ids, strict=True)
        ]

    def _insert_touches(
        self, tenant_id: int, user_id: int | None, partner_id: int | None
    ) -> dict[int, int]:
        """One INSERT of the accepted items' touches; position among the accepted → its id."""
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
        return dict(zip(positions, ids, strict=True))


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

# The updates, the leads' reported weeks and the sync's audit row, in one statement. The
# updates' ids follow the items' order (``ORDER BY v.n``: the sequence hands them out in
# that order), so ``ORDER BY id`` returns them in it.
WRITE_SQL = """
WITH inserted AS (
    INSERT INTO leads_weeklyupdate (
        tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
    SELECT %(tenant)s, v.lead_id, v.week, v.status, v.note, v.touch_id, %(user)s,
        %(partner)s, v.late, %(now)s
    FROM unnest(%(leads)s::bigint[], %(weeks)s::date[], %(statuses)s::text[],
                %(notes)s::text[], %(touches)s::bigint[], %(lates)s::boolean[])
        WITH ORDINALITY AS v(lead_id, week, status, note, touch_id, late, n)
    ORDER BY v.n
    RETURNING id, lead_id, touch_id
), marked AS (
    UPDATE leads_lead AS l SET last_update_week = r.week, reported_weeks = r.mask
    FROM unnest(%(marked)s::bigint[], %(last_weeks)s::date[], %(masks)s::bigint[])
        AS r(id, week, mask)
    WHERE l.tenant_id = %(tenant)s AND l.id = ANY(%(marked)s::bigint[]) AND l.id = r.id
), audited AS (
    INSERT INTO tenancy_auditevent (
        tenant_id, actor_id, actor_label, action, object_type, object_id, object_repr,
        before, after, created_at)
    SELECT %(tenant)s, %(actor_id)s, %(actor)s, 'leads.sync', %(object_type)s, %(object_id)s,
        %(object_repr)s, NULL,
        jsonb_build_object(
            'count', count(*),
            'leads', jsonb_agg(i.lead_id ORDER BY i.id),
            'updates', jsonb_agg(i.id ORDER BY i.id),
            'touches', coalesce(
                jsonb_agg(i.touch_id ORDER BY i.id) FILTER (WHERE i.touch_id IS NOT NULL),
                '[]'::jsonb)),
        %(now)s
    FROM inserted AS i
)
SELECT id FROM inserted ORDER BY id
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
