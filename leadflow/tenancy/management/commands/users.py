from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.management.commands._base import (
    rule_errors_as_command_errors,
    tenant_by_slug,
)
from leadflow.tenancy.models import Partner, Role
from leadflow.tenancy.principal import Principal


class Command(BaseCommand):
    help = "Add people to a tenant with a role; prints their API token once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Add a user (new or existing) to a tenant.")
        create.add_argument("email")
        create.add_argument("--tenant", required=True, help="Tenant slug.")
        create.add_argument("--role", required=True, choices=Role.values)
        create.add_argument("--password", help="Login password; without it the user cannot log in.")
        create.add_argument("--name", default="", help="Full name.")
        create.add_argument("--partner", help="Name of the partner this user acts for (role rep).")

    def handle(self, *args, action: str, **options):
        tenant = tenant_by_slug(options["tenant"])
        by = Principal.system(tenant, "command line")
        with tenant_context(tenant), rule_errors_as_command_errors(), transaction.atomic():
            partner = None
            if options["partner"]:
                partner = Partner.objects.filter(name__iexact=options["partner"].strip()).first()
                if partner is None:
                    raise CommandError(f"Unknown partner {options['partner']!r} in {tenant.slug}.")
            membership = services.add_member(
                email=options["email"],
                role=options["role"],
                password=options["password"],
                full_name=options["name"],
                partner=partner,
                by=by,
            )
            issued = services.issue_user_token(membership=membership, name="command line", by=by)
        self.stdout.write(f"user: {membership.user.email} ({membership.role} in {tenant.slug})")
        self.stdout.write(f"token: {issued.secret}")
