"""My week's backlog (from the updates) and the digest's (from ``Lead.reported_weeks``) agree."""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.selectors.my_week import my_week
from leads.services.digests import digest_rows
from leads.services.updates import record_weekly_update
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory

BERLIN = ZoneInfo("Europe/Berlin")
# 2026-W50: Monday 7 December, 09:00 in Berlin.
MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN)


def test_my_weeks_backlog_is_the_digests_on_seeded_leads(actors):
    tenant = actors.tenant_a
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    rep = make_actor(tenant, Role.REP)
    seed = random.Random(17)
    with time_machine.travel(NOW, tick=False), tenant_context(tenant):
        for _n in range(20):
            # Assigned 0–12 weeks back on any day, some around midnight; some accepted later.
            back = timedelta(
                weeks=seed.randint(0, 12), days=seed.randint(0, 6), hours=seed.choice([0, 9, 10])
            )
            assigned = NOW - back
            accepted = assigned + timedelta(days=seed.choice([0, 0, 3, 10, 24]))
            lead = LeadFactory(
                tenant=tenant,
                inquiry=InquiryFactory(tenant=tenant, stage="lead"),
                rep=rep.user,
                stage="accepted",
                assigned_at=assigned,
                accepted_at=min(accepted, NOW),
            )
            first = assigned.astimezone(BERLIN).date()
            first -= timedelta(days=first.weekday())
            weeks = [first + timedelta(weeks=n) for n in range((MONDAY - first).days // 7 + 1)]
            # Reported weeks in a random order, so some updates come late.
            for week in seed.sample(weeks, k=seed.randint(0, len(weeks))):
                record_weekly_update(
                    lead=lead, by=rep.principal, status="progress", note="Called", week=week
                )
        page = my_week(rep.principal)
        [row] = digest_rows(MONDAY, BERLIN)
    from_updates = {late.lead.pk: sorted(late.weeks) for late in page.late}
    from_row = {lead.id: weeks for lead, weeks in row.late}
    assert len(from_updates) >= 5 and from_updates == from_row
    assert sorted(lead.pk for lead in page.to_report) == sorted(lead.id for lead in row.missing)
