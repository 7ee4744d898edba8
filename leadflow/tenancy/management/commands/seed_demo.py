"""Seed the demo of `make run`: two tenants, one user per role, a partner with a key."""

from django.core.management.base import BaseCommand
from django.db import transaction

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Partner, PartnerKind, Role, Tenant, User
from leadflow.tenancy.principal import Principal

DEMO_PASSWORD = "leadflow-demo"  # demo logins only; printed on every run
DEMO_TENANTS = [
    ("acme", "Acme Robotics", "America/Chicago", "USD"),
    ("globex", "Globex Industrial", "Europe/Berlin", "EUR"),
]


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
    "partner@northwind.example": "Nora Lindqvist",
}


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenants, users and partner; prints logins and a key."

    def handle(self, *args, **options):
        lines = []
        for slug, name, tz, currency in DEMO_TENANTS:
            tenant = Tenant.objects.filter(slug=slug).first() or services.create_tenant(
                slug=slug, name=name, timezone_name=tz, currency=currency
            )
            by = Principal.system(tenant, "demo seed")
            with tenant_context(tenant), transaction.atomic():
                for role in Role.values:
                    email = f"{role}@{slug}.example"
                    if not Membership.objects.filter(user__email=email).exists():
                        services.add_member(
                            email=email,
                            role=role,
                            password=DEMO_PASSWORD,
                            full_name=DEMO_NAMES.get(email, ""),
                            by=by,
                        )
                    lines.append(f"  {tenant.name:<18} {role:<10} {email:<26} {DEMO_PASSWORD}")
                both = "manager@acme.example"
                if slug != "acme" and not Membership.objects.filter(user__email=both).exists():
                    services.add_member(email=both, role=Role.MANAGER, by=by)
        acme = Tenant.objects.get(slug="acme")
        by = Principal.system(acme, "demo seed")
        with tenant_context(acme), transaction.atomic():
            partner = Partner.objects.filter(name="Northwind Dealers").first() or (
                services.create_partner(
                    name="Northwind Dealers",
                    kind=PartnerKind.DEALER,
                    contact_email="sales@northwind.example",
                    by=by,
                )
            )
            partner_user = "partner@northwind.example"
            if not User.objects.filter(email=partner_user).exists():
                services.add_member(
                    email=partner_user,
                    role=Role.REP,
                    password=DEMO_PASSWORD,
                    full_name=DEMO_NAMES[partner_user],
                    partner=partner,
                    by=by,
                )
            issued = services.issue_api_key(name="demo key", partner=partner, by=by)
        # Demo users seeded before they had names get theirs; a name someone set stays.
        for email, full_name in DEMO_NAMES.items():
            User.objects.filter(email=email, full_name="").update(full_name=full_name)
        self.stdout.write("Demo logins (tenant, role, email, password):")
        self.stdout.write("\n".join(lines))
        self.stdout.write(
            f"  {'Acme Robotics':<18} {'partner':<10} {partner_user:<26} {DEMO_PASSWORD}"
        )
        self.stdout.write("  manager@acme.example is in both tenants: use the tenant switcher.")
        self.stdout.write(f"Partner API key (Northwind Dealers, new on every run): {issued.secret}")
