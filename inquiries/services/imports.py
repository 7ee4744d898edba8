"""CSV import: upload, column mapping, dry run, and the resumable set-based job.

``analyse_upload`` streams the file to ``settings.IMPORTS_ROOT``, detects its
encoding (UTF-8 with or without BOM, else Windows-1252) and delimiter (comma,
semicolon or tab), checks its structure in one streaming pass and suggests a
mapping; a malformed file is refused whole. ``set_mapping`` validates the
mapping (creating custom fields on the spot), ``dry_run`` counts what a real
run would do without writing, ``start_import`` queues the job and
``run_import_job`` works through the file in chunks.

Every row is validated with the API's rules (``services/validation.py``,
``custom_fields.clean_custom_values``) and normalised by capture's own
``_normalized``; a row with any error is reported cell by cell
(``ImportRowError``) and never stored in part. Rows are matched to people by
capture's rule — email (trimmed, lower-cased), else the external id from the
same source, else the normalised phone (the oldest inquiry with it) — against
the inquiries already stored and the rows before them in the file, in file
order, exactly as capturing the rows one by one would.

Each chunk is one transaction: on PostgreSQL the chunk's people are staged
with ``COPY`` into temporary tables, inserted and merged with a few set-based
statements, their activities added (an activity already on the timeline is not
added twice, so re-importing a file changes nothing), scored with the
rescoring job's compiled ``UPDATE`` and moved to the MQL queue or to nurture;
the job's progress is saved in the same transaction. A killed worker leaves
whole chunks only, and the next run resumes after the last committed row. On
SQLite the same bookkeeping runs with ORM bulk statements and Python scoring.

Where the import differs from capturing each row through the API, on purpose:
a row adds no generic "response" activity (only the activity columns mapped),
a merge adds a "merged" timeline entry only when it changed something, and the
audit log gets one event per job rather than one per row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inquiries.models import (
    Activity,
    ActivityKind,
    Consent,
    CustomField,
    CustomFieldKind,
    ImportJob,
    ImportMapping,
    ImportRowError,
    ImportStatus,
    Inquiry,
    Source,
    Stage,
    Timeline,
)
from inquiries.services import rescoring
from inquiries.services import scoring as scoring_services
from inquiries.services.capture import PROFILE_FIELDS, _normalized, company_domain
from inquiries.services.custom_fields import clean_custom_values, define_custom_field
from inquiries.services.validation import (
    ACTIVITY_KINDS,
    CELL_FIELDS,
    clean_activity_time,
    clean_cell,
    clean_choice,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture.services import flag_for_nurture

logger = logging.getLogger(__name__)

DEFAULT_PLACEHOLDERS = ["N/A", "-", "--", "Select", "null"]
DEFAULT_CHUNK_SIZE = 10_000
# A running job whose heartbeat is older than this is taken to be dead; another run resumes it.
STALE_AFTER = timedelta(minutes=2)
MAX_PROBLEMS_SHOWN = 5
# PostgreSQL text cannot hold NUL; the report shows where it was.
NUL_SHOWN = "\u2400"
DRY_RUN_ERRORS = 20
MAX_COLUMNS = 500
MAX_PLACEHOLDERS = 50
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")
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
KIND_ALIASES = {"yes_no": CustomFieldKind.BOOLEAN, "boolean": CustomFieldKind.BOOLEAN}
FINISHED = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)
# Who may define a custom field from the mapping screen: those running imports, not qualifiers.
FIELD_DEFINERS = (Role.ADMIN, Role.MANAGER, Role.MARKETER)


# --- Reading the file ------------------------------------------------------------------


def imports_root() -> Path:
    return Path(settings.IMPORTS_ROOT)


def stored_file(job: ImportJob) -> Path:
    return imports_root() / job.stored_path


def _normal_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def _open(job: ImportJob) -> io.TextIOWrapper:
    return open(stored_file(job), encoding=job.encoding, newline="", errors="strict")  # noqa: SIM115


def _records(handle: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every record after the header; blank lines are skipped.

    Row 1 is the header, row 2 the first record under it, as a spreadsheet
    numbers them (a quoted field with line breaks is one row).
    """
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    next(reader, None)
    for number, cells in enumerate(reader, start=2):
        if cells:  # a blank line is no row; a row of empty cells is (and is reported)
            yield number, cells


def _unreadable(message: str, code: str = "malformed") -> RuleViolation:
    return RuleViolation(field="file", code=code, message=message)


