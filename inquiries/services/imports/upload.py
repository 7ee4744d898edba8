"""Taking an uploaded CSV: storing it, working out how to read it, a first mapping."""

from __future__ import annotations

import codecs
import io
import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from inquiries.models import CustomField, ImportJob
from inquiries.services.imports.files import (
    check_structure,
    looks_binary,
    sniff_delimiter,
    store_upload,
    unreadable,
)
from inquiries.services.validation import ACTIVITY_KINDS
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

DEFAULT_PLACEHOLDERS = ["N/A", "-", "--", "Select", "null"]

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
    "external_id": (
        "external_id",
        "id",
        "record_id",
        "contact_id",
        "lead_id",
        "lead_number",
        "lead_no",
        "lead_nr",
        "lead_num",
        "record_number",
        "contact_number",
        "prospect_id",
        "prospect_number",
        "customer_id",
        "customer_number",
        "crm_id",
    ),
    "external_source": ("external_source", "system", "origin"),
}

CAMPAIGN_HEADERS = ("campaign", "campaign_name", "utm_campaign")
OUTCOME_HEADERS = (
    "outcome",
    "result",
    "won_lost",
    "converted",
    "is_converted",
    "conversion",
    "won",
)
OUTCOME_DATE_HEADERS = ("close_date", "closed_on", "closed_at", "won_date", "date_closed")
OUTCOME_VALUE_HEADERS = ("deal_value", "amount", "deal_amount", "revenue", "won_value", "value")
# An id column a CRM names otherwise ("Lead Number", "Prospect Ref"): <who>_<id word>.
ID_RE = re.compile(r"(lead|record|contact|prospect|customer|person|crm)_?(id|number|no|nr|ref|key)")


def imports_root() -> Path:
    return Path(settings.IMPORTS_ROOT)


def stored_file(job: ImportJob) -> Path:
    return imports_root() / job.stored_path


def _normal_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def open_stored(job: ImportJob) -> io.TextIOWrapper:
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
        elif ID_RE.fullmatch(name) and "external_id" not in taken:
            mapping[header] = {"to": "field", "field": "external_id"}
            taken.add("external_id")
        elif name in OUTCOME_DATE_HEADERS and "outcome_date" not in taken:
            mapping[header] = {"to": "outcome_date"}
            taken.add("outcome_date")
        elif name in OUTCOME_VALUE_HEADERS and "outcome_value" not in taken:
            mapping[header] = {"to": "outcome_value"}
            taken.add("outcome_value")
        elif name in OUTCOME_HEADERS and "outcome" not in taken:
            mapping[header] = {"to": "outcome"}
            taken.add("outcome")
        else:
            mapping[header] = {"to": "ignore"}
    return mapping


def remove_file_on_commit(job: ImportJob) -> None:
    path = stored_file(job)
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
