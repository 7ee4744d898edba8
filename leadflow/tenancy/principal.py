"""Who is acting: a member of a tenant, a partner's API key, or the system."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow.tenancy.models import ApiKey, Membership, Partner, Role, Tenant, User, UserToken


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    role: str | None
    via: str  # "session", "user_token", "api_key" or "system"
    user: User | None = None
    membership: Membership | None = None
    api_key: ApiKey | None = None
    user_token: UserToken | None = None
    partner: Partner | None = None
    system_label: str = ""

    @classmethod
    def system(cls, tenant: Tenant, label: str = "system") -> Principal:
        """The platform itself (command line, scheduled jobs), acting with admin rights."""
        return cls(tenant=tenant, role=Role.ADMIN, via="system", system_label=label)

    @property
    def is_partner(self) -> bool:
        return self.partner is not None

    @property
    def caller(self) -> str:
        """A stable name for this caller, used to key idempotency and throttling."""
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        if self.user is not None:
            return f"user:{self.user.pk}"
        return f"system:{self.system_label}"

    @property
    def label(self) -> str:
        if self.api_key is not None:
            owner = f"partner {self.partner.name}" if self.partner else "tenant"
            return f"API key {self.api_key.prefix}… ({owner})"
        if self.user is not None:
            return self.user.email
        return self.system_label

    def has_role(self, *roles: str) -> bool:
        return self.role in roles
