"""The start page's marketing tiles: registered in ``InquiriesConfig.ready()``.

Each source reads one selector of ``inquiries/selectors/start_page.py`` (one
query) and links each count to the page that lists those rows, filtered.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from inquiries.selectors import start_page as counts
from leadflow.lib import start_page, times
from leadflow.lib.start_page import Tile
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import EDITORS, MARKETING

NEW_DAYS = 7
IMPORT_PROBLEM_DAYS = 30
DUPLICATES_CAP = 20


def _inbox(**query: str) -> str:
    return f"{reverse('inquiry-list')}?{urlencode(query)}"


def week_start(principal: Principal) -> datetime:
    """Midnight six days ago in the viewer's zone: "this week" is today and the six days before."""
    tz = principal.timezone
    day = timezone.localdate(timezone=tz) - timedelta(days=NEW_DAYS - 1)
    return datetime.combine(day, time.min, tzinfo=tz)


def triage_tiles(principal: Principal) -> list[Tile]:
    """New inquiries this week, MQLs waiting for an appointment, and the qualifier's own."""
    since = week_start(principal)
    found = counts.triage_counts(since=since, user_id=principal.user.pk if principal.user else None)
    tiles = [
        Tile(
            key="inquiries.new",
            label="New inquiries this week",
            count=found.new_since,
            url=_inbox(created_from=since.date().isoformat()),
            hint=f"Arrived since {times.shown_day(since, principal.timezone)}.",
        ),
        Tile(
            key="inquiries.mql",
            label="MQLs waiting for an appointment",
            count=found.mqls,
            url=_inbox(stage="mql", sort="score"),
            hint=f"{found.mqls_unassigned} not picked up by anyone yet.",
            tone="attention" if found.mqls else "info",
        ),
    ]
    if principal.has_role(Role.QUALIFIER):
        tiles.append(
            Tile(
                key="inquiries.mql_mine",
                label="Your MQLs to call",
                count=found.mqls_mine,
                url=_inbox(stage="mql", assigned="me", sort="score"),
                hint="Assigned to you: book the decision-maker's appointment.",
                tone="attention" if found.mqls_mine else "info",
            )
        )
    return tiles


def duplicate_tiles(principal: Principal) -> list[Tile]:
    found = counts.duplicate_pair_count(cap=DUPLICATES_CAP)
    return [
        Tile(
            key="inquiries.duplicates",
            label="Duplicates to review",
            count=min(found, DUPLICATES_CAP),
            capped=found > DUPLICATES_CAP,
            url=reverse("inquiry-duplicates"),
            hint="Likely the same person twice; merge or leave them.",
            tone="attention" if found else "info",
        )
    ]


def import_tiles(principal: Principal) -> list[Tile]:
    since = timezone.now() - timedelta(days=IMPORT_PROBLEM_DAYS)
    found = counts.import_counts(since=since)
    url = reverse("import-list")
    return [
        Tile(key="imports.running", label="Imports running", count=found.running, url=url),
        Tile(
            key="imports.problems",
            label="Imports with problems",
            count=found.with_problems,
            url=url,
            hint=f"Finished in the last {IMPORT_PROBLEM_DAYS} days with rows skipped, "
            "nothing imported, or failed.",
            tone="attention" if found.with_problems else "info",
        ),
    ]


def definition_tiles(principal: Principal) -> list[Tile]:
    state = counts.definition_state()
    if state.active_version is None:
        hint = "No active version: inquiries are not scored until one is signed and active."
    else:
        hint = f"Version {state.active_version} is active."
    return [
        Tile(
            key="definition.drafts",
            label="Definition drafts awaiting sign-off",
            count=state.drafts_unsigned,
            url=reverse("definition-list"),
            hint=hint,
            tone="attention" if state.drafts_unsigned or state.active_version is None else "info",
        )
    ]


def register() -> None:
    start_page.register("inquiries.triage", triage_tiles, audiences=MARKETING, order=10)
    start_page.register(
        "inquiries.duplicates", duplicate_tiles, audiences=(Role.QUALIFIER, Role.MARKETER), order=20
    )
    start_page.register(
        "inquiries.imports",
        import_tiles,
        audiences=(Role.MARKETER, Role.QUALIFIER, Role.ADMIN),
        order=30,
    )
    start_page.register(
        "inquiries.definition",
        definition_tiles,
        audiences=EDITORS,
        order=40,
    )
