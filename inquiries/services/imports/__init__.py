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

The reading helpers live in ``files.py``, row validation and matching
in ``rows.py``, and the two writing paths in ``writing.py``.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inquiries.models import (
    CustomField,
    CustomFieldKind,
    ImportJob,
    ImportMapping,
    ImportRowError,
    ImportStatus,
    Inquiry,
)
from inquiries.selectors.scoring import active_definition, rules_of
from inquiries.services import scoring as scoring_services
from inquiries.services.custom_fields import define_custom_field
from inquiries.services.imports.files import (
    check_structure,
    looks_binary,
    read_records,
    sniff_delimiter,
    store_upload,
    unreadable,
)
from inquiries.services.imports.order import find_repeats, read_in_person_order
from inquiries.services.imports.rows import (
    CellError,
    Matcher,
    Person,
    Plan,
    Row,
    parse_chunk,
    resolve,
)
from inquiries.services.imports.writing import (
    PlannerStatistics,
    Scorer,
    Written,
    prepare_rows,
    route_written,
    write_in_sql,
    write_with_orm,
)
from inquiries.services.validation import (
    ACTIVITY_KINDS,
    CELL_FIELDS,
)
from leadflow.lib import jobs
from leadflow.lib.ahead import ProducerFailed, ahead
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import EDITORS
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

DEFAULT_PLACEHOLDERS = ["N/A", "-", "--", "Select", "null"]
DEFAULT_CHUNK_SIZE = 5_000
# A running job whose heartbeat is older than this is taken to be dead; another run resumes it.
STALE_AFTER = timedelta(minutes=2)
# PostgreSQL text cannot hold NUL; the report shows where it was.
NUL_SHOWN = "\u2400"
DRY_RUN_ERRORS = 20
# The missing campaigns a dry run lists (and the page offers to create) at most.
MISSING_CAMPAIGNS_SHOWN = 100
# States of ``ImportJob.dry_run`` in which a worker is (or should be) at it.
DRY_RUN_BUSY = ("queued", "running")
MAX_PLACEHOLDERS = 50
IDENTITY_FIELDS = ("email", "phone", "external_id")
# Header spellings (lower-case, non-alphanumerics as "_") that suggest a standard field.
HEADER_ALIASES = {
    "email": ("email", "e_mail", "email_address", "mail", "work_email"),
    "first_name": ("first_name", "firstname", "given_name", "first", "forename"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "last"),
    "phone": ("phone", "phone_number", "telephone", "tel", "mobile", "mobile_phone"),
    "title": ("title", "job_title", "position", "role"),
    "company": ("company", "company_name", "organization", "organisation", "account"),
    "company_size": ("company_size", "employees", "number_of_employees", "headcount", "size"),
    "industry": ("industry", "vertical", "sector"),
    "country": ("country", "country_code"),
    "region": ("region", "state", "province"),
    "interest": ("interest", "product_interest", "interested_in"),
    "timeline": ("timeline", "purchase_timeline", "timeframe", "buying_timeline"),
    "source": ("source", "lead_source"),
    "consent": ("consent", "email_consent", "marketing_consent"),
    "external_id": ("external_id", "id", "record_id", "contact_id", "lead_id"),
    "external_source": ("external_source", "system", "origin"),
}
CAMPAIGN_HEADERS = ("campaign", "campaign_name", "utm_campaign")
KIND_ALIASES = {"yes_no": CustomFieldKind.BOOLEAN, "boolean": CustomFieldKind.BOOLEAN}
FINISHED = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)
# Who may define a custom field from the mapping screen: those running imports, not qualifiers.


# --- Reading the file ------------------------------------------------------------------


def imports_root() -> Path:
    return Path(settings.IMPORTS_ROOT)


def stored_file(job: ImportJob) -> Path:
    return imports_root() / job.stored_path


def _normal_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def _open(job: ImportJob) -> io.TextIOWrapper:
    return open(stored_file(job), encoding=job.encoding, newline="", errors="strict")  # noqa: SIM115


