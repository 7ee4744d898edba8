"""The tenant's lead rules, with the defaults a tenant that never changed them gets."""

from __future__ import annotations

from leadflow.tenancy.context import require_tenant_id
from leads.models import DEFAULT_LOST_REASONS, LeadSettings


def lead_settings() -> LeadSettings:
    """The current tenant's settings row, or an unsaved one holding the defaults. One query."""
    found = LeadSettings.objects.filter(tenant_id=require_tenant_id()).first()
    if found is not None:
        if not found.lost_reasons:
            found.lost_reasons = list(DEFAULT_LOST_REASONS)
        return found
    return LeadSettings(tenant_id=require_tenant_id(), lost_reasons=list(DEFAULT_LOST_REASONS))
