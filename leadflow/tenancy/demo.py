"""The demo's people: two tenants, one named user per role, a partner with its user and a key.

Called by ``manage.py seed_demo`` (``reporting/management/commands/seed_demo.py``),
which then seeds each app's demo data. Creates only what is missing, so it may
run on every ``make run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from leadflow.outbox.demo import seed_demo_messages
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import (
    Membership,
    Partner,
    PartnerKind,
    PartnerTier,
    Role,
    Tenant,
    User,
)
from leadflow.tenancy.principal import Principal

DEMO_PASSWORD = "leadflow-demo"  # demo logins only; printed on every run
DEMO_TENANTS = [
    ("acme", "Acme Robotics", "America/Chicago", "USD"),
    ("globex", "Globex Industrial", "Europe/Berlin", "EUR"),
]
DEMO_PARTNER = "Northwind Dealers"
DEMO_PARTNER_USER = "partner@northwind.example"
# manager@acme.example is a manager of both tenants (the tenant switcher shows).
BOTH_TENANTS_MANAGER = "manager@acme.example"

# A second rep of Acme, away this week (the members list shows the badge; the router skips her).
DEMO_REP_ON_LEAVE = "rep2@acme.example"
# The most open leads each may hold (the router skips them at the cap).
DEMO_CAPACITIES = {"rep@acme.example": 40, DEMO_REP_ON_LEAVE: 30, "rep@globex.example": 35}
DEMO_PARTNER_TIER = PartnerTier.GOLD
DEMO_PARTNER_CAPACITY = 25

# People are shown by name; each demo login has one (first and last name).
DEMO_NAMES = {
    "admin@acme.example": "Dana Whitfield",
    "marketer@acme.example": "Marco Reyes",
    "qualifier@acme.example": "Quinn Albright",
    "rep@acme.example": "Riley Chen",
    "manager@acme.example": "Morgan Ellis",
    "admin@globex.example": "Greta Vogel",
    "marketer@globex.example": "Jonas Keller",
    "qualifier@globex.example": "Lena Brandt",
    "rep@globex.example": "Felix Wagner",
    "manager@globex.example": "Sofia Hartmann",
    DEMO_PARTNER_USER: "Nora Lindqvist",
    DEMO_REP_ON_LEAVE: "Priya Natarajan",
}


@dataclass
class DemoPeople:
    """What the demo's people are: the tenants, the login lines to print, the partner's key."""

    tenants: list[Tenant] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    partner_key: str = ""


def demo_email(role: str, slug: str) -> str:
    return f"{role}@{slug}.example"


def seed_demo_people() -> DemoPeople:
    """Create the demo tenants, users and partner where missing; issue a new partner key."""
    seeded = DemoPeople()
    for slug, name, tz, currency in DEMO_TENANTS:
        tenant = Tenant.objects.filter(slug=slug).first() or services.create_tenant(
            slug=slug, name=name, timezone_name=tz, currency=currency
        )
        seeded.tenants.append(tenant)
        by = Principal.system(tenant, "demo seed")
        with tenant_context(tenant), transaction.atomic():
            for role in Role.values:
                email = demo_email(role, slug)
                if not Membership.objects.filter(user__email=email).exists():
                    services.add_member(
                        email=email,
                        role=role,
                        password=DEMO_PASSWORD,
                        full_name=DEMO_NAMES.get(email, ""),
                        by=by,
                    )
                seeded.logins.append(f"  {tenant.name:<18} {role:<10} {email:<26} {DEMO_PASSWORD}")
            if (
                slug != "acme"
                and not Membership.objects.filter(user__email=BOTH_TENANTS_MANAGER).exists()
            ):
                services.add_member(email=BOTH_TENANTS_MANAGER, role=Role.MANAGER, by=by)
    acme = seeded.tenants[0]
    by = Principal.system(acme, "demo seed")
    with tenant_context(acme), transaction.atomic():
        partner = Partner.objects.filter(name=DEMO_PARTNER).first() or (
            services.create_partner(
                name=DEMO_PARTNER,
                kind=PartnerKind.DEALER,
                contact_email="sales@northwind.example",
                by=by,
            )
        )
        if not User.objects.filter(email=DEMO_PARTNER_USER).exists():
            services.add_member(
                email=DEMO_PARTNER_USER,
                role=Role.REP,
                password=DEMO_PASSWORD,
                full_name=DEMO_NAMES[DEMO_PARTNER_USER],
                partner=partner,
                by=by,
            )
        seeded.partner_key = services.issue_api_key(name="demo key", partner=partner, by=by).secret
    # Demo users seeded before they had names get theirs; a name someone set stays.
    for email, full_name in DEMO_NAMES.items():
        User.objects.filter(email=email, full_name="").update(full_name=full_name)
    seeded.logins.append(
        f"  {'Acme Robotics':<18} {'partner':<10} {DEMO_PARTNER_USER:<26} {DEMO_PASSWORD}"
    )
    _seed_availability(seeded.tenants, partner)
    # Admins' "Failed messages" page shows something: a few sent, one failed.
    for tenant in seeded.tenants:
        seed_demo_messages(tenant=tenant)
    return seeded


def _seed_availability(tenants: list[Tenant], partner: Partner) -> None:
    """Capacities, one rep on leave this week (Monday to Sunday, the tenant's days), the
    partner's tier; set through the services, and only where nobody set them yet."""
    for tenant in tenants:
        by = Principal.system(tenant, "demo seed")
        with tenant_context(tenant), transaction.atomic():
            if tenant.slug == "acme" and not User.objects.filter(email=DEMO_REP_ON_LEAVE).exists():
                services.add_member(
                    email=DEMO_REP_ON_LEAVE,
                    role=Role.REP,
                    password=DEMO_PASSWORD,
                    full_name=DEMO_NAMES[DEMO_REP_ON_LEAVE],
                    by=by,
                )
            members = Membership.objects.select_related("user").filter(
                user__email__in=DEMO_CAPACITIES, capacity__isnull=True, is_active=True
            )
            monday = services.tenant_today(tenant)
            monday -= timedelta(days=monday.weekday())
            for member in members:
                away = member.user.email == DEMO_REP_ON_LEAVE and member.leave_from is None
                services.set_member_availability(
                    membership=member,
                    leave_from=monday if away else member.leave_from,
                    leave_until=monday + timedelta(days=6) if away else member.leave_until,
                    capacity=DEMO_CAPACITIES[member.user.email],
                    timezone=member.user.timezone,
                    by=by,
                )
            if tenant.slug == "acme" and partner.capacity is None:
                services.set_partner_routing(
                    partner=partner,
                    tier=DEMO_PARTNER_TIER,
                    capacity=DEMO_PARTNER_CAPACITY,
                    by=by,
                )