def analyse_upload(*, file: Any, file_name: str, by: Principal) -> ImportJob:
    """Keep the uploaded CSV, work out how to read it and suggest a mapping of its columns.

    A file that cannot be read as CSV (empty, header only, ragged rows, an
    unclosed quote, binary) is refused with what is wrong and where; nothing
    is kept.
    """
    relative = Path(str(by.tenant.pk)) / f"{uuid.uuid4().hex}.csv"
    path = imports_root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        size, sha256, utf8, nul, head = store_upload(file, path)
        if size == 0:
            raise unreadable("The file is empty.", code="empty")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
            nul and head.count(b"\x00") > len(head) // 100
        ):
            raise unreadable(
                "The file contains NUL bytes: it is binary or UTF-16, not a CSV text file. "
                "Save it as CSV (UTF-8) and upload it again.",
                code="binary",
            )
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            encoding = "utf-8" if utf8 else "cp1252"
        sample = head.decode(encoding, errors="replace")
        if looks_binary(sample):
            raise unreadable(
                "The file contains control characters: it looks like a binary file, not CSV.",
                code="binary",
            )
        delimiter = sniff_delimiter(sample)
        headers, total = check_structure(path, encoding, delimiter)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        job = ImportJob.objects.create(
            tenant=by.tenant,
            created_by=by.user,
            file_name=Path(file_name or "import.csv").name[:255],
            stored_path=str(relative),
            file_size=size,
            file_sha256=sha256,
            encoding=encoding,
            delimiter=delimiter,
            headers=headers,
            mapping=suggest_mapping(headers),
            placeholders=list(DEFAULT_PLACEHOLDERS),
            total_rows=total,
        )
        record_audit(
            action="import.uploaded",
            obj=job,
            after={"file_name": job.file_name, "rows": total, "size": size},
            by=by,
        )
    return job


def suggest_mapping(headers: list[str]) -> dict[str, dict[str, Any]]:
    """A first mapping by header names: standard fields, custom fields, activity dates."""
    aliases = {alias: name for name, names in HEADER_ALIASES.items() for alias in names}
    custom = {}
    for key, label in CustomField.objects.values_list("key", "label"):
        custom[key] = custom[_normal_header(label)] = key
    kinds = {}
    for kind in ACTIVITY_KINDS:
        for suffix in ("", "_date", "_at", "_on", "_time"):
            kinds[f"{kind}{suffix}"] = kind
    mapping: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for header in headers:
        name = _normal_header(header)
        if name in aliases and aliases[name] not in taken:
            mapping[header] = {"to": "field", "field": aliases[name]}
            taken.add(aliases[name])
        elif name in custom and f"custom.{custom[name]}" not in taken:
            mapping[header] = {"to": "custom", "key": custom[name]}
            taken.add(f"custom.{custom[name]}")
        elif name in kinds:
            mapping[header] = {"to": "activity", "kind": kinds[name]}
        elif name in CAMPAIGN_HEADERS and "campaign" not in taken:
            mapping[header] = {"to": "campaign"}
            taken.add("campaign")
        elif name in ("outcome", "result", "won_lost") and "outcome" not in taken:
            mapping[header] = {"to": "outcome"}
            taken.add("outcome")
        else:
            mapping[header] = {"to": "ignore"}
    return mapping


# --- Mapping ---------------------------------------------------------------------------


def _mapping_error(header: str, code: str, message: str) -> RuleViolation:
    return RuleViolation(field=f"mapping.{header}", code=code, message=message)