def _store(file: Any, path: Path) -> tuple[int, str, bool, bool, bytes]:
    """Copy the upload to disk in chunks: (size, sha256, valid UTF-8, has NUL, first bytes)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, nul, size, head = True, False, 0, b""
    limit = settings.IMPORT_MAX_BYTES
    chunks = file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(1 << 20), b"")
    with open(path, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise _unreadable(
                    f"The file is larger than {limit // (1024 * 1024)} MB.", code="too_large"
                )
            if len(head) < SAMPLE_BYTES:
                head += chunk[: SAMPLE_BYTES - len(head)]
            digest.update(chunk)
            nul = nul or b"\x00" in chunk
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            out.write(chunk)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return size, digest.hexdigest(), utf8, nul, head


def _sniff_delimiter(sample: str) -> str:
    """The candidate that splits the sample's header widest, consistently across its rows."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a record
    best, best_score = ",", (False, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        score = (width > 1 and all(len(r) == width for r in rows[1:]), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _looks_binary(text: str) -> bool:
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\r\n")
    return controls > max(2, len(text) // 100)


def _unique_headers(cells: list[str]) -> list[str]:
    headers: list[str] = []
    for n, cell in enumerate(cells, start=1):
        name = cell.strip() or f"Column {n}"
        base, k = name, 2
        while name in headers:
            name, k = f"{base} ({k})", k + 1
        headers.append(name)
    return headers


def _check_structure(path: Path, encoding: str, delimiter: str) -> tuple[list[str], int]:
    """The headers and the number of rows; RuleViolation naming the first problems."""
    problems: list[str] = []
    count = 0
    try:
        with open(path, encoding=encoding, newline="", errors="strict") as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise _unreadable("The file is empty: it has no header row.", code="empty")
            if len(header) > MAX_COLUMNS:
                raise _unreadable(f"The file has more than {MAX_COLUMNS} columns.")
            width = len(header)
            for number, cells in enumerate(reader, start=2):
                if not cells:
                    continue
                count += 1
                if len(cells) != width:
                    problems.append(
                        f"row {number} has {len(cells)} fields where the header has {width}"
                    )
    except csv.Error as exc:
        row = count + len(problems) + 2
        raise _unreadable(
            f"The file is not valid CSV near row {row}: {exc} "
            "(an unclosed quote, or a quote inside an unquoted field)."
        ) from None
    except UnicodeDecodeError:
        raise _unreadable(
            "The file is not text in UTF-8 or Windows-1252; it looks like a binary file. "
            "Save it as CSV (UTF-8) and upload it again.",
            code="binary",
        ) from None
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise _unreadable(
            f"{len(problems)} rows do not have as many fields as the header: {shown}"
            + (f"; and {more} more" if more > 0 else "")
            + ". Nothing was imported.",
            code="ragged",
        )
    if not count:
        raise _unreadable("The file has a header but no rows.", code="no_rows")
    return _unique_headers(header), count


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
        size, sha256, utf8, nul, head = _store(file, path)
        if size == 0:
            raise _unreadable("The file is empty.", code="empty")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
            nul and head.count(b"\x00") > len(head) // 100
        ):
            raise _unreadable(
                "The file contains NUL bytes: it is binary or UTF-16, not a CSV text file. "
                "Save it as CSV (UTF-8) and upload it again.",
                code="binary",
            )
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            encoding = "utf-8" if utf8 else "cp1252"
        sample = head.decode(encoding, errors="replace")
        if _looks_binary(sample):
            raise _unreadable(
                "The file contains control characters: it looks like a binary file, not CSV.",
                code="binary",
            )
        delimiter = _sniff_delimiter(sample)
        headers, total = _check_structure(path, encoding, delimiter)
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
            if not by.has_role(*FIELD_DEFINERS):
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
    raise _mapping_error(
        header, "invalid", 'Map to field, custom, activity, outcome or ignore ("to").'
    )


# --- Rows: validation and matching ------------------------------------------------------


@dataclass
class _Plan:
    """The mapping compiled for one pass over the file."""

    columns: list[tuple[int, str, dict[str, Any]]]
    fields: dict[str, CustomField]
    placeholders: frozenset[str]
    custom_headers: dict[str, str]

    @classmethod
    def of(cls, job: ImportJob) -> _Plan:
        fields = {f.key: f for f in CustomField.objects.all()}
        columns = []
        custom_headers = {}
        for index, header in enumerate(job.headers):
            spec = job.mapping.get(header, {"to": "ignore"})
            if spec["to"] == "ignore":
                continue
            if spec["to"] == "custom":
                if spec["key"] not in fields:
                    raise RuleViolation(
                        field=f"mapping.{header}",
                        code="unknown_custom_field",
                        message=f"The custom field {spec['key']!r} no longer exists.",
                    )
                custom_headers[spec["key"]] = header
            columns.append((index, header, spec))
        placeholders = frozenset(p.lower() for p in job.placeholders)
        return cls(columns, fields, placeholders, custom_headers)


@dataclass
class _Row:
    number: int
    clean: dict[str, Any]
    custom: dict[str, Any]
    consent: str
    source: str
    external_source: str
    external_id: str
    outcome: str
    activities: list[tuple[str, datetime]]


@dataclass(frozen=True)
class CellError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


def _parse_row(plan: _Plan, number: int, cells: list[str]) -> tuple[_Row | None, list[CellError]]:
    """The row's clean values, or the errors of each of its cells (and of the row)."""
    errors: list[CellError] = []
    profile: dict[str, Any] = {}
    extra: dict[str, str] = {}
    custom_raw: dict[str, str] = {}
    activities: list[tuple[str, datetime]] = []
    columns_of: dict[str, tuple[str, str]] = {}
    outcome = ""
    for index, header, spec in plan.columns:
        text = cells[index].strip() if index < len(cells) else ""
        if not text or text.lower() in plan.placeholders:
            continue
        to = spec["to"]
        try:
            if to == "field":
                value = clean_cell(spec["field"], text)
                columns_of[spec["field"]] = (header, text)
                if spec["field"] in PROFILE_FIELDS:
                    profile[spec["field"]] = value
                else:
                    extra[spec["field"]] = value
            elif to == "custom":
                custom_raw[spec["key"]] = text
            elif to == "activity":
                activities.append((spec["kind"], clean_activity_time(text)))
            else:
                outcome = clean_choice("outcome", text)
        except ValueError as exc:
            errors.append(CellError(number, header, text, str(exc)))
    custom, custom_errors = clean_custom_values(custom_raw, plan.fields)
    for path, messages in custom_errors.items():
        key = path.removeprefix("custom.")
        header = plan.custom_headers.get(key, path)
        errors.append(CellError(number, header, custom_raw.get(key, ""), messages[0]))
    try:
        clean = _normalized(profile)
    except RuleViolation as exc:
        header, text = columns_of.get(exc.field, (exc.field, ""))
        errors.append(CellError(number, header, text, exc.message))
        clean = {}
    external_id = extra.get("external_id", "")
    if not errors and not (clean.get("email") or clean.get("phone_normalized") or external_id):
        errors.append(
            CellError(number, "", "", "Give at least one of email, phone or external_id.")
        )
    if errors:
        return None, errors
    return (
        _Row(
            number=number,
            clean=clean,
            custom=custom,
            consent=extra.get("consent", ""),
            source=extra.get("source", ""),
            external_source=extra.get("external_source", "") if external_id else "",
            external_id=external_id,
            outcome=outcome,
            activities=activities,
        ),
        [],
    )


@dataclass
class _Person:
    """One person a chunk writes: new (``target_id`` None) or merged into a stored inquiry."""

    seq: int
    target_id: int | None
    external_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    consent: str = ""
    source: str = ""
    external_source_new: str = ""
    external_id_new: str = ""
    outcome: str = ""
    activities: set[tuple[str, datetime]] = field(default_factory=set)

    def take(self, row: _Row, ext_free: bool) -> None:
        """Merge a row in, as capture merges a response: its non-empty values win."""
        self.values.update(row.clean)
        self.custom.update(row.custom)
        if row.consent and row.consent != Consent.UNKNOWN:
            self.consent = row.consent
        if row.source and not self.source:
            self.source = row.source
        if row.outcome:
            self.outcome = row.outcome
        if row.external_id and not self.external_id and ext_free:
            self.external_id = self.external_id_new = row.external_id
            self.external_source_new = row.external_source
        self.activities.update(row.activities)


@dataclass
class _Matcher:
    """Who is who: stored inquiries found by the rows' keys, and people earlier in the pass."""

    emails: dict[str, Any] = field(default_factory=dict)
    externals: dict[tuple[str, str], Any] = field(default_factory=dict)
    phones: dict[str, Any] = field(default_factory=dict)
    stored_external: dict[int, str] = field(default_factory=dict)

    def load(self, rows: list[_Row]) -> None:
        """One query for the stored inquiries any of the rows could merge into."""
        emails = sorted({r.clean["email"] for r in rows if r.clean.get("email")} - set(self.emails))
        pairs = {(r.external_source, r.external_id) for r in rows if r.external_id}
        pairs -= set(self.externals)
        phones = {r.clean["phone_normalized"] for r in rows if r.clean.get("phone_normalized")}
        phones -= set(self.phones)
        if not (emails or pairs or phones):
            return
        condition = Q(pk__in=[])
        if emails:
            condition |= Q(email__in=emails)
        if pairs:
            condition |= Q(external_id__in=sorted({p[1] for p in pairs}))
        if phones:
            condition |= Q(phone_normalized__in=sorted(phones))
        found = (
            Inquiry.objects.filter(condition)
            .order_by("pk")
            .values_list("pk", "email", "external_source", "external_id", "phone_normalized")
        )
        for pk, email, source, external_id, phone in found:
            key = ("stored", pk)
            self.stored_external[pk] = external_id
            if email:
                self.emails.setdefault(email, key)
            if external_id:
                self.externals.setdefault((source, external_id), key)
            if phone:
                self.phones.setdefault(phone, key)  # the oldest inquiry with the number

    def find(self, row: _Row) -> Any:
        if row.clean.get("email") and row.clean["email"] in self.emails:
            return self.emails[row.clean["email"]]
        if row.external_id and (row.external_source, row.external_id) in self.externals:
            return self.externals[(row.external_source, row.external_id)]
        if row.clean.get("phone_normalized"):
            return self.phones.get(row.clean["phone_normalized"])
        return None

    def remember(self, key: Any, row: _Row, person: _Person) -> None:
        if row.clean.get("email"):
            self.emails.setdefault(row.clean["email"], key)
        if person.external_id_new:
            self.externals.setdefault((person.external_source_new, person.external_id_new), key)
        if row.clean.get("phone_normalized"):
            self.phones.setdefault(row.clean["phone_normalized"], key)

    def external_free(self, row: _Row, key: Any) -> bool:
        owner = self.externals.get((row.external_source, row.external_id))
        return owner is None or owner == key


@dataclass
class _Resolved:
    people: dict[Any, _Person]
    new: int = 0
    merged: int = 0


def _resolve(rows: list[_Row], matcher: _Matcher) -> _Resolved:
    """Each valid row to its person, in file order, by capture's rule."""
    matcher.load(rows)
    resolved = _Resolved(people={})
    for row in rows:
        key = matcher.find(row)
        if key is None:
            key = ("new", row.number)
            resolved.people[key] = _Person(seq=len(resolved.people), target_id=None)
            resolved.new += 1
        else:
            resolved.merged += 1
            if key not in resolved.people:
                target = key[1] if key[0] == "stored" else None
                resolved.people[key] = _Person(
                    seq=len(resolved.people),
                    target_id=target,
                    external_id=matcher.stored_external.get(target, "") if target else "",
                )
        person = resolved.people[key]
        person.take(row, matcher.external_free(row, key))
        matcher.remember(key, row, person)
    return resolved


def _chunks(job: ImportJob, size: int, skip: int = 0) -> Iterator[list[tuple[int, list[str]]]]:
    """The file's rows in chunks of ``size``, after the first ``skip`` rows."""
    with _open(job) as handle:
        chunk: list[tuple[int, list[str]]] = []
        seen = 0
        for record in _records(handle, job.delimiter):
            seen += 1
            if seen <= skip:
                continue
            chunk.append(record)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def _parse_chunk(
    plan: _Plan, records: list[tuple[int, list[str]]], width: int
) -> tuple[list[_Row], list[CellError], int]:
    """(valid rows, errors, number of invalid rows)."""
    rows: list[_Row] = []
    errors: list[CellError] = []
    invalid = 0
    for number, cells in records:
        if len(cells) != width:  # the file changed since it was analysed
            errors.append(
                CellError(number, "", "", f"The row has {len(cells)} fields, not {width}.")
            )
            invalid += 1
            continue
        row, row_errors = _parse_row(plan, number, cells)
        if row is None:
            errors.extend(row_errors)
            invalid += 1
        else:
            rows.append(row)
    return rows, errors, invalid


# --- Dry run ---------------------------------------------------------------------------


def _require_mapping(job: ImportJob) -> None:
    targets = {spec.get("field") for spec in job.mapping.values() if spec.get("to") == "field"}
    if not targets & set(IDENTITY_FIELDS):
        raise RuleViolation(
            field="mapping",
            code="mapping_required",
            message="Map the columns first (at least one of email, phone or external_id).",
        )


def dry_run(*, job: ImportJob, by: Principal) -> dict[str, Any]:
    """What the import would do — new, merged and invalid rows, the first errors — writing nothing.

    The counts are stored on the job so the mapping screen can show them again.
    """
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message="This import has already started.",
        )
    _require_mapping(job)
    plan = _Plan.of(job)
    matcher = _Matcher()
    result: dict[str, Any] = {"new": 0, "merged": 0, "invalid": 0, "errors": []}
    for records in _chunks(job, DEFAULT_CHUNK_SIZE):
        rows, errors, invalid = _parse_chunk(plan, records, len(job.headers))
        resolved = _resolve(rows, matcher)
        result["new"] += resolved.new
        result["merged"] += resolved.merged
        result["invalid"] += invalid
        room = DRY_RUN_ERRORS - len(result["errors"])
        result["errors"].extend(e.as_dict() for e in errors[: max(room, 0)])
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(dry_run=result)
        job.dry_run = result
        record_audit(
            action="import.dry_run",
            obj=job,
            after={k: result[k] for k in ("new", "merged", "invalid")},
            by=by,
        )
    return result


# --- Starting, cancelling --------------------------------------------------------------


@transaction.atomic
def start_import(*, job: ImportJob, by: Principal) -> ImportJob:
    """Queue the real run; the worker writes the rows chunk by chunk."""
    from inquiries.tasks import run_import_job_task

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message=f"This import is already {job.get_status_display().lower()}.",
        )
    _require_mapping(job)
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["status"])
    record_audit(action="import.started", obj=job, after={"rows": job.total_rows}, by=by)
    job_id, tenant_id = job.pk, job.tenant_id
    transaction.on_commit(lambda: run_import_job_task.delay(job_id=job_id, tenant_id=tenant_id))
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
    try:
        plan = _Plan.of(job)
        chunks = _chunks(job, chunk_size, skip=job.done_rows)
        written = 0
        while stop_after_chunks is None or written < stop_after_chunks:
            records = next(chunks, None)
            outcome = _run_chunk(job, plan, records or [], by)
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
    except (RuleViolation, OSError, UnicodeDecodeError, csv.Error) as exc:
        message = exc.message if isinstance(exc, RuleViolation) else str(exc)
        return _fail(job, message)
    except Exception as exc:
        # Never left running in silence: the job says it failed, the worker logs why.
        _fail(job, f"unexpected error: {exc!r}")
        raise
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
    now = timezone.now()
    claimable = Q(status=ImportStatus.QUEUED) | Q(
        Q(heartbeat_at__lt=now - STALE_AFTER) | Q(heartbeat_at__isnull=True),
        status=ImportStatus.RUNNING,
    )
    return bool(
        ImportJob.objects.filter(claimable, pk=job.pk).update(
            status=ImportStatus.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now), output_field=DateTimeField()),
            heartbeat_at=now,
        )
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


