"""The paths of issue 16/17 that have PostgreSQL fast paths, run on the embedded SQLite.

``scripts/smoke_make_run.sh`` runs it in the fresh clone after ``make run`` has
seeded the demo: booking routes a lead, the recall scan reroutes, the Monday
digest, the partners' compliance rule, a deal registration, a partner's bulk sync (one
item refused), the managers' partners page and the demo rep's My week
(its reported weeks are an array on PostgreSQL, text on SQLite) — each must work
on SQLite (no arrays, no advisory locks), as the worker and beat run them there.
Exits 1 with the first failure.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from inquiries.models import Inquiry, Stage  # noqa: E402
from leadflow.tenancy.context import tenant_context  # noqa: E402
from leadflow.tenancy.models import Membership, Partner, Tenant  # noqa: E402
from leadflow.tenancy.principal import Principal  # noqa: E402
from leads.models import REPORTED_STAGES, Assignment, AssignmentKind, Lead  # noqa: E402
from leads.selectors.my_week import my_week  # noqa: E402
from leads.selectors.partner_overview import partner_overview  # noqa: E402
from leads.services.booking import book_appointment  # noqa: E402
from leads.services.compliance import enforce_partner_compliance  # noqa: E402
from leads.services.digests import queue_missing_update_digests  # noqa: E402
from leads.services.registrations import register_deal  # noqa: E402
from leads.services.routing import recall_leads  # noqa: E402
from leads.services.sync import SyncItem, sync_updates  # noqa: E402


def main() -> int:
    if connection.vendor != "sqlite":
        print(f"FAIL: expected the embedded SQLite, got {connection.vendor}")
        return 1
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        member = Membership.objects.select_related("user").get(user__email="qualifier@acme.example")
        by = Principal(
            tenant=acme, role=member.role, via="session", user=member.user, membership=member
        )
        inquiry = Inquiry.objects.filter(stage=Stage.MQL, partner__isnull=True).first()
        if inquiry is None:
            print("FAIL: the demo has no MQL to book")
            return 1
        lead = book_appointment(
            inquiry=inquiry, starts_at=timezone.now() + timedelta(days=2), by=by
        )
        record = Assignment.objects.filter(lead_id=lead.pk).latest("id")
        if record.kind != AssignmentKind.BOOKED or (
            lead.rep_id is None and lead.partner_id is None
        ):
            print(f"FAIL: booking did not route the lead ({record.kind}, {record.team})")
            return 1
        print(f"PASS: booking routed lead {lead.pk} (team {record.team or '—'})")
        recalled = recall_leads(now=timezone.now() + timedelta(days=30))
        if not (recalled.unaccepted or recalled.idle):
            print("FAIL: the recall scan a month on rerouted nothing")
            return 1
        print(f"PASS: recall rerouted {len(recalled.unaccepted) + len(recalled.idle)} lead(s)")
        queue_missing_update_digests(now=timezone.now())
        print("PASS: the Monday digest ran")
        enforce_partner_compliance()
        print("PASS: the partners' compliance rule ran")
        northwind = Partner.objects.get(name="Northwind Dealers")
        dealer = Principal(tenant=acme, role=None, via="api_key", partner=northwind)
        registration = register_deal(
            partner=northwind,
            company="Smoke Test GmbH",
            company_domain="smoke-test.example",
            first_name="",
            last_name="",
            email="",
            phone="",
            country="DE",
            need="A smoke test",
            by=dealer,
        )
        print(f"PASS: a deal registration was {registration.status}")
        reported = Lead.objects.filter(partner__isnull=False, stage__in=list(REPORTED_STAGES))
        first = reported.select_related("partner").first()
        if first is None:
            print("FAIL: the demo has no partner lead to report on")
            return 1
        reporter = Principal(tenant=acme, role=None, via="api_key", partner=first.partner)
        lead_ids = list(reported.filter(partner=first.partner).values_list("pk", flat=True)[:3])
        items = [
            SyncItem(index=n, lead=lead_id, update={"status": "progress", "note": "Smoke sync"})
            for n, lead_id in enumerate(lead_ids)
        ] + [SyncItem(index=len(lead_ids), lead=0, update={"status": "progress", "note": "?"})]
        outcomes = sync_updates(items=items, by=reporter)
        if [o.ok for o in outcomes] != [True] * (len(items) - 1) + [False]:
            print(f"FAIL: the partner's bulk sync: {outcomes}")
            return 1
        print(f"PASS: a bulk sync of {len(items)} items ({len(items) - 1} written, 1 refused)")
        boss = Membership.objects.select_related("user").get(user__email="manager@acme.example")
        manager = Principal(
            tenant=acme, role=boss.role, via="session", user=boss.user, membership=boss
        )
        partners = partner_overview(principal=manager)
        if not partners:
            print("FAIL: the managers' partners page lists no partner")
            return 1
        print(f"PASS: the partners page: {len(partners)} partners with their figures")
        rep = Membership.objects.select_related("user").get(user__email="rep@acme.example")
        riley = Principal(tenant=acme, role=rep.role, via="session", user=rep.user, membership=rep)
        week = my_week(riley)
        if not (week.to_report or week.reported or week.late):
            print("FAIL: the demo rep's My week is empty")
            return 1
        print(
            f"PASS: My week: {len(week.to_report)} to report, {week.reported_count} reported, "
            f"{len(week.late)} late"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
