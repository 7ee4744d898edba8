"""A fixed data set for the weekly report, with the figures worked out by hand.

Tenant A on Berlin time, ISO week 2026-W53: Monday 28 December 2026 to Sunday
3 January 2027 (a week 53, across the year boundary). Its quarter (by the
Monday) is 2026-Q4.

| lead | owner (team) | what | in W53? |
| --- | --- | --- | --- |
| won_in | Riley (North) | won 1000.00, closed Mon 28 Dec 00:30 Berlin (Sun 23:30 UTC) | yes |
| won_before | Riley | won 500.00, closed Sun 27 Dec 23:30 Berlin | no (quarter yes) |
| lost_riley | Riley | lost "no budget", closed Sun 3 Jan 23:59 Berlin | yes |
| lost_sam | Sam (North) | lost "no budget", Fri 1 Jan 12:00 | yes |
| postponed | Partner Northwind | postponed until 2027-02-01, Wed 30 Dec | yes |
| missing | Sam | accepted 1 Dec, no update for W53 | missing |
| progressed | Sam | SQL, progress update for W53, 2 touches in it, 1 after | progressed |
| exempt | Riley | accepted, assigned Thu 31 Dec | owes nothing |
| breached | Riley | awaiting, breached Wed 30 Dec | breach |
| (history) | — | an imported inquiry with outcome "won" | never |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead, Target
from tests.conftest import make_actor
from tests.factories import (
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    TeamFactory,
    TouchFactory,
    WeeklyUpdateFactory,
)

BERLIN = ZoneInfo("Europe/Berlin")
W53 = date(2026, 12, 28)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@dataclass
class DataSet:
    tenant: object
    riley: object
    sam: object
    manager: object
    partner: object
    partner_user: object
    team: object
    leads: dict[str, Lead]


def build(actors) -> DataSet:
    tenant = actors.tenant_a
    tenant.timezone = "Europe/Berlin"
    tenant.save(update_fields=["timezone"])
    riley = make_actor(tenant, Role.REP, user__full_name="Riley Rep")
    sam = make_actor(tenant, Role.REP, user__full_name="Sam Seller")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Manager")
    with tenant_context(tenant):
        partner = PartnerFactory(tenant=tenant, name="Northwind", contact_email="nw@partner.test")
        team = TeamFactory(tenant=tenant, name="North")
    partner_user = make_actor(tenant, Role.REP, partner=partner, user__full_name="Pia Partner")
    r, s = riley.user, sam.user

    def lead(**fields) -> Lead:
        fields.setdefault("assigned_at", berlin(2026, 12, 1, 9))
        return LeadFactory(tenant=tenant, **fields)

    with tenant_context(tenant):
        leads = {
            "won_in": lead(
                rep=r,
                team=team,
                stage="won",
                value=Decimal("1000.00"),
                closed_at=berlin(2026, 12, 28, 0, 30),
            ),
            "won_before": lead(
                rep=r, stage="won", value=Decimal("500.00"), closed_at=berlin(2026, 12, 27, 23, 30)
            ),
            "lost_riley": lead(
                rep=r,
                stage="lost",
                lost_reason="no budget",
                closed_at=berlin(2027, 1, 3, 23, 59),
            ),
            "lost_sam": lead(
                rep=s,
                team=team,
                stage="lost",
                lost_reason="no budget",
                closed_at=berlin(2027, 1, 1, 12),
            ),
            "postponed": lead(
                partner=partner,
                stage="postponed",
                postponed_until=date(2027, 2, 1),
                closed_at=berlin(2026, 12, 30, 10),
            ),
            "missing": lead(rep=s, stage="accepted"),
            "progressed": lead(rep=s, stage="sql"),
            "exempt": lead(rep=r, stage="accepted", assigned_at=berlin(2026, 12, 31, 9)),
            "breached": lead(
                rep=r, stage="awaiting_acceptance", breached_at=berlin(2026, 12, 30, 9)
            ),
        }
        progressed = leads["progressed"]
        WeeklyUpdateFactory(tenant=tenant, lead=progressed, week=W53, status="progress")
        for at in (berlin(2026, 12, 29, 10), berlin(2027, 1, 2, 18), berlin(2027, 1, 4, 0, 30)):
            TouchFactory(tenant=tenant, lead=progressed, user=s, at=at)
        # Onboarding history: an old CRM's won deal, imported onto the inquiry, never a lead.
        InquiryFactory(tenant=tenant, outcome="won", external_source="oldcrm")
        Target.objects.create(tenant=tenant, year=2026, quarter=4, rep=r, value=Decimal("5000"))
    return DataSet(
        tenant=tenant,
        riley=riley,
        sam=sam,
        manager=manager,
        partner=partner,
        partner_user=partner_user,
        team=team,
        leads=leads,
    )


def ids(data: DataSet, *names: str) -> list[int]:
    return sorted(data.leads[name].pk for name in names)