def _run_chunk(
    job: ImportJob, plan: _Plan, records: list[tuple[int, list[str]]], by: Principal
) -> str:
    """One chunk in one transaction (retried once if a concurrent capture took an email)."""
    rows, errors, invalid = _parse_chunk(plan, records, len(job.headers))
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _write_chunk(job, rows, errors, invalid, len(records), by)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _write_chunk(
    job: ImportJob,
    rows: list[_Row],
    errors: list[CellError],
    invalid: int,
    count: int,
    by: Principal,
) -> str:
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
            },
            by=by,
        )
        _remove_file_on_commit(job)
        return "done"
    resolved = _resolve(rows, _Matcher())
    people = list(resolved.people.values())
    if people:
        if set_based():
            touched = _write_in_sql(job, people, now)
        else:
            touched = _write_with_orm(job, people, now)
        _score(touched, now)
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                tenant_id=job.tenant_id,
                job_id=job.pk,
                row_number=e.row,
                column=e.column[:200],
                value=e.value[:1000].replace("\x00", NUL_SHOWN),
                message=e.message[:500],
            )
            for e in errors
        ],
        batch_size=2000,
    )
    job.done_rows += count
    job.new_count += resolved.new
    job.merged_count += resolved.merged
    job.invalid_count += invalid
    job.heartbeat_at = now
    job.save(
        update_fields=["done_rows", "new_count", "merged_count", "invalid_count", "heartbeat_at"]
    )
    return "written"


