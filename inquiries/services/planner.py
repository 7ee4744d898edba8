"""The planner's statistics after a job that wrote many rows: no reliance on autovacuum.

Autovacuum analyses a table once enough of it changed, some time later — or
never, where it is off (as on the test server) or behind. A rescore planned
on statistics that predate an import of 9,000 rows joined them row by row
(51 s instead of 0.4 s). So every job that writes many rows (an import, a
rescore, a bulk triage job, outcomes in bulk) refreshes the statistics of
the inquiry tables when it ends, and a rescore also before it starts.

Only the table owner may ANALYZE; the owner's ``inquiries_analyze_written()``
(migration 0041) lets the runtime role ask. ANALYZE reads a sample of at
most 30,000 rows per table: well under a second even for large tenants.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

# Fewer rows written than this leave the statistics to autovacuum (and to the import's own
# refresh while it grows a tenant, ``imports/statistics.py``).
ANALYZE_AFTER = 500


def refresh_statistics(rows_written: int) -> bool:
    """ANALYZE the inquiry tables if ``rows_written`` is many; True if it ran (PostgreSQL)."""
    if connection.vendor != "postgresql" or rows_written < ANALYZE_AFTER:
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT inquiries_analyze_written()")
    except DatabaseError:
        # The job's rows are written; only the next plan may be slow. Never fail a job for it.
        logger.exception("refreshing the planner's statistics failed")
        if connection.in_atomic_block:
            raise
        return False
    return True
