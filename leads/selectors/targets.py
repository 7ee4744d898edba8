"""Quarterly targets: which quarter is meant, the tenant's targets for it, and the sheet to edit.

A quarter is named ``2026-Q4``; "now" is read in the tenant's zone. The
sheet lists every active rep (a member who sells: rep, manager or admin, not a
partner's user), every active partner and every team, each with its target
for the quarter if it has one: three queries whatever the numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Partner, PartnerStatus, Role, User
from leads.models import Target, Team

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
# The roles that sell: ``leads.services.booking.REP_ROLES`` (what ``check_rep`` accepts;
# a selector may not import a service, and a test keeps the two equal).
SELLING_ROLES = (Role.REP, Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.number}"

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)


def current_quarter(tz: tzinfo, at: datetime | None = None) -> Quarter:
    """The quarter ``at`` (default now) falls in, read in ``tz``."""
    local = (at or timezone.now()).astimezone(tz)
    return Quarter(local.year, (local.month - 1) // 3 + 1)


def parse_quarter(text: str) -> Quarter:
    """``2026-Q4`` → Quarter(2026, 4); anything else is refused on ``quarter``."""
    found = QUARTER.match((text or "").strip().upper())
    if found is None:
        raise RuleViolation(
            field="quarter", code="invalid", message="Give a quarter as YYYY-Qn, e.g. 2026-Q4."
        )
    return Quarter(int(found.group(1)), int(found.group(2)))


def targets_of(quarter: Quarter) -> QuerySet[Target]:
    """The current tenant's targets for ``quarter``, owners joined; one query."""
    return (
        Target.objects.filter(year=quarter.year, quarter=quarter.number)
        .select_related("rep", "partner", "team")
        .order_by("id")
    )


@dataclass
class SheetRow:
    """One owner on the targets page: ``key`` is ``rep-<id>``, ``partner-<id>`` or ``team-<id>``."""

    key: str
    kind: str
    name: str
    owner: User | Partner | Team
    target: Target | None
    # What the page shows in the inputs (the stored target, or what was typed) and a row's error.
    typed: dict[str, str] = field(default_factory=dict)
    error: RuleViolation | None = None

    @property
    def value(self) -> Decimal | None:
        return self.target.value if self.target else None

    @property
    def count(self) -> int | None:
        return self.target.count if self.target else None


@dataclass
class Sheet:
    quarter: Quarter
    reps: list[SheetRow]
    partners: list[SheetRow]
    teams: list[SheetRow]

    @property
    def rows(self) -> list[SheetRow]:
        return [*self.reps, *self.partners, *self.teams]


def selling_reps() -> QuerySet[User]:
    """Users who are active, selling members of the current tenant (``check_rep``'s rule)."""
    members = Membership.objects.filter(
        is_active=True, partner__isnull=True, role__in=SELLING_ROLES
    )
    return User.objects.filter(is_active=True, pk__in=members.values("user_id"))


def target_sheet(quarter: Quarter) -> Sheet:
    """Every active rep, active partner and team with its target for ``quarter``: four queries."""
    targets = list(targets_of(quarter))
    by_rep = {t.rep_id: t for t in targets if t.rep_id is not None}
    by_partner = {t.partner_id: t for t in targets if t.partner_id is not None}
    by_team = {t.team_id: t for t in targets if t.team_id is not None}
    reps = [
        SheetRow(f"rep-{u.pk}", "rep", u.display_name, u, by_rep.get(u.pk))
        for u in sorted(selling_reps(), key=lambda u: (u.display_name.casefold(), u.pk))
    ]
    partners = [
        SheetRow(f"partner-{p.pk}", "partner", p.name, p, by_partner.get(p.pk))
        for p in Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("name", "id")
    ]
    teams = [
        SheetRow(f"team-{t.pk}", "team", t.name, t, by_team.get(t.pk))
        for t in Team.objects.order_by("name", "id")
    ]
    return Sheet(quarter=quarter, reps=reps, partners=partners, teams=teams)