@transaction.atomic
def set_mapping(
    *,
    job: ImportJob,
    mapping: dict[str, Any],
    placeholders: list[str],
    save_as: str = "",
    by: Principal,
) -> ImportJob:
    """Say where each column goes; custom fields asked for are created now.

    Columns left out are ignored. At least one column must give an identity
    (email, phone or external id), and no two columns may fill the same field.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message=f"This import is {job.get_status_display().lower()}; "
            "its mapping can no longer change.",
        )
    if not isinstance(mapping, dict):
        raise RuleViolation(field="mapping", code="invalid", message="Give an object.")
    placeholders = _clean_placeholders(placeholders)
    clean: dict[str, dict[str, Any]] = {}
    targets: set[str] = set()
    fields = {f.key: f for f in CustomField.objects.all()}
    for header, spec in mapping.items():
        if header not in job.headers:
            raise _mapping_error(header, "unknown_column", f"The file has no column {header!r}.")
        target, spec = _clean_spec(header, spec, fields, by)
        if target and target in targets:
            raise _mapping_error(
                header, "duplicate_target", f"Another column already fills {target}."
            )
        if target:
            targets.add(target)
        clean[header] = spec
    for header in job.headers:
        clean.setdefault(header, {"to": "ignore"})
    if not targets & set(IDENTITY_FIELDS):
        raise RuleViolation(
            field="mapping",
            code="identity_required",
            message="Map at least one column to email, phone or external_id.",
        )
    job.mapping = clean
    job.placeholders = placeholders
    job.dry_run = None
    job.save(update_fields=["mapping", "placeholders", "dry_run"])
    save_as = (save_as or "").strip()
    if save_as:
        if len(save_as) > 100:
            raise RuleViolation(field="save_as", code="invalid", message="At most 100 characters.")
        saved, _ = ImportMapping.objects.update_or_create(
            name=save_as,
            defaults={
                "tenant": by.tenant,
                "mapping": clean,
                "placeholders": placeholders,
                "created_by": by.user,
            },
        )
        record_audit(action="import_mapping.saved", obj=saved, after={"name": save_as}, by=by)
    record_audit(
        action="import.mapped",
        obj=job,
        after={"mapping": clean, "placeholders": placeholders},
        by=by,
    )
    return job


def reuse_mapping(*, job: ImportJob, saved: ImportMapping, by: Principal) -> ImportJob:
    """Apply a saved mapping to this file's columns (columns it does not know are ignored)."""
    mapping = {h: spec for h, spec in saved.mapping.items() if h in job.headers}
    return set_mapping(job=job, mapping=mapping, placeholders=saved.placeholders, by=by)


def _clean_placeholders(placeholders: Any) -> list[str]:
    if placeholders is None:
        return []
    if not isinstance(placeholders, list) or len(placeholders) > MAX_PLACEHOLDERS:
        raise RuleViolation(
            field="placeholders",
            code="invalid",
            message=f"Give a list of at most {MAX_PLACEHOLDERS} values.",
        )
    clean = []
    for value in placeholders:
        if not isinstance(value, str) or len(value) > 100 or "\x00" in value:
            raise RuleViolation(
                field="placeholders", code="invalid", message="Each value is text of ≤ 100 chars."
            )
        if value.strip() and value.strip() not in clean:
            clean.append(value.strip())
    return clean


def _clean_spec(
    header: str, spec: Any, fields: dict[str, CustomField], by: Principal
) -> tuple[str, dict[str, Any]]:
    """(what it fills, the stored spec) of one column, or RuleViolation."""
    to = spec.get("to") if isinstance(spec, dict) else None
    if to == "ignore":
        return "", {"to": "ignore"}
    if to == "field":
        name = spec.get("field")
        if name not in CELL_FIELDS:
            raise _mapping_error(
                header,
                "unknown_field",
                f"Unknown field {name!r}; use one of {', '.join(CELL_FIELDS)}.",
            )
        return name, {"to": "field", "field": name}
    if to == "custom":
        key = spec.get("key")
        create = spec.get("create")
        if not isinstance(key, str) or not key:
            raise _mapping_error(header, "invalid", "Give the custom field's key.")
        if key not in fields:
            if not isinstance(create, dict):
                raise _mapping_error(
                    header, "unknown_custom_field", f"No custom field {key!r}; ask to create it."
                )
            if not by.has_role(*EDITORS):
                raise _mapping_error(
                    header,
                    "not_allowed",
                    "Your role may not define custom fields; map to an existing one.",
                )
            kind = KIND_ALIASES.get(create.get("kind"), create.get("kind"))
            try:
                fields[key] = define_custom_field(
                    key=key,
                    label=str(create.get("label") or key),
                    kind=str(kind),
                    choices=create.get("choices"),
                    by=by,
                )
            except RuleViolation as exc:
                raise _mapping_error(header, exc.code, exc.message) from None
        return f"custom.{fields[key].key}", {"to": "custom", "key": fields[key].key}
    if to == "activity":
        kind = spec.get("kind")
        if kind not in ACTIVITY_KINDS:
            raise _mapping_error(header, "unknown_activity", f"Unknown activity type {kind!r}.")
        return "", {"to": "activity", "kind": kind}
    if to == "outcome":
        return "outcome", {"to": "outcome"}
    if to == "campaign":
        return "campaign", {"to": "campaign"}
    raise _mapping_error(
        header, "invalid", 'Map to field, custom, activity, campaign, outcome or ignore ("to").'
    )


