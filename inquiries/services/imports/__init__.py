"""CSV import: upload, column mapping, dry run, and the resumable set-based job.

``analyse_upload`` streams the file to ``settings.IMPORTS_ROOT``, detects its
encoding (UTF-8 with or without BOM, else Windows-1252) and delimiter (comma,
semicolon or tab), checks its structure in one streaming pass and suggests a
mapping; a malformed file is refused whole. ``set_mapping`` validates the
mapping (creating custom fields on the spot) and clears an earlier dry run,
``request_dry_run`` queues a dry run that ``run_dry_run`` (on a worker) works
through, counting what a real run would do without writing and saving its
progress on the job, ``start_import`` queues the job and ``run_import_job``
works through the file in chunks.

Every row is validated with the API's rules (``services/validation.py``,
``custom_fields.clean_custom_values``) and normalised by capture's own
``_normalized``. A row whose identity (email, phone, external id) is bad or
missing is skipped and its problems reported cell by cell
(``ImportRowError``, errors); any other bad cell is left out of a row that
is imported, and reported as a warning. Rows are matched to people by
capture's rule — email (trimmed, lower-cased), else the external id from the
same source, else the normalised phone (the oldest inquiry with it) — against
the inquiries already stored and the rows before them, in the order the
import takes them (``order.py``: file order, but a row whose email came
earlier right after the first row with it), exactly as capturing the rows
one by one in that order would.

Each chunk is one transaction: on PostgreSQL every row is prepared in Python
— a new person scored by ``scoring.score`` (by the reader, a forked process
that reads, checks and scores the next chunk while this one is written),
a known one merged by ``merge_into`` into its stored row (read ``FOR
UPDATE`` with its activities) and rescored — and in its stage (MQL queue or
nurture, moved through the stage mover; a new person is created in its
stage, which is not a move); the rows are streamed with ``COPY`` into
temporary tables and written once by one ``INSERT`` and one ``UPDATE``, their
activities added (an activity already on the timeline is not added twice, so
re-importing a file changes nothing); the job's progress is saved in the
same transaction. A killed worker leaves
whole chunks only, and the next run resumes after the last committed row. On
SQLite the same bookkeeping runs with ORM bulk statements and Python scoring.

Where the import differs from capturing each row through the API, on purpose:
a row adds no generic "response" activity (only the activity columns mapped),
a merge adds a "merged" timeline entry only when it changed something, and the
audit log gets one event per job rather than one per row.

The package, in the order a file goes through it: ``upload.py`` (storing and
reading the upload, ``files.py`` its CSV helpers), ``mapping.py``,
``dry_run.py``, ``starting.py`` (start, cancel, expire: the services that
record a job and enqueue it), ``run.py`` (what the worker runs), with
``chunks.py`` and ``order.py`` (the rows in chunks, a person's rows together),
``rows.py`` (checking cells), ``matching.py`` and ``writing.py`` (the two writing
paths, with ``staging.py``, ``scorer.py``, ``merge.py`` and
``statistics.py``). Callers use the names below; the modules are the
package's own.
"""

from __future__ import annotations

from inquiries.services.imports.chunks import DEFAULT_CHUNK_SIZE, STALE_AFTER
from inquiries.services.imports.dry_run import (
    DRY_RUN_BUSY,
    dry_run_busy,
    dry_run_found_nothing,
    request_dry_run,
    run_dry_run,
)
from inquiries.services.imports.mapping import MAX_PLACEHOLDERS, reuse_mapping, set_mapping
from inquiries.services.imports.run import run_import_job
from inquiries.services.imports.starting import (
    cancel_import,
    expire_unstarted_uploads,
    start_import,
)
from inquiries.services.imports.upload import (
    analyse_upload,
    imports_root,
    stored_file,
    suggest_mapping,
)
from inquiries.services.imports.values import set_value_mapping

__all__ = [
    "set_value_mapping",
    "DEFAULT_CHUNK_SIZE",
    "DRY_RUN_BUSY",
    "MAX_PLACEHOLDERS",
    "STALE_AFTER",
    "analyse_upload",
    "cancel_import",
    "dry_run_busy",
    "dry_run_found_nothing",
    "expire_unstarted_uploads",
    "imports_root",
    "request_dry_run",
    "reuse_mapping",
    "run_dry_run",
    "run_import_job",
    "set_mapping",
    "start_import",
    "stored_file",
    "suggest_mapping",
]
