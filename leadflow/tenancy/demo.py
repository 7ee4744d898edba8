"""The demo's people: two tenants, one named user per role, a partner with its user and a key.

Called by ``manage.py seed_demo`` (``reporting/management/commands/seed_demo.py``),
which then seeds each app's demo data. Creates only what is missing, so it may
run on every ``make run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from leadflow.outbox.demo import seed_demo_messages
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Partner, PartnerKind, Role, Tenant, User
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
    # Admins' "Failed messages" page shows something: a few sent, one failed.
    for tenant in seeded.tenants:
        seed_demo_messages(tenant=tenant)
    return seeded