def set_based() -> bool:
    """Whether chunks are written with COPY and SQL (PostgreSQL) or the ORM (elsewhere)."""
    return connection.vendor == "postgresql"


def _score(touched: list[int], now: datetime) -> None:
    """Score the chunk's people under the active definition and move them like score_inquiry."""
    definition = scoring_services.active_definition()
    if definition is None or not touched:
        return
    rules = scoring_services.rules_of(definition)
    if set_based():
        sql, params = rescoring.compile_rescore_sql(
            rules=rules,
            tenant_id=definition.tenant_id,
            definition_id=definition.pk,
            as_of=now,
            ids=touched,
        )
        with connection.cursor() as cursor:
            # The rows were inserted in this transaction, so the table's statistics
            # (the runtime role may not ANALYZE) still describe it without them; the
            # planner then nests loops over the whole chunk, quadratic in its size.
            # Hash joins are right for a chunk of thousands of ids.
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.execute("SET LOCAL enable_nestloop = on")
        rows = [row for row in rows if row[2] in scoring_services.SCORED_STAGES]
        promote = [pk for pk, qualifies, stage in rows if qualifies and stage != Stage.MQL]
        nurture = [pk for pk, qualifies, stage in rows if not qualifies and stage != Stage.NURTURE]
        if promote:
            scoring_services.promote_to_mql(inquiry_ids=promote)
        if nurture:
            flag_for_nurture(inquiry_ids=nurture)
        return
    for inquiry in Inquiry.objects.filter(pk__in=touched):
        scoring_services.score_inquiry(inquiry=inquiry, as_of=now)


