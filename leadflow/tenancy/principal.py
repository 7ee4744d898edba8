"""Who is acting: a member of a tenant, a partner's API key, or the system."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from leadflow.lib import times
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

    @property
    def timezone(self) -> ZoneInfo:
        """The zone this caller reads times in: the person's own, else the tenant's."""
        own = self.user.timezone if self.user is not None else ""
        for name in (own, self.tenant.timezone):
            if name:
                try:
                    return times.zone(name)
                except KeyError:
                    continue
        return times.zone("UTC")

    @property
    def role_label(self) -> str:
        """The role as the top bar reads it: ``Manager``, or ``Partner — Northwind``."""
        if self.partner is not None:
            return f"Partner — {self.partner.name}"
        if self.membership is not None:
            return self.membership.get_role_display()
        return Role(self.role).label if self.role else ""

    def has_role(self, *roles: str) -> bool:
        return self.role in roles
