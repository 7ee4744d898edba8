from django.core.management.base import BaseCommand

from leadflow.tenancy import services
from leadflow.tenancy.management.commands._base import rule_errors_as_command_errors
from leadflow.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Create and list tenants (customer organisations)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Open a new tenant.")
        create.add_argument("slug", help="Short identifier: lower-case letters, digits, hyphens.")
        create.add_argument("--name", required=True, help="Display name.")
        create.add_argument("--timezone", default="UTC", help="IANA time zone, e.g. Europe/Berlin.")
        create.add_argument("--currency", default="USD", help="ISO 4217 code, e.g. EUR.")
        sub.add_parser("list", help="List tenants.")

    def handle(self, *args, action: str, **options):
        if action == "list":
            for tenant in Tenant.objects.order_by("slug"):
                self.stdout.write(
                    f"{tenant.slug}\t{tenant.name}\t{tenant.timezone}\t{tenant.currency}"
                )
            return
        with rule_errors_as_command_errors():
            tenant = services.create_tenant(
                slug=options["slug"],
                name=options["name"],
                timezone_name=options["timezone"],
                currency=options["currency"],
            )
        self.stdout.write(f"tenant: {tenant.slug} (id {tenant.pk})")
