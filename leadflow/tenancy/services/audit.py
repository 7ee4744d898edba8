"""The audit trail: every service writes its row with ``record_audit``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils.timezone import now

from leadflow.tenancy.models import AuditEvent
from leadflow.tenancy.principal import Principal


def record_audit(
    *,
    action: str,
    obj: Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    by: Principal,
) -> AuditEvent:
    """Write the audit row for a change; call it inside the change's transaction."""
    return AuditEvent.objects.create(
        tenant=by.tenant,
        actor=by.user,
        actor_label=by.label[:200],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
    )


@dataclass(frozen=True)
class AuditEntry:
    """One row for ``record_audits``: what ``record_audit`` takes, but ``by``."""

    action: str
    obj: Model
    after: dict[str, Any] | None = None
    before: dict[str, Any] | None = None


INSERT_AUDITS_SQL = """
INSERT INTO tenancy_auditevent (
    tenant_id, actor_id, actor_label, action, object_type, object_id, object_repr,
    before, after, created_at)
SELECT %(tenant)s, %(actor_id)s, %(actor)s, v.action, v.object_type, v.object_id,
    v.object_repr, v.before::jsonb, v.after::jsonb, %(now)s
FROM unnest(%(actions)s::text[], %(types)s::text[], %(ids)s::text[], %(reprs)s::text[],
            %(befores)s::text[], %(afters)s::text[]) WITH ORDINALITY
    AS v(action, object_type, object_id, object_repr, before, after, n)
ORDER BY v.n
"""


def record_audits(entries: Sequence[AuditEntry], *, by: Principal) -> None:
    """``record_audit`` for many changes at once: one ``INSERT`` on PostgreSQL, rows in order.

    The same rows ``record_audit`` writes, one ``created_at`` for all; elsewhere
    (the embedded SQLite of ``make run``) one ``record_audit`` an entry.
    """
    if not entries:
        return
    if connection.vendor != "postgresql":
        for entry in entries:
            record_audit(
                action=entry.action, obj=entry.obj, before=entry.before, after=entry.after, by=by
            )
        return
    encoder = AuditEvent._meta.get_field("after").encoder

    def dumped(value: dict[str, Any] | None) -> str | None:
        return None if value is None else json.dumps(value, cls=encoder)

    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_AUDITS_SQL,
            {
                "tenant": by.tenant.pk,
                "actor_id": by.user.pk if by.user is not None else None,
                "actor": by.label[:200],
                "now": now(),
                "actions": [entry.action for entry in entries],
                "types": [entry.obj._meta.label_lower for entry in entries],
                "ids": [str(entry.obj.pk) for entry in entries],
                "reprs": [str(entry.obj)[:200] for entry in entries],
                "befores": [dumped(entry.before) for entry in entries],
                "afters": [dumped(entry.after) for entry in entries],
            },
        )
