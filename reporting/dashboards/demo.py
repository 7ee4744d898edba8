"""Demo data for the dashboards: the demo rep works part of their leads, then the rollups.

Through the services a rep uses (accept, log touches, qualify, close), so the
accountability dashboard shows the 4-touch cliff next to leads worked 8–12
times, and the funnel has SALs, SQLs and wins. Then the tenant's rollups are
rebuilt, so ``make run`` opens on filled dashboards.
"""

from __future__ import annotations

import random
from decimal import Decimal

from django.db import transaction

from inquiries.demo import acting_member
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leads.models import BUYER_DECLINED, Lead, LeadStage
from leads.services.closing import close_lead
from leads.services.lifecycle import accept_lead, qualify_lead
from leads.services.touches import log_touch
from reporting.dashboards.services import Refreshed, rebuild_rollups

DEMO_SEED = "dashboards-demo"


def seed_demo_dashboards(*, tenant: Tenant, work: bool) -> Refreshed:
    """Work two thirds of the demo rep's new leads (when ``work``), then rebuild the rollups."""
    with tenant_context(tenant):
        if work:
            _work(tenant)
        return rebuild_rollups()


def _work(tenant: Tenant) -> None:
    rng = random.Random(f"{DEMO_SEED}-{tenant.slug}")
    rep = acting_member(tenant, f"rep@{tenant.slug}.example")
    leads = list(
        Lead.objects.filter(rep=rep.user, stage=LeadStage.AWAITING_ACCEPTANCE).order_by("id")
    )
    # The leads demo keeps its first two awaiting (the start page's tile and My week's
    # "accept these first"): they are left as they are.
    kept = 2
    for index, lead in enumerate(leads):
        if index < kept or index % 3 == 1:
            continue  # a third waits for acceptance: the breaches and unworked leads
        try:
            with transaction.atomic():
                lead = accept_lead(lead=lead, by=rep)
                inquiry = lead.inquiry
                # Most reps stop at four; a few keep going to the 8–12 buyers need.
                touches = rng.choice([0, 1, 2, 3, 4, 4, 4, 5, 8, 9, 11])
                for _ in range(touches):
                    log_touch(inquiry=inquiry, lead=lead, kind="call", outcome="no_answer", by=rep)
                if index % 3 == 0 or touches == 0:
                    continue  # open and accepted: the weekly update is owed
                lead = qualify_lead(
                    lead=lead,
                    budget="Approved this quarter",
                    authority="Head of operations",
                    need="Replace spreadsheets",
                    timeline="Next quarter",
                    by=rep,
                )
                if touches >= 5:
                    close_lead(
                        lead=lead,
                        stage="won",
                        value=Decimal(rng.choice([8, 12, 20]) * 1000),
                        by=rep,
                    )
                else:
                    close_lead(lead=lead, stage="lost", lost_reason=BUYER_DECLINED, by=rep)
        except RuleViolation:
            continue  # a rule of the lifecycle said no: the lead stays as it was
