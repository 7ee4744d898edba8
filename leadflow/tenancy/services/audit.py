"""The audit trail: every service writes its row with ``record_audit``."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

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
