"""Tenants, people and credentials; the tenant-owned base every business table uses."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now

from leadflow.tenancy.context import current_tenant_id, require_tenant_id


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)  # None → an unusable password
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


def normalize_email(email: str) -> str:
    """One spelling per mailbox: trimmed and lower-cased."""
    return email.strip().lower()


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin).")


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address; belongs to tenants through memberships."""

    email = models.EmailField(unique=True, max_length=254)
    full_name = models.CharField(max_length=150, blank=True)
    # Blank: times are shown in the zone of the tenant the person works in.
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        """How the person is shown: their name, or their email when they gave none."""
        return self.full_name.strip() or self.email

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name


class Tenant(models.Model):
    """One customer organisation; every business row belongs to exactly one."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. EUR.")],
    )
    # Where the tenant sells (ISO 3166-1 alpha-2): phone numbers without "+" are read in it.
    country = models.CharField(max_length=2, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CrossTenantWrite(RuntimeError):
    """A row of one tenant was about to be saved while another tenant is selected."""


class TenantScopedManager(models.Manager):
    """Rows of the current tenant only; raises when no tenant is selected (fail-safe)."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(tenant_id=require_tenant_id())

    def none(self) -> models.QuerySet:
        # An empty queryset shows nothing, so it needs no tenant (schema generation asks).
        return super().get_queryset().none()


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned table (docs/architecture.md, "Tenancy, enforced twice").

    ``objects`` is scoped to the current tenant. ``dangerously_all_tenants`` is
    the one unscoped manager, for migrations, admin of the platform and
    cross-tenant jobs; on PostgreSQL row-level security still applies to it.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )

    objects = TenantScopedManager()
    # The first manager is the default; ruff's DJ012 mistakes the second for a field.
    dangerously_all_tenants = models.Manager()  # noqa: DJ012

    class Meta:
        abstract = True
        base_manager_name = "dangerously_all_tenants"
        constraints = [
            # Target of the composite (tenant_id, x_id) foreign keys, and the
            # index that serves every "rows of this tenant" scan.
            models.UniqueConstraint(
                fields=["tenant", "id"], name="%(app_label)s_%(class)s_tenant_pk"
            ),
        ]

    def save(self, *args, **kwargs) -> None:
        selected = current_tenant_id()
        if self.tenant_id is None:
            self.tenant_id = require_tenant_id()
        elif selected is not None and selected != self.tenant_id:
            raise CrossTenantWrite(
                f"{type(self).__name__} of tenant {self.tenant_id} saved while tenant "
                f"{selected} is selected"
            )
        super().save(*args, **kwargs)


def tenant_foreign_key(to: str, *, on_delete: Any, **kwargs: Any) -> Any:
    """A foreign key between two tenant tables.

    Django knows only single-column keys, so the database constraint is the
    composite ``(tenant_id, <field>_id) → (tenant_id, id)`` added in the
    migration with ``AddTenantForeignKey`` (with its index, which leads with
    tenant_id): a row can never point into another tenant, and the schema can
    be distributed by tenant.

    Typed ``Any``: the type checker's Django plugin types a related field only
    where ``ForeignKey(...)`` is called directly, so through this helper the
    related object is unchecked rather than wrongly typed.
    """
    return models.ForeignKey(to, on_delete=on_delete, db_constraint=False, db_index=False, **kwargs)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    QUALIFIER = "qualifier", "Qualifier"
    REP = "rep", "Sales rep"
    MANAGER = "manager", "Manager"


class PartnerKind(models.TextChoices):
    DEALER = "dealer", "Dealer"
    VAR = "var", "Value-added reseller"
    AGENT = "agent", "Agent"


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class PartnerTier(models.TextChoices):
    """A partner's standing; the router gives it this many turns for a rep's one."""

    PLATINUM = "platinum", "Platinum"
    GOLD = "gold", "Gold"
    SILVER = "silver", "Silver"
    REGISTERED = "registered", "Registered"


# The router's weight of each tier (a rep weighs 1).
TIER_WEIGHTS = {
    PartnerTier.PLATINUM: 4,
    PartnerTier.GOLD: 3,
    PartnerTier.SILVER: 2,
    PartnerTier.REGISTERED: 1,
}


