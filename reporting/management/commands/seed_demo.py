"""Seed the demo of `make run`: people, then each app's data (idempotent; runs on every start).

The command lives in ``reporting``, the app at the top of the dependency graph
(reporting → leads → inquiries → leadflow): it may import every app, while
each app seeds only its own part (``leadflow/tenancy/demo.py``,
``inquiries/demo.py``, ``leads/demo.py``). A later feature adds its demo data as a function of
its own app and one call here.
"""

from time import monotonic

from django.core.management.base import BaseCommand

from inquiries.demo import seed_demo_marketing
from inquiries.demo_onboarding import seed_demo_onboarding
from leadflow.outbox.endpoints.demo import seed_demo_webhooks
from leadflow.tenancy.demo import BOTH_TENANTS_MANAGER, DEMO_PARTNER, seed_demo_people
from leads.demo import seed_demo_leads
from nurture.demo import seed_demo_nurture
from reporting.dashboards.demo import seed_demo_dashboards
from reporting.weekly.demo import seed_demo_weekly_reports


class Command(BaseCommand):
    help = "Create (or complete) the demo tenants, people and data; prints logins and a key."

    def handle(self, *args, **options):
        started = monotonic()
        people = seed_demo_people()
        seeded = [seed_demo_marketing(tenant=tenant) for tenant in people.tenants]
        # Leads only where the marketing demo just seeded the inquiries they are booked for.
        leads = [seed_demo_leads(tenant=each.tenant) if each.inquiries else 0 for each in seeded]
        # The demo partner's webhook endpoint (disabled: nothing leaves the machine) and its log.
        for tenant in people.tenants:
            seed_demo_webhooks(tenant=tenant, partner_name=DEMO_PARTNER)
        # Dashboards (issue 22): the rep works some leads, then each tenant's rollups.
        for each, booked in zip(seeded, leads, strict=True):
            seed_demo_dashboards(tenant=each.tenant, work=bool(booked))
        # The Monday report: snapshots of the last weeks, from the leads just seeded and worked.
        reports = sum(seed_demo_weekly_reports(tenant=tenant) for tenant in people.tenants)
        # Nurture (issue 19): one running program with 1-minute waits; mail lands in var/mail/.
        nurtured = [seed_demo_nurture(tenant=tenant) for tenant in people.tenants]
        # Issue 24: the tenant's country, and a CRM export waiting at the import's value step.
        for tenant in people.tenants:
            seed_demo_onboarding(tenant=tenant)
        self.stdout.write("Demo logins (tenant, role, email, password):")
        self.stdout.write("\n".join(people.logins))
        self.stdout.write(f"  {BOTH_TENANTS_MANAGER} is in both tenants: use the tenant switcher.")
        self.stdout.write(
            f"Partner API key ({DEMO_PARTNER}, new on every run): {people.partner_key}"
        )
        for each, booked in zip(seeded, leads, strict=True):
            if each.inquiries:
                self.stdout.write(
                    f"Seeded {each.tenant.name}: lead definition v{each.definition_version} "
                    f"(signed, active), {each.campaigns} campaigns, {each.reasons} disqualify "
                    f"reasons, {each.inquiries} inquiries, {booked} leads."
                )
            else:
                self.stdout.write(f"{each.tenant.name} already has its demo data; kept as it is.")
        if reports:
            self.stdout.write(f"Weekly report snapshots made: {reports}.")
        if any(nurtured):
            self.stdout.write(
                f"Nurture: {sum(nurtured)} people in the demo program; mail arrives in var/mail/ "
                "within a few minutes (the beat runs nurture every minute)."
            )
        self.stdout.write(f"Demo ready in {monotonic() - started:.1f} s.")
