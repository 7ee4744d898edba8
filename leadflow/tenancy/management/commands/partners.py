from django.core.management.base import BaseCommand
from django.db import transaction

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.management.commands._base import (
    rule_errors_as_command_errors,
    tenant_by_slug,
)
from leadflow.tenancy.models import PartnerKind
from leadflow.tenancy.principal import Principal


class Command(BaseCommand):
    help = "Register channel partners; prints the partner's API key once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Register a dealer, VAR or agent.")
        create.add_argument("name")
        create.add_argument("--tenant", required=True, help="Tenant slug.")
        create.add_argument("--kind", required=True, choices=PartnerKind.values)
        create.add_argument("--email", default="", help="Contact email of the partner.")

    def handle(self, *args, action: str, **options):
        tenant = tenant_by_slug(options["tenant"])
        by = Principal.system(tenant, "command line")
        with tenant_context(tenant), rule_errors_as_command_errors(), transaction.atomic():
            partner = services.create_partner(
                name=options["name"], kind=options["kind"], contact_email=options["email"], by=by
            )
            issued = services.issue_api_key(name=f"{partner.name[:90]} key", partner=partner, by=by)
        self.stdout.write(
            f"partner: {partner.name} ({partner.kind} in {tenant.slug}, id {partner.pk})"
        )
        self.stdout.write(f"api_key: {issued.secret}")