# --- Rows: validation and matching ------------------------------------------------------


def _records_in_order(job: ImportJob, plan: Plan) -> Iterator[tuple[int, list[str]]]:
    """The file's records, the rows sharing an email after the first of them (``order.py``)."""
    emails = [
        index
        for index, _header, spec in plan.columns
        if spec["to"] == "field" and spec["field"] == "email"
    ]
    if emails:
        repeats = find_repeats(
            stored_file(job),
            job.encoding,
            job.delimiter,
            emails[-1],
            plan.placeholders,
            job.total_rows,
        )
        if repeats is not None and repeats.positions:
            yield from read_in_person_order(stored_file(job), job.encoding, job.delimiter, repeats)
            return
    with _open(job) as handle:
        yield from read_records(handle, job.delimiter)


def _chunks(
    job: ImportJob, plan: Plan, size: int, skip: int = 0
) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows in chunks of ``size``, in a person's-rows-together order, after ``skip`` rows."""
    chunk: list[tuple[int, list[str]]] = []
    seen = 0
    for record in _records_in_order(job, plan):
        seen += 1
        if seen <= skip:
            continue
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- Dry run ---------------------------------------------------------------------------


def _require_mapping(job: ImportJob) -> None:
    targets = {spec.get("field") for spec in job.mapping.values() if spec.get("to") == "field"}
    if not targets & set(IDENTITY_FIELDS):
        raise RuleViolation(
            field="mapping",
            code="mapping_required",
            message="Map the columns first (at least one of email, phone or external_id).",
        )


def dry_run_busy(job: ImportJob) -> bool:
    """Whether a dry run of the job is queued or running and its worker still answers.

    A dry run whose last sign of life is older than ``STALE_AFTER`` (its worker
    died, or its task was lost) may be asked for again.
    """
    state = job.dry_run or {}
    if state.get("state") not in DRY_RUN_BUSY:
        return False
    updated = parse_datetime(str(state.get("updated_at") or ""))
    return updated is not None and updated >= timezone.now() - STALE_AFTER


def dry_run_found_nothing(job: ImportJob) -> bool:
    """Whether the finished dry run found rows but not one that can be imported.

    The file and the mapping are those of the dry run (a new mapping clears
    it), and whether a row can be imported depends on them only.
    """
    state = job.dry_run or {}
    if state.get("state", "done" if state else "") != "done":
        return False
    return not (state.get("new", 0) + state.get("merged", 0)) and bool(state.get("invalid"))


