"""The tenant's nurture settings: sender, consent mode, caps, send window, DKIM key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dkim.crypto
from django.db import transaction
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture.models import NurtureSettings

FIELDS = (
    "from_name",
    "from_address",
    "reply_to",
    "postal_address",
    "consent_mode",
    "cap_emails",
    "cap_days",
    "window_start",
    "window_end",
    "throttle_per_minute",
    "double_opt_in",
    "dkim_selector",
    "dkim_domain",
    "dkim_private_key",
    "track_opens",
)


@transaction.atomic
def update_nurture_settings(*, changes: Mapping[str, Any], by: Principal) -> NurtureSettings:
    """Change some settings; the row is made on the first change. A bad DKIM key is a 400."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise RuleViolation(field=sorted(unknown)[0], code="unknown", message="Unknown setting.")
    key = changes.get("dkim_private_key")
    if key:
        try:
            dkim.crypto.parse_pem_private_key(key.encode())
        except Exception:
            raise RuleViolation(
                field="dkim_private_key",
                code="invalid",
                message="Not an RSA private key in PEM form.",
            ) from None
    NurtureSettings.objects.bulk_create(
        [NurtureSettings(tenant_id=by.tenant.pk)], ignore_conflicts=True
    )
    config = NurtureSettings.objects.select_for_update().get()
    before = {name: str(getattr(config, name)) for name in FIELDS if name != "dkim_private_key"}
    for name, value in changes.items():
        setattr(config, name, value)
    config.updated_at = timezone.now()
    config.save(update_fields=[*changes, "updated_at"])
    after = {name: str(getattr(config, name)) for name in FIELDS if name != "dkim_private_key"}
    record_audit(action="nurture.settings_changed", obj=config, before=before, after=after, by=by)
    return config
