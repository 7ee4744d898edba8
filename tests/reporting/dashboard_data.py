"""A fixed data set for the dashboards, with every figure computed by hand in the tests.

Tenant A runs in America/New_York; the period is March 2026 there (DST starts
on 8 March). Events happen at 15:00 UTC, so time in stage is whole days.

======  ==========================  ========  ===================================
who     arrived (UTC → New York)     campaign  story
======  ==========================  ========  ===================================
i1      2 Mar                         C1        → MQL 3 Mar → lead L1 (rep R1) 5 Mar;
                                                L1 accepted 6, SQL 9, won 12 Mar ($5,000)
i2      1 Mar 03:00 (28 Feb NY)       C1        outside the period (time zone)
i3      1 Apr 03:30 (31 Mar NY)       C1        inside the period (time zone); no move
i4      10 Mar                        C1        → nurture 11 → MQL 20 → lead L4 (R2) 21;
                                                accepted 23, won 24, reopened 25 Mar
i5      15 Mar                        C2        → MQL 17 Mar
i6      16 Mar                        —         imported history: outcome won, no lead
i7      17 Mar                        C2        → MQL 18 → lead L7 (partner P1) 22;
                                                awaiting, breached 20 Mar (late event)
i8      18 Mar                        C1        → nurture 19 → lead L8 (R1) 25;
                                                accepted 28, won 30 Mar ($1,000)
======  ==========================  ========  ===================================

Touches: L1 4, L4 1 (22 Mar), L8 9; none on L7. Lead settings: stale after 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import time_machine

from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role, Tenant
from leadflow.tenancy.principal import Principal
from leads.models import LeadSettings, Target
from reporting.dashboards import services
from tests.conftest import Actor, make_actor
from tests.factories import (
    CampaignFactory,
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    TouchFactory,
)

NOW = datetime(2026, 4, 1, 14, 0, tzinfo=UTC)
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}


def at(day: int, month: int = 3, hour: int = 15, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class DataSet:
    tenant: Tenant
    rep1: Actor
    rep2: Actor
    partner_user: Actor
    manager: Actor
    ids: dict[str, int]


def _move(machine: str, pk: int, to: str, when: datetime, by: Principal, **also) -> None:
    with time_machine.travel(when, tick=False):
        assert stages.move_many(machine, [pk], to, by=by, also=also or None) == 1


def build(tenant: Tenant) -> DataSet:
    tenant.timezone = "America/New_York"
    tenant.save()
    by = Principal.system(tenant, "tests")
    rep1 = make_actor(tenant, Role.REP)
    rep2 = make_actor(tenant, Role.REP)
    manager = make_actor(tenant, Role.MANAGER)
    p1 = PartnerFactory(tenant=tenant, name="Northwind")
    PartnerFactory(tenant=tenant, name="Southwind", status="suspended")
    PartnerFactory(tenant=tenant, name="Westwind", warned_at=at(28))
    partner_user = make_actor(tenant, Role.REP, partner=p1)
    r1, r2 = rep1.user, rep2.user
    with tenant_context(tenant):
        LeadSettings.objects.create(tenant=tenant, recall_after_days=7)
        Target.objects.create(tenant=tenant, year=2026, quarter=1, rep=r1, value=Decimal(12000))
        c1 = CampaignFactory(tenant=tenant, name="Spring webinar", spend=Decimal(1000))
        c2 = CampaignFactory(tenant=tenant, name="Trade show", spend=Decimal(500))

        def inquiry(created, **kwargs):
            return InquiryFactory(tenant=tenant, created_at=created, updated_at=created, **kwargs)

        i1 = inquiry(at(2), campaign=c1, source="web_form")
        i2 = inquiry(at(1, hour=3), campaign=c1, source="web_form")
        i3 = inquiry(at(1, 4, hour=3, minute=30), campaign=c1, source="web_form")
        i4 = inquiry(at(10), campaign=c1, source="download")
        i5 = inquiry(at(15), campaign=c2, source="web_form")
        i6 = inquiry(at(16), source="event", outcome="won")
        i7 = inquiry(at(17), campaign=c2, source="partner_referral", partner=p1)
        i8 = inquiry(at(18), campaign=c1, source="web_form")

        _move("inquiry", i1.pk, "mql", at(3), by)
        _move("inquiry", i1.pk, "lead", at(5), by)
        l1 = LeadFactory(tenant=tenant, inquiry=i1, rep=r1, created_at=at(5), assigned_at=at(5))
        _move("lead", l1.pk, "accepted", at(6), by, accepted_at=at(6))
        _move("lead", l1.pk, "sql", at(9), by, qualified_at=at(9))
        _move("lead", l1.pk, "won", at(12), by, value=Decimal(5000), closed_at=at(12))

        _move("inquiry", i4.pk, "nurture", at(11), by)
        _move("inquiry", i4.pk, "mql", at(20), by)
        _move("inquiry", i4.pk, "lead", at(21), by)
        l4 = LeadFactory(tenant=tenant, inquiry=i4, rep=r2, created_at=at(21), assigned_at=at(21))
        _move("lead", l4.pk, "accepted", at(23), by, accepted_at=at(23))
        _move("lead", l4.pk, "won", at(24), by, value=Decimal(700), closed_at=at(24))
        _move("lead", l4.pk, "accepted", at(25), by, closed_at=None, value=None)

        _move("inquiry", i5.pk, "mql", at(17), by)

        _move("inquiry", i7.pk, "mql", at(18), by)
        _move("inquiry", i7.pk, "lead", at(22), by)
        l7 = LeadFactory(
            tenant=tenant, inquiry=i7, partner=p1, created_at=at(22), assigned_at=at(22)
        )

        _move("inquiry", i8.pk, "nurture", at(19), by)
        _move("inquiry", i8.pk, "lead", at(25), by)
        l8 = LeadFactory(tenant=tenant, inquiry=i8, rep=r1, created_at=at(25), assigned_at=at(25))
        _move("lead", l8.pk, "accepted", at(28), by, accepted_at=at(28))
        _move("lead", l8.pk, "won", at(30), by, value=Decimal(1000), closed_at=at(30))

        for n in range(4):
            TouchFactory(tenant=tenant, lead=l1, user=r1, at=at(6 + n))
        TouchFactory(tenant=tenant, lead=l4, user=r2, at=at(22))
        for n in range(9):
            TouchFactory(tenant=tenant, lead=l8, user=r1, at=at(25, hour=n + 1))
        services.refresh_rollups()
        # A late event: the breach is recorded after the refresh, without a move.
        type(l7).objects.filter(pk=l7.pk).update(breached_at=at(20))
        services.refresh_rollups()
    ids = {
        "i1": i1.pk, "i2": i2.pk, "i3": i3.pk, "i4": i4.pk, "i5": i5.pk, "i6": i6.pk,
        "i7": i7.pk, "i8": i8.pk, "l1": l1.pk, "l4": l4.pk, "l7": l7.pk, "l8": l8.pk,
        "c1": c1.pk, "c2": c2.pk, "p1": p1.pk,
    }  # fmt: skip
    return DataSet(tenant, rep1, rep2, partner_user, manager, ids)