@transaction.atomic
def request_dry_run(*, job: ImportJob, by: Principal) -> ImportJob:
    """Queue the dry run: a worker counts new, merged and invalid rows, writing nothing.

    Its state and progress are kept on the job (``dry_run``) for the pages and the API.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message="This import has already started.",
        )
    _require_mapping(job)
    if dry_run_busy(job):
        raise RuleViolation(
            field="dry_run",
            code="dry_run_running",
            conflict=True,
            message="A dry run of this file is already under way.",
        )
    job.dry_run = {
        "state": "queued",
        "done_rows": 0,
        "total_rows": job.total_rows,
        "updated_at": timezone.now().isoformat(),
    }
    job.save(update_fields=["dry_run"])
    record_audit(action="import.dry_run_requested", obj=job, after={"rows": job.total_rows}, by=by)
    jobs.enqueue("dry_runs", job_id=job.pk, tenant_id=job.tenant_id)
    return job


def run_dry_run(
    *,
    job: ImportJob,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    stop_after_chunks: int | None = None,
) -> ImportJob:
    """Read the whole file with the job's mapping and count what the import would do.

    The worker side of ``request_dry_run``. Progress is saved after each chunk,
    each time in a short transaction of its own; the result replaces it at the
    end. Returns quietly (the job as stored) when no dry run is waiting, another
    live run holds it, or the mapping changed under it (which clears it).
    ``stop_after_chunks`` leaves the dry run running after that many chunks, as
    a killed worker would; tests use it. Call it inside the job's tenant and
    outside any transaction.
    """
    run_id = _claim_dry_run(job)
    if run_id is None:
        logger.info("dry run of import job %s is not waiting or is held", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    try:
        plan = Plan.of(job)
        matcher = Matcher(in_sql=set_based())
        result: dict[str, Any] = {
            "new": 0,
            "merged": 0,
            "invalid": 0,
            "warnings": 0,
        }
        # The first problems of each kind: warnings in every row must not hide the errors.
        first: dict[bool, list[CellError]] = {False: [], True: []}
        # Campaigns the file names that do not exist yet, first spelling kept, in file order.
        missing: dict[str, str] = {}
        done = 0
        for chunks, records in enumerate(_chunks(job, plan, chunk_size), start=1):
            rows, errors, invalid = parse_chunk(plan, records, len(job.headers))
            resolved = resolve(rows, matcher)
            result["new"] += resolved.new
            result["merged"] += resolved.merged
            result["invalid"] += invalid
            result["warnings"] += sum(1 for e in errors if e.is_warning)
            for e in errors:
                if len(first[e.is_warning]) < DRY_RUN_ERRORS:
                    first[e.is_warning].append(e)
                if len(missing) < MISSING_CAMPAIGNS_SHOWN and plan.is_missing_campaign(
                    e.column, e.value
                ):
                    missing.setdefault(e.value.strip().lower(), e.value.strip())
            done += len(records)
            running = {"state": "running", "done_rows": done, "total_rows": job.total_rows}
            if not _save_dry_run(job, run_id, running):
                return job
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                return job
        shown = first[False] + first[True][: DRY_RUN_ERRORS - len(first[False])]
        result["errors"] = [e.as_dict() for e in sorted(shown, key=lambda e: e.row)]
        result["missing_campaigns"] = list(missing.values())
        finished = {"state": "done", "done_rows": done, "total_rows": job.total_rows, **result}
        with transaction.atomic():
            if not _save_dry_run(job, run_id, finished):
                return job
            record_audit(
                action="import.dry_run",
                obj=job,
                after={k: result[k] for k in ("new", "merged", "invalid", "warnings")},
                by=Principal.system(job.tenant, f"import {job.pk}"),
            )
    except DatabaseError:
        # Hand the dry run back, so the task's retry starts it again at once.
        queued = {"state": "queued", "done_rows": 0, "total_rows": job.total_rows}
        _save_dry_run(job, run_id, queued)
        raise
    except (RuleViolation, OSError, UnicodeDecodeError, csv.Error) as exc:
        message = exc.message if isinstance(exc, RuleViolation) else str(exc)
        _save_dry_run(job, run_id, {"state": "failed", "error": message[:2000]})
        logger.warning(
            "dry run of import job %s failed: %s",
            job.pk,
            message,
            extra={"tenant_id": job.tenant_id},
        )
    except Exception as exc:
        # Never left running in silence: the job says it failed, the worker logs why.
        _save_dry_run(job, run_id, {"state": "failed", "error": f"unexpected error: {exc!r}"})
        raise
    return job


def _claim_dry_run(job: ImportJob) -> str | None:
    """Take the queued dry run (or a running one whose worker died) for this run; its id."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        state = (locked.dry_run or {}).get("state")
        if locked.status != ImportStatus.ANALYSED or state not in DRY_RUN_BUSY:
            return None
        if state == "running" and dry_run_busy(locked):
            return None
        run_id = uuid.uuid4().hex
        locked.dry_run = {
            "state": "running",
            "done_rows": 0,
            "total_rows": locked.total_rows,
            "updated_at": timezone.now().isoformat(),
            "run_id": run_id,
        }
        locked.save(update_fields=["dry_run"])
    return run_id


