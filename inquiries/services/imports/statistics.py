"""Keeping the planner's statistics fresh while an import grows a tenant (PostgreSQL)."""

from __future__ import annotations

import json
import logging
import threading

from django.db import DatabaseError, connection

from leadflow.tenancy.context import require_tenant_id

logger = logging.getLogger(__name__)


class PlannerStatistics:
    """Keeps the planner's idea of the tenant's size near the truth during a long import.

    Table statistics that predate a new tenant make the planner take it for
    one row: each chunk's lookups then read every row the import has written
    so far instead of probing the key indexes, and the import slows down as
    it goes (300,000 rows into a fresh table: 65 s, against 3 × 14 s). Before
    a chunk, when the rows written are at least ``STALE_AFTER`` and twice the
    planner's estimate of the tenant, the owner's
    ``inquiries_refresh_statistics()`` (migration 0008) analyses the tenant
    and key columns — at most once per fourfold growth of the rows written (each
    call samples the whole table: 0.33 s at a million rows), since a tenant
    small beside the others may stay misjudged.

    Outside a transaction (the import's chunks each commit) the refresh runs
    in a thread on a connection of its own, so on another server process and
    core while the import writes on; the chunk after it is planned with the
    new figures. Inside one, a second connection would not see the rows this
    transaction wrote, so it runs here. ``wait`` returns once it is done.
    """

    STALE_AFTER = 10_000
    GROWTH = 4

    def __init__(self) -> None:
        self.refreshed_at = 0
        self._beside: threading.Thread | None = None

    def refresh_if_stale(self, written: int) -> bool:
        """Start a refresh if the planner misjudges the tenant; True if one was started."""
        if self._beside is not None and self._beside.is_alive():
            return False
        if written < max(self.STALE_AFTER, self.GROWTH * self.refreshed_at):
            return False
        if 2 * estimated_tenant_rows() >= written:
            return False
        self.refreshed_at = written
        if connection.in_atomic_block:
            _refresh_statistics()
        else:
            self._beside = threading.Thread(
                target=_refresh_statistics_beside, name="import-statistics", daemon=True
            )
            self._beside.start()
        return True

    def wait(self) -> None:
        """Return once the refresh started last (if any) has ended."""
        if self._beside is not None:
            self._beside.join()


def _refresh_statistics() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT inquiries_refresh_statistics()")


def _refresh_statistics_beside() -> None:
    """In its own thread, so on its own connection; closed at the end."""
    try:
        _refresh_statistics()
    except DatabaseError:
        # Only the planner's figures stay old: the import goes on, slower.
        logger.exception("refreshing the inquiry statistics failed")
    finally:
        connection.close()


def estimated_tenant_rows() -> int:
    """How many inquiries the planner expects the current tenant to have."""
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM inquiries_inquiry WHERE tenant_id = %s",
            [require_tenant_id()],
        )
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