# --- Writing a chunk: PostgreSQL ------------------------------------------------------------

_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_normalized",
    "title",
    "company",
    "industry",
    "country",
    "region",
    "interest",
    "timeline",
    "outcome",
)
_STAGE_COLUMNS = (
    "seq int",
    "target_id bigint",
    "is_new boolean",
    *(f"{name} text" for name in _TEXT_FIELDS),
    "company_domain text",
    "company_size integer",
    "source text",
    "consent text",
    "external_source text",
    "external_id text",
    "custom jsonb",
    "last_activity_at timestamptz",
    "changed text[]",
)


def _copy(
    cursor, table: str, columns: list[str], rows: Iterable[tuple], nullable: tuple[str, ...] = ()
) -> None:
    """COPY rows as CSV (the C csv writer); in ``nullable`` columns "" reads as NULL."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    options = "FORMAT csv" + (f", FORCE_NULL ({', '.join(nullable)})" if nullable else "")
    cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN ({options})", buffer)


def _staged(person: _Person) -> tuple:
    values = person.values
    last = max((when for _kind, when in person.activities), default=None)
    return (
        person.seq,
        person.target_id,
        person.target_id is None,
        *(values.get(name, "") for name in _TEXT_FIELDS[:-2]),
        values.get("timeline", ""),
        person.outcome,
        company_domain(values.get("email", "")) if values.get("email") else "",
        values.get("company_size"),
        person.source,
        person.consent,
        person.external_source_new,
        person.external_id_new,
        json.dumps(person.custom),
        last.isoformat() if last else None,
    )


def _write_in_sql(job: ImportJob, people: list[_Person], now: datetime) -> list[int]:
    """Stage the chunk with COPY; insert the new, merge the known, add activities: set-based."""
    tenant = job.tenant_id
    staged_columns = [c.split()[0] for c in _STAGE_COLUMNS[:-1]]
    changes = [
        f"CASE WHEN s.{n} <> '' AND s.{n} IS DISTINCT FROM i.{n} THEN '{n}' END"
        for n in _TEXT_FIELDS
        if n != "outcome"
    ]
    changes += [
        "CASE WHEN s.company_size IS NOT NULL AND s.company_size IS DISTINCT FROM i.company_size "
        "THEN 'company_size' END",
        "CASE WHEN NOT (i.custom @> s.custom) THEN 'custom' END",
        "CASE WHEN s.consent NOT IN ('', 'unknown') AND s.consent <> i.consent THEN 'consent' END",
        "CASE WHEN i.external_id = '' AND s.external_id <> '' THEN 'external_id' END",
        "CASE WHEN s.outcome <> '' AND s.outcome <> i.outcome THEN 'outcome' END",
    ]
    keep = ", ".join(f"{n} = CASE WHEN s.{n} <> '' THEN s.{n} ELSE i.{n} END" for n in _TEXT_FIELDS)
    details = json.dumps({"source": Source.IMPORT, "import_job": job.pk})
    with connection.cursor() as cur:
        # Dropped at commit; dropped here too for a chunk inside an outer transaction.
        cur.execute("DROP TABLE IF EXISTS import_stage, import_stage_activity")
        cur.execute(f"CREATE TEMP TABLE import_stage ({', '.join(_STAGE_COLUMNS)}) ON COMMIT DROP")
        cur.execute(
            "CREATE TEMP TABLE import_stage_activity "
            "(seq int, kind text, occurred_at timestamptz) ON COMMIT DROP"
        )
        _copy(
            cur,
            "import_stage",
            staged_columns,
            (_staged(p) for p in people),
            nullable=("target_id", "company_size", "last_activity_at"),
        )
        _copy(
            cur,
            "import_stage_activity",
            ["seq", "kind", "occurred_at"],
            ((p.seq, kind, when.isoformat()) for p in people for kind, when in p.activities),
        )
        cur.execute(
            "UPDATE import_stage SET target_id = "
            "nextval(pg_get_serial_sequence('inquiries_inquiry', 'id')) WHERE is_new"
        )
        cur.execute(
            "UPDATE import_stage s SET changed = ARRAY(SELECT c FROM unnest(ARRAY["
            f"{', '.join(changes)}]) AS c WHERE c IS NOT NULL ORDER BY c) "
            "FROM inquiries_inquiry i "
            "WHERE i.tenant_id = %(tenant)s AND i.id = s.target_id AND NOT s.is_new",
            {"tenant": tenant},
        )
        cur.execute(
            "INSERT INTO inquiries_inquiry (id, tenant_id, first_name, last_name, email, phone, "
            "phone_normalized, title, company, company_domain, company_size, industry, country, "
            "region, interest, timeline, source, consent, external_source, external_id, custom, "
            "outcome, stage, disqualified_reason, fit_score, engagement_score, score, "
            "score_breakdown, behaviour_level, created_at, updated_at, last_activity_at) "
            "SELECT s.target_id, %(tenant)s, s.first_name, s.last_name, s.email, s.phone, "
            "s.phone_normalized, s.title, s.company, s.company_domain, s.company_size, "
            "s.industry, s.country, s.region, s.interest, "
            "COALESCE(NULLIF(s.timeline, ''), %(timeline)s), "
            "COALESCE(NULLIF(s.source, ''), %(source)s), "
            "COALESCE(NULLIF(s.consent, ''), %(consent)s), "
            "s.external_source, s.external_id, s.custom, s.outcome, %(stage)s, '', 0, 0, 0, "
            "'[]'::jsonb, 'visitor', %(now)s, %(now)s, COALESCE(s.last_activity_at, %(now)s) "
            "FROM import_stage s WHERE s.is_new ORDER BY s.seq",
            {
                "tenant": tenant,
                "now": now,
                "timeline": Timeline.UNKNOWN,
                "source": Source.IMPORT,
                "consent": Consent.UNKNOWN,
                "stage": Stage.INQUIRY,
            },
        )
        cur.execute(
            f"UPDATE inquiries_inquiry i SET {keep}, "
            "company_domain = CASE WHEN s.email <> '' THEN s.company_domain "
            "ELSE i.company_domain END, "
            "company_size = COALESCE(s.company_size, i.company_size), "
            "custom = i.custom || s.custom, "
            "consent = CASE WHEN s.consent NOT IN ('', 'unknown') THEN s.consent "
            "ELSE i.consent END, "
            "external_source = CASE WHEN i.external_id = '' AND s.external_id <> '' "
            "THEN s.external_source ELSE i.external_source END, "
            "external_id = CASE WHEN i.external_id = '' AND s.external_id <> '' "
            "THEN s.external_id ELSE i.external_id END, "
            "updated_at = CASE WHEN cardinality(s.changed) > 0 THEN %(now)s "
            "ELSE i.updated_at END, "
            "last_activity_at = GREATEST(i.last_activity_at, s.last_activity_at) "
            "FROM import_stage s "
            "WHERE i.tenant_id = %(tenant)s AND i.id = s.target_id AND NOT s.is_new "
            "AND (cardinality(s.changed) > 0 "
            "OR s.last_activity_at > COALESCE(i.last_activity_at, '-infinity'))",
            {"tenant": tenant, "now": now},
        )
        cur.execute(
            "INSERT INTO inquiries_activity (tenant_id, inquiry_id, kind, occurred_at, details, "
            "created_at) "
            "SELECT %(tenant)s, s.target_id, %(merged)s, %(now)s, "
            "%(details)s::jsonb || jsonb_build_object('updated_fields', to_jsonb(s.changed)), "
            "%(now)s FROM import_stage s WHERE NOT s.is_new AND cardinality(s.changed) > 0 "
            "UNION ALL "
            "SELECT DISTINCT %(tenant)s, s.target_id, a.kind, a.occurred_at, "
            "%(details)s::jsonb, %(now)s::timestamptz "
            "FROM import_stage_activity a JOIN import_stage s ON s.seq = a.seq "
            "WHERE s.is_new OR NOT EXISTS (SELECT 1 FROM inquiries_activity x "
            "WHERE x.tenant_id = %(tenant)s AND x.inquiry_id = s.target_id "
            "AND x.kind = a.kind AND x.occurred_at = a.occurred_at)",
            {"tenant": tenant, "now": now, "merged": ActivityKind.MERGED, "details": details},
        )
        cur.execute(
            "SELECT i.id FROM inquiries_inquiry i JOIN import_stage s ON s.target_id = i.id "
            "WHERE i.tenant_id = %(tenant)s AND i.stage <> %(disqualified)s ORDER BY i.id",
            {"tenant": tenant, "disqualified": Stage.DISQUALIFIED},
        )
        return [pk for (pk,) in cur.fetchall()]


# --- Writing a chunk: the ORM (SQLite) ----------------------------------------------------


def _write_with_orm(job: ImportJob, people: list[_Person], now: datetime) -> list[int]:
    """The same chunk with bulk ORM statements: slower, the same outcome."""
    details = {"source": Source.IMPORT, "import_job": job.pk}
    fresh = [p for p in people if p.target_id is None]
    created = Inquiry.objects.bulk_create(
        [
            Inquiry(
                tenant_id=job.tenant_id,
                **p.values,
                company_domain=company_domain(p.values.get("email", "")),
                source=p.source or Source.IMPORT,
                consent=p.consent or Consent.UNKNOWN,
                external_source=p.external_source_new,
                external_id=p.external_id_new,
                custom=p.custom,
                outcome=p.outcome,
                created_at=now,
                updated_at=now,
                last_activity_at=max((w for _k, w in p.activities), default=now),
            )
            for p in fresh
        ]
    )
    for person, inquiry in zip(fresh, created, strict=True):
        person.target_id = inquiry.pk
    known = [p for p in people if p not in fresh]
    stored = Inquiry.objects.in_bulk([p.target_id for p in known])
    activities: list[Activity] = []
    for person in known:
        inquiry = stored[person.target_id]
        changed = _merge_into(inquiry, person, now)
        if changed:
            activities.append(
                Activity(
                    tenant_id=job.tenant_id,
                    inquiry_id=inquiry.pk,
                    kind=ActivityKind.MERGED,
                    occurred_at=now,
                    details={**details, "updated_fields": changed},
                    created_at=now,
                )
            )
    if stored:
        Inquiry.objects.bulk_update(list(stored.values()), _MERGED_FIELDS, batch_size=500)
    existing = set(
        Activity.objects.filter(inquiry_id__in=[p.target_id for p in known]).values_list(
            "inquiry_id", "kind", "occurred_at"
        )
    )
    for person in people:
        for kind, when in sorted(person.activities):
            if (person.target_id, kind, when) not in existing:
                activities.append(
                    Activity(
                        tenant_id=job.tenant_id,
                        inquiry_id=person.target_id,
                        kind=kind,
                        occurred_at=when,
                        details=details,
                        created_at=now,
                    )
                )
    Activity.objects.bulk_create(activities, batch_size=1000)
    return sorted(
        Inquiry.objects.filter(pk__in=[p.target_id for p in people])
        .exclude(stage=Stage.DISQUALIFIED)
        .values_list("pk", flat=True)
    )


_MERGED_FIELDS = [
    *(name for name in _TEXT_FIELDS),
    "company_domain",
    "company_size",
    "custom",
    "consent",
    "external_source",
    "external_id",
    "updated_at",
    "last_activity_at",
]


def _merge_into(inquiry: Inquiry, person: _Person, now: datetime) -> list[str]:
    """Apply a person's values to a stored inquiry as the SQL path does; the fields changed."""
    changed = []
    for name, value in person.values.items():
        if getattr(inquiry, name) != value:
            setattr(inquiry, name, value)
            changed.append(name)
    if "email" in changed:
        inquiry.company_domain = company_domain(inquiry.email)
    if any(inquiry.custom.get(k) != v for k, v in person.custom.items()):
        inquiry.custom = {**inquiry.custom, **person.custom}
        changed.append("custom")
    if person.consent not in ("", Consent.UNKNOWN) and person.consent != inquiry.consent:
        inquiry.consent = person.consent
        changed.append("consent")
    if person.external_id_new and not inquiry.external_id:
        inquiry.external_source = person.external_source_new
        inquiry.external_id = person.external_id_new
        changed.append("external_id")
    if person.outcome and person.outcome != inquiry.outcome:
        inquiry.outcome = person.outcome
        changed.append("outcome")
    last = max((w for _k, w in person.activities), default=None)
    if last and (inquiry.last_activity_at is None or last > inquiry.last_activity_at):
        inquiry.last_activity_at = last
    if changed:
        inquiry.updated_at = now
    return sorted(changed)
