"""``manage.py rebuild_rollups [--tenant slug]``: rebuild the dashboards' rollups from scratch."""

from django.core.management.base import BaseCommand, CommandError

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Rebuild the dashboards' rollup tables of one tenant (or every tenant)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="The tenant's slug (default: every tenant).")

    def handle(self, *args, **options):
        from reporting.dashboards.services import rebuild_rollups

        tenants = Tenant.objects.order_by("pk")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant {options['tenant']!r}.")
        for tenant in tenants:
            with tenant_context(tenant):
                done = rebuild_rollups()
            self.stdout.write(f"{tenant.slug}: {done.days} days, {done.leads} leads rolled up")