def _save_dry_run(job: ImportJob, run_id: str, state: dict[str, Any]) -> bool:
    """Store the dry run's new state, unless it is no longer this run's (then False)."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        current = locked.dry_run or {}
        if locked.status != ImportStatus.ANALYSED or current.get("run_id") != run_id:
            logger.info("dry run of import job %s was cleared or taken over", job.pk)
            job.dry_run = locked.dry_run
            return False
        job.dry_run = {**state, "updated_at": timezone.now().isoformat(), "run_id": run_id}
        ImportJob.objects.filter(pk=job.pk).update(dry_run=job.dry_run)
    return True


# --- Starting, cancelling --------------------------------------------------------------


@transaction.atomic
def start_import(*, job: ImportJob, by: Principal) -> ImportJob:
    """Queue the real run; the worker writes the rows chunk by chunk."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message=f"This import is already {job.get_status_display().lower()}.",
        )
    _require_mapping(job)
    if dry_run_busy(job):
        raise RuleViolation(
            field="dry_run",
            code="dry_run_running",
            conflict=True,
            message="The dry run is still checking the rows; start the import when it is done.",
        )
    if dry_run_found_nothing(job):
        raise RuleViolation(
            field="dry_run",
            code="nothing_to_import",
            message="The dry run found no row that can be imported: every row has a problem. "
            "Fix the mapping (or the file) and run the dry run again.",
        )
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["status"])
    record_audit(action="import.started", obj=job, after={"rows": job.total_rows}, by=by)
    jobs.enqueue("imports", job_id=job.pk, tenant_id=job.tenant_id)
    return job


