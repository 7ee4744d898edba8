"""Every write about tenants, members, partners, credentials and idempotency.

One module per concern (STYLE.md: past ~400 lines, a package); the public
names are re-exported here, so callers import from ``leadflow.tenancy.services``.
"""

from leadflow.tenancy.services._common import IssuedSecret
from leadflow.tenancy.services.audit import record_audit
from leadflow.tenancy.services.idempotency import (
    Claim,
    claim_idempotency_key,
    complete_idempotency_key,
    fingerprint,
    purge_expired_idempotency_keys,
    release_idempotency_key,
)
from leadflow.tenancy.services.invitations import (
    IssuedInvitation,
    accept_invitation,
    accept_invitation_as_new_user,
    check_invitation_payload,
    invite_member,
    queue_invitation_email,
    resend_invitation,
    revoke_invitation,
    send_invitation,
)
from leadflow.tenancy.services.members import (
    SLUG_RE,
    add_member,
    change_member_role,
    create_tenant,
    deactivate_member,
    reactivate_member,
    set_member_availability,
    set_tenant_timezone,
    tenant_today,
)
from leadflow.tenancy.services.partners import (
    LAST_USED_RESOLUTION,
    create_partner,
    issue_api_key,
    mark_credential_used,
    reactivate_partner,
    revoke_api_key,
    set_partner_routing,
    suspend_partner,
)
from leadflow.tenancy.services.personal import (
    create_my_token,
    issue_user_token,
    revoke_user_token,
    update_my_settings,
)

__all__ = [
    "LAST_USED_RESOLUTION",
    "SLUG_RE",
    "Claim",
    "IssuedInvitation",
    "IssuedSecret",
    "accept_invitation",
    "accept_invitation_as_new_user",
    "add_member",
    "change_member_role",
    "check_invitation_payload",
    "claim_idempotency_key",
    "complete_idempotency_key",
    "create_my_token",
    "create_partner",
    "create_tenant",
    "deactivate_member",
    "fingerprint",
    "invite_member",
    "issue_api_key",
    "issue_user_token",
    "mark_credential_used",
    "purge_expired_idempotency_keys",
    "queue_invitation_email",
    "reactivate_member",
    "reactivate_partner",
    "record_audit",
    "release_idempotency_key",
    "resend_invitation",
    "revoke_api_key",
    "revoke_invitation",
    "revoke_user_token",
    "send_invitation",
    "set_member_availability",
    "set_partner_routing",
    "set_tenant_timezone",
    "suspend_partner",
    "tenant_today",
    "update_my_settings",
]