class Partner(TenantOwnedModel):
    """An independent channel (dealer, VAR, agent) that receives and reports leads."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=PartnerKind.choices)
    status = models.CharField(
        max_length=10, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE
    )
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=now)
    suspended_at = models.DateTimeField(null=True, blank=True)
    # The router's weight (TIER_WEIGHTS) and the most open leads it may hold (None: no cap).
    tier = models.CharField(
        max_length=12, choices=PartnerTier.choices, default=PartnerTier.REGISTERED
    )
    # Compliance (the articles' "stop reporting, stop receiving"): why it is suspended, whether
    # by the rule (reinstated automatically once its backlog is reported) or by a person, and
    # when it was last warned.
    suspension_reason = models.CharField(max_length=300, blank=True)
    suspended_by_rule = models.BooleanField(default=False)
    warned_at = models.DateTimeField(null=True, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                models.F("tenant"), Lower("name"), name="tenancy_partner_tenant_name_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(TenantOwnedModel):
    """A user's place in a tenant; a partner user acts for exactly one partner."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    # A deactivated member keeps their row (history names them) but cannot act
    # in this tenant; the user may still belong to other tenants.
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Away from ``leave_from`` to ``leave_until`` (both days included, tenant time): the
    # router skips them. ``capacity``: the most open leads they may hold (None: no cap).
    leave_from = models.DateField(null=True, blank=True)
    leave_until = models.DateField(null=True, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "user"], name="tenancy_membership_uniq"),
            models.CheckConstraint(
                condition=models.Q(partner__isnull=True) | models.Q(role="rep"),
                name="tenancy_membership_partner_user_is_rep",
            ),
            models.CheckConstraint(
                condition=models.Q(leave_from__isnull=True)
                | models.Q(leave_until__isnull=True)
                | models.Q(leave_from__lte=models.F("leave_until")),
                name="tenancy_membership_leave_in_order",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "role"], name="tenancy_membership_role_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} as {self.role}"

    def on_leave(self, day: Any) -> bool:
        """Whether ``day`` (a date in the tenant's time zone) falls in the member's leave."""
        if self.leave_from is None:
            return False
        return self.leave_from <= day and (self.leave_until is None or day <= self.leave_until)

    @property
    def role_label(self) -> str:
        """The role as people read it: ``Partner — Northwind`` for a partner's user.

        Reads ``partner``: select it with the membership where many are shown.
        """
        if self.partner_id is not None:
            return f"Partner — {self.partner.name}"
        return self.get_role_display()


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    # Never stored: a pending invitation past its expiry reads as expired.
    EXPIRED = "expired", "Expired"


class Invitation(TenantOwnedModel):
    """An invitation by email to become a member with a role (or a partner's user).

    The link's token is never stored: only its SHA-256 digest (to find the
    invitation) and a nonce from which the sender derives the token again with
    the secret key, so a copy of the database alone opens no invitation.
    Resending replaces the nonce, which voids the previous link.
    """

    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices)
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10,
        choices=InvitationStatus.choices[:3],
        default=InvitationStatus.PENDING,
    )
    token_hash = models.CharField(max_length=64)
    token_nonce = models.CharField(max_length=32)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "token_hash"], name="tenancy_invitation_hash_uniq"
            ),
            # One open invitation per address: a second one would be a second valid link.
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(status="pending"),
                name="tenancy_invitation_pending_email_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(partner__isnull=True) | models.Q(role="rep"),
                name="tenancy_invitation_partner_user_is_rep",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"

    @property
    def state(self) -> str:
        """Pending, accepted, revoked, or expired (pending past its expiry)."""
        if self.status == InvitationStatus.PENDING and self.expires_at <= now():
            return InvitationStatus.EXPIRED
        return self.status

    @property
    def state_label(self) -> str:
        return InvitationStatus(self.state).label

    @property
    def role_label(self) -> str:
        """The role as people read it; reads ``partner`` (select it with the invitation)."""
        if self.partner_id is not None:
            return f"Partner — {self.partner.name}"
        return self.get_role_display()


class ApiKey(TenantOwnedModel):
    """A machine credential: a partner's integration, or a tenant integration with a role.

    Only a SHA-256 digest is stored; the key itself is shown once at creation.
    """

    name = models.CharField(max_length=100)
    partner = tenant_foreign_key(
        "tenancy.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=10, choices=Role.choices, blank=True)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "key_hash"], name="tenancy_apikey_hash_uniq"),
            models.CheckConstraint(
                condition=(models.Q(partner__isnull=False) & models.Q(role=""))
                | (models.Q(partner__isnull=True) & ~models.Q(role="")),
                name="tenancy_apikey_partner_xor_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UserToken(TenantOwnedModel):
    """A user's API token for one tenant; stored as a SHA-256 digest, shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "token_hash"], name="tenancy_usertoken_hash_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEvent(TenantOwnedModel):
    """Who changed what, with the values before and after; written by services only."""

    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="tenancy_audit_recent_idx"),
            models.Index(
                fields=["tenant", "object_type", "object_id"], name="tenancy_audit_object_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class StageChange(TenantOwnedModel):
    """One stage move of one record: the audit row written by ``leadflow/lib/stages.py``.

    ``machine`` names the kind of record (``inquiry``, ``lead``) and
    ``object_id`` the record; the rows of one record in time order are its
    stages with their start times, what time-in-stage reports read.
    """

    machine = models.CharField(max_length=30)
    object_id = models.BigIntegerField()
    from_stage = models.CharField(max_length=30)
    to_stage = models.CharField(max_length=30)
    reason = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "machine", "object_id", "created_at"],
                name="tenancy_stagechange_obj_idx",
            ),
            models.Index(
                fields=["tenant", "machine", "to_stage", "created_at"],
                name="tenancy_stagechange_to_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.machine}:{self.object_id} {self.from_stage} → {self.to_stage}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyRecord(TenantOwnedModel):
    """The first response to an unsafe API request with an ``Idempotency-Key``.

    Keyed per caller inside the tenant, so one caller's key never replays to another.
    """

    caller = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=IdempotencyState.choices)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(null=True)
    created_at = models.DateTimeField(default=now)
    locked_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "caller", "key"], name="tenancy_idempotency_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="tenancy_idempotency_age_idx")
        ]

    def __str__(self) -> str:
        return f"{self.caller}:{self.key}"