@transaction.atomic
def cancel_import(*, job: ImportJob, by: Principal) -> ImportJob:
    """Stop the import after the chunk being written; rows already written stay.

    A job not yet running, or whose worker stopped answering, is cancelled at once.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in FINISHED:
        raise RuleViolation(
            field="status",
            code="finished",
            conflict=True,
            message=f"This import is already {job.get_status_display().lower()}.",
        )
    now = timezone.now()
    alive = job.status == ImportStatus.RUNNING and (
        job.heartbeat_at is not None and job.heartbeat_at >= now - STALE_AFTER
    )
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if not alive:
        job.status = ImportStatus.CANCELLED
        job.finished_at = now
        fields += ["status", "finished_at"]
        _remove_file_on_commit(job)
    job.save(update_fields=fields)
    record_audit(action="import.cancelled", obj=job, after={"done_rows": job.done_rows}, by=by)
    return job


@transaction.atomic
def expire_unstarted_uploads(*, now: datetime | None = None) -> list[int]:
    """Cancel the current tenant's uploads nobody started within IMPORT_UNSTARTED_DAYS.

    An upload waits for its mapping and its start; one left for days only
    holds its file (up to IMPORT_MAX_MEGABYTES) on disk. It is cancelled like
    any other job, with a note saying why, and its file removed; the list of
    imports still shows it. Uploads whose dry run is under way are left alone.
    """
    now = now or timezone.now()
    days = settings.IMPORT_UNSTARTED_DAYS
    expired = []
    candidates = ImportJob.objects.select_for_update(skip_locked=True).filter(
        status=ImportStatus.ANALYSED, created_at__lt=now - timedelta(days=days)
    )
    for job in candidates:
        if dry_run_busy(job):
            continue
        job.status = ImportStatus.CANCELLED
        job.finished_at = now
        job.error = f"Never started; the uploaded file was removed after {days} days."
        job.save(update_fields=["status", "finished_at", "error"])
        _remove_file_on_commit(job)
        record_audit(
            action="import.expired",
            obj=job,
            after={"file_name": job.file_name, "days": days},
            by=Principal.system(job.tenant, "upload clean-up"),
        )
        expired.append(job.pk)
    return expired


def _remove_file_on_commit(job: ImportJob) -> None:
    path = stored_file(job)
    transaction.on_commit(lambda: path.unlink(missing_ok=True))


# --- The real run ----------------------------------------------------------------------


def run_import_job(
    *,
    job: ImportJob,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    stop_after_chunks: int | None = None,
) -> ImportJob:
    """Write the file chunk by chunk, resuming after the last committed chunk.

    Returns quietly (the job as stored) when another run holds the job.
    ``stop_after_chunks`` leaves the job running after that many chunks, as a
    killed worker would; tests use it. Call it inside the job's tenant and
    outside any transaction, so each chunk commits on its own.
    """
    if not _claim(job):
        logger.info("import job %s is held by another run or finished", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    by = Principal.system(job.tenant, f"import {job.pk}")
    statistics = PlannerStatistics() if set_based() else None
    try:
        plan = Plan.of(job)
        chunks = _chunks(job, plan, chunk_size, skip=job.done_rows)
        width = len(job.headers)
        sql_path = set_based()
        definition = active_definition() if sql_path else None
        rules = rules_of(definition) if definition else None

        def parse_next() -> _Parsed:
            records = next(chunks, None) or []
            scorer = Scorer(definition.pk, rules, timezone.now()) if definition and rules else None
            parsed = _Parsed(len(records), *parse_chunk(plan, records, width), scorer=scorer)
            if sql_path:
                prepare_rows(parsed.rows, scorer)
            return parsed

        written = 0
        # The next chunk is read, checked and scored in a forked process (its
        # own core and interpreter) while the database writes this one.
        with ahead(parse_next, last=lambda parsed: not parsed.count) as take:
            while stop_after_chunks is None or written < stop_after_chunks:
                parsed = take()
                if statistics is not None:
                    statistics.refresh_if_stale(job.new_count)
                outcome = _run_chunk(job, parsed, by)
                del parsed  # written: not kept alive while the next one arrives
                if outcome != "written":
                    break
                written += 1
    except DatabaseError:
        # Hand the job back at once, so the task's retry resumes it without
        # waiting for the heartbeat to go stale.
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.QUEUED, heartbeat_at=None
        )
        raise
    except ProducerFailed as exc:
        return _fail(
            job,
            f"Reading the file stopped unexpectedly ({exc}). The rows written so far stay; "
            "importing the same file again merges them instead of adding them twice.",
        )
    except (RuleViolation, OSError, UnicodeDecodeError, csv.Error) as exc:
        message = exc.message if isinstance(exc, RuleViolation) else str(exc)
        return _fail(job, message)
    except Exception as exc:
        # Never left running in silence: the job says it failed, the worker logs why.
        _fail(job, f"unexpected error: {exc!r}")
        raise
    finally:
        if statistics is not None:
            statistics.wait()
    job.refresh_from_db()
    logger.info(
        "import job %s: %s of %s rows, %s",
        job.pk,
        job.done_rows,
        job.total_rows,
        job.status,
        extra={"tenant_id": job.tenant_id},
    )
    return job


def _claim(job: ImportJob) -> bool:
    """Take the job for this run: queued, or running with a stale heartbeat."""
    return jobs.claim(
        ImportJob.objects.filter(pk=job.pk),
        queued=ImportStatus.QUEUED,
        running=ImportStatus.RUNNING,
        stale_after=STALE_AFTER,
    )


def _fail(job: ImportJob, error: str) -> ImportJob:
    now = timezone.now()
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=error[:2000], finished_at=now, heartbeat_at=now
        )
        job.refresh_from_db()
        record_audit(
            action="import.failed",
            obj=job,
            after={"error": job.error, "done_rows": job.done_rows},
            by=Principal.system(job.tenant, f"import {job.pk}"),
        )
    logger.warning("import job %s failed: %s", job.pk, error, extra={"tenant_id": job.tenant_id})
    return job


@dataclass(frozen=True)
class _Parsed:
    """One chunk read and validated: how many rows, the valid ones, the errors and warnings."""

    count: int
    rows: list[Row]
    errors: list[CellError]
    invalid: int
    # The active definition when the chunk was read, as of then; its rows are prepared by it.
    scorer: Scorer | None = None


def _run_chunk(job: ImportJob, parsed: _Parsed, by: Principal) -> str:
    """One chunk in one transaction, retried once if a concurrent write got in its way.

    (A capture took an email the chunk inserts, or a merge removed an inquiry
    the chunk merges into: the retry matches the chunk again.)
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _write_chunk(job, parsed, by)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _write_chunk(job: ImportJob, parsed: _Parsed, by: Principal) -> str:
    rows, errors, invalid, count = parsed.rows, parsed.errors, parsed.invalid, parsed.count
    if set_based():
        # A chunk lost in a crash is lost together with the progress that
        # records it (one transaction), and the resumed run writes it again:
        # no need to wait for the WAL flush at each commit.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            # A chunk looks up 5,000 keys by index; with the default page cost
            # (4, spinning disks) the planner would rather read the tenant.
            cursor.execute("SET LOCAL random_page_cost = 1.1")
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != ImportStatus.RUNNING or locked.done_rows != job.done_rows:
        logger.info("import job %s was taken over by another run", job.pk)
        return "lost"
    now = timezone.now()
    if locked.cancel_requested:
        job.status = ImportStatus.CANCELLED
        job.finished_at = job.heartbeat_at = now
        job.save(update_fields=["status", "finished_at", "heartbeat_at"])
        _remove_file_on_commit(job)
        logger.info("import job %s cancelled after %s rows", job.pk, job.done_rows)
        return "cancelled"
    if not count:
        job.status = ImportStatus.DONE
        job.finished_at = job.heartbeat_at = now
        job.save(update_fields=["status", "finished_at", "heartbeat_at"])
        record_audit(
            action="import.finished",
            obj=job,
            after={
                "new": job.new_count,
                "merged": job.merged_count,
                "invalid": job.invalid_count,
                "warnings": job.warning_count,
                "outcome": job.outcome,
            },
            by=by,
        )
        _remove_file_on_commit(job)
        return "done"
    resolved = resolve(rows, Matcher(in_sql=set_based()))
    people = list(resolved.people.values())
    if people:
        _write_people(job, people, now, parsed.scorer, by)
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                tenant_id=job.tenant_id,
                job_id=job.pk,
                row_number=e.row,
                column=e.column[:200],
                value=e.value[:1000].replace("\x00", NUL_SHOWN),
                message=e.message[:500],
                severity=e.severity,
            )
            for e in errors
        ],
        batch_size=2000,
    )
    job.done_rows += count
    job.new_count += resolved.new
    job.merged_count += resolved.merged
    job.invalid_count += invalid
    job.warning_count += sum(1 for e in errors if e.is_warning)
    job.heartbeat_at = now
    job.save(
        update_fields=[
            "done_rows",
            "new_count",
            "merged_count",
            "invalid_count",
            "warning_count",
            "heartbeat_at",
        ]
    )
    return "written"


def set_based() -> bool:
    """Whether chunks are written with COPY and SQL (PostgreSQL) or the ORM (elsewhere)."""
    return connection.vendor == "postgresql"


def _write_people(
    job: ImportJob, people: list[Person], now: datetime, read_with: Scorer | None, by: Principal
) -> None:
    """Write the chunk's people, scored and routed under the active definition.

    ``read_with`` is the definition the reader prepared the rows with;
    it is used (with its time) unless another version was activated since.
    """
    definition = active_definition()
    if not set_based():
        scorer = (
            Scorer(definition.pk, rules_of(definition), now) if definition is not None else None
        )
        merged_into, arrived = write_with_orm(job, people, now, scorer)
        if definition is not None:
            for inquiry in Inquiry.objects.filter(pk__in=merged_into):
                scoring_services.score_inquiry(inquiry=inquiry, by=by, as_of=now)
        route_written(Written(arrived=arrived), by=by)
        return
    if definition is None:
        route_written(write_in_sql(job, people, now, None), by=by)
        return
    if read_with is not None and read_with.definition_id == definition.pk:
        scorer = read_with
    else:
        scorer = Scorer(definition.pk, rules_of(definition), now)
    written = write_in_sql(job, people, now, scorer)
    route_written(written, by=by)
