"""The rows of an import: each cell checked by the API's rules, each row matched to a person.

Rows are matched by capture's rule — email (primary or additional), else
external id from the same source, else normalised phone (the oldest inquiry
with it) — against the
stored inquiries and the rows before them, in the order the import takes
them (``order.py``: file order, but a row whose email came earlier right
after the first row with it), as capturing them one by one in that order
would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q

from inquiries.models import (
    Campaign,
    Consent,
    CustomField,
    ImportJob,
    Inquiry,
    InquiryEmail,
    RowProblem,
)
from inquiries.profile import PROFILE_FIELDS
from inquiries.services.capture import _normalized
from inquiries.services.custom_fields import clean_custom_values
from inquiries.services.validation import (
    clean_activity_time,
    clean_cell,
    clean_choice,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import require_tenant_id

CAMPAIGN_NAME_MAX = Campaign._meta.get_field("name").max_length


@dataclass
class Plan:
    """The mapping compiled for one pass over the file."""

    columns: list[tuple[int, str, dict[str, Any]]]
    fields: dict[str, CustomField]
    placeholders: frozenset[str]
    custom_headers: dict[str, str]
    # The tenant's current campaigns by lower-case name, when a column names them.
    campaigns: dict[str, int] = field(default_factory=dict)
    # Archived campaigns' lower-case names: they exist, but take no new inquiries.
    archived_campaigns: frozenset[str] = frozenset()

    @classmethod
    def of(cls, job: ImportJob) -> Plan:
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
        campaigns = {}
        archived = set()
        if any(spec["to"] == "campaign" for _i, _h, spec in columns):
            for pk, name, archived_at in Campaign.objects.values_list("pk", "name", "archived_at"):
                if archived_at is None:
                    campaigns[name.lower()] = pk
                else:
                    archived.add(name.lower())
        return cls(columns, fields, placeholders, custom_headers, campaigns, frozenset(archived))

    def is_missing_campaign(self, header: str, text: str) -> bool:
        """Whether ``text`` in ``header`` names a campaign that does not exist (not archived)."""
        key = text.strip().lower()
        return (
            0 < len(key) <= CAMPAIGN_NAME_MAX
            and any(h == header and spec["to"] == "campaign" for _i, h, spec in self.columns)
            and key not in self.campaigns
            and key not in self.archived_campaigns
        )


@dataclass(slots=True)
class Row:
    number: int
    clean: dict[str, Any]
    custom: dict[str, Any]
    consent: str
    source: str
    external_source: str
    external_id: str
    outcome: str
    activities: list[tuple[str, datetime]]
    campaign_id: int | None = None
    # Set by the reader (a forked process): the row's stage cells as a new person on its own
    # (scored), as CSV text; the stage they put it in; the scorer (or None) used.
    cells: str | None = None
    new_stage: str = ""
    scored_by: Any = None


# The cells that say who the person is: a bad one skips the row, since leaving it
# out could make or merge the wrong person. A bad cell of any other column is
# left out of its row with a warning, and the person is imported.
IDENTITY_FIELDS = frozenset({"email", "phone", "external_id", "external_source"})


@dataclass(frozen=True, slots=True)
class CellError:
    """One problem of the per-row report: an error skips its row, a warning only its cell."""

    row: int
    column: str
    value: str
    message: str
    severity: str = RowProblem.ERROR

    @property
    def is_warning(self) -> bool:
        return self.severity == RowProblem.WARNING

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
            "severity": self.severity,
        }


def parse_row(plan: Plan, number: int, cells: list[str]) -> tuple[Row | None, list[CellError]]:
    """The row's clean values and the warnings of the cells left out, or the row's errors.

    A bad cell of an identity column (email, phone, external id and its
    source), or no identity at all, skips the row: every problem of the row is
    then an error. A bad cell of any other column (a name too long, a size
    that is no size, an activity date like 31/13/2026, an unknown campaign or
    choice, a custom value of the wrong type) is left out, the row imported
    without it, and the problem reported as a warning.
    """
    errors: list[CellError] = []
    skip_row = False
    profile: dict[str, Any] = {}
    extra: dict[str, str] = {}
    custom_raw: dict[str, str] = {}
    activities: list[tuple[str, datetime]] = []
    columns_of: dict[str, tuple[str, str]] = {}
    outcome = ""
    campaign_id = None
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
            elif to == "campaign":
                campaign_id = plan.campaigns.get(text.lower())
                if campaign_id is None and text.lower() in plan.archived_campaigns:
                    raise ValueError(
                        f"The campaign {text!r} is archived; restore it under Campaigns "
                        "or ignore this column."
                    )
                if campaign_id is None:
                    raise ValueError(
                        f"No campaign named {text!r}; create it from the dry run or under "
                        "Campaigns, or ignore this column."
                    )
            else:
                outcome = clean_choice("outcome", text)
        except ValueError as exc:
            errors.append(CellError(number, header, text, str(exc)))
            skip_row = skip_row or (to == "field" and spec["field"] in IDENTITY_FIELDS)
    custom, custom_errors = clean_custom_values(custom_raw, plan.fields)
    for path, messages in custom_errors.items():
        key = path.removeprefix("custom.")
        header = plan.custom_headers.get(key, path)
        errors.append(CellError(number, header, custom_raw.get(key, ""), messages[0]))
    clean: dict[str, Any] = {}
    while True:
        try:
            clean = _normalized(profile)
            break
        except RuleViolation as exc:
            header, text = columns_of.get(exc.field, (exc.field, ""))
            errors.append(CellError(number, header, text, exc.message))
            if exc.field in IDENTITY_FIELDS or exc.field not in profile:
                skip_row = True
                break
            del profile[exc.field]  # left out; the rest of the profile is normalised again
    external_id = extra.get("external_id", "")
    if not skip_row and not (clean.get("email") or clean.get("phone_normalized") or external_id):
        skip_row = True
        if not errors:
            errors.append(
                CellError(number, "", "", "Give at least one of email, phone or external_id.")
            )
    if skip_row:
        return None, errors
    if errors:
        errors = [replace(e, severity=RowProblem.WARNING) for e in errors]
    return (
        Row(
            number=number,
            clean=clean,
            custom=custom,
            consent=extra.get("consent", ""),
            source=extra.get("source", ""),
            external_source=extra.get("external_source", "") if external_id else "",
            external_id=external_id,
            outcome=outcome,
            activities=activities,
            campaign_id=campaign_id,
        ),
        errors,
    )


@dataclass(slots=True)
class Person:
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
    campaign_id: int | None = None
    activities: set[tuple[str, datetime]] = field(default_factory=set)
    rows: list[Row] = field(default_factory=list)
    # The stored inquiry's additional emails met in the rows: they leave the primary as it is.
    known_emails: set[str] = field(default_factory=set)

    def take(self, row: Row, ext_free: bool) -> None:
        """Merge a row in, as capture merges a response: its non-empty values win."""
        self.rows.append(row)
        self.values.update(self.row_values(row))
        self.custom.update(row.custom)
        if row.consent and row.consent != Consent.UNKNOWN:
            self.consent = row.consent
        if row.source and not self.source:
            self.source = row.source
        if row.outcome:
            self.outcome = row.outcome
        if row.campaign_id and not self.campaign_id:
            self.campaign_id = row.campaign_id  # the first campaign that reached them
        if row.external_id and not self.external_id and ext_free:
            self.external_id = self.external_id_new = row.external_id
            self.external_source_new = row.external_source
        self.activities.update(row.activities)

    def row_values(self, row: Row) -> dict[str, Any]:
        """The profile values the row gives the person: all but an additional email."""
        if row.clean.get("email") in self.known_emails:
            return {k: v for k, v in row.clean.items() if k != "email"}
        return row.clean


@dataclass
class Matcher:
    """Who is who: stored inquiries found by the rows' keys, and people earlier in the pass."""

    emails: dict[str, Any] = field(default_factory=dict)
    externals: dict[tuple[str, str], Any] = field(default_factory=dict)
    phones: dict[str, Any] = field(default_factory=dict)
    stored_external: dict[int, str] = field(default_factory=dict)
    # Additional emails (kept by a merge) of the stored inquiries found: email → inquiry id.
    additional: dict[str, int] = field(default_factory=dict)
    # Look stored inquiries up with arrays in SQL (PostgreSQL), or with the ORM.
    in_sql: bool = True

    def load(self, rows: list[Row]) -> None:
        """One query for the stored inquiries any of the rows could merge into."""
        emails = sorted({r.clean["email"] for r in rows if r.clean.get("email")} - set(self.emails))
        pairs = {(r.external_source, r.external_id) for r in rows if r.external_id}
        pairs -= set(self.externals)
        phones = {r.clean["phone_normalized"] for r in rows if r.clean.get("phone_normalized")}
        phones -= set(self.phones)
        if not (emails or pairs or phones):
            return
        found = stored_matches(
            emails, sorted({p[1] for p in pairs}), sorted(phones), in_sql=self.in_sql
        )
        for pk, email, source, external_id, phone, additional in found:
            key = ("stored", pk)
            self.stored_external[pk] = external_id
            if additional:
                self.additional[email] = pk
            if email:
                self.emails.setdefault(email, key)
            if external_id:
                self.externals.setdefault((source, external_id), key)
            if phone:
                self.phones.setdefault(phone, key)  # the oldest inquiry with the number

    def find(self, row: Row) -> Any:
        if row.clean.get("email") and row.clean["email"] in self.emails:
            return self.emails[row.clean["email"]]
        if row.external_id and (row.external_source, row.external_id) in self.externals:
            return self.externals[(row.external_source, row.external_id)]
        if row.clean.get("phone_normalized"):
            return self.phones.get(row.clean["phone_normalized"])
        return None

    def remember(self, key: Any, row: Row, person: Person) -> None:
        if row.clean.get("email"):
            self.emails.setdefault(row.clean["email"], key)
        if person.external_id_new:
            self.externals.setdefault((person.external_source_new, person.external_id_new), key)
        if row.clean.get("phone_normalized"):
            self.phones.setdefault(row.clean["phone_normalized"], key)

    def external_free(self, row: Row, key: Any) -> bool:
        owner = self.externals.get((row.external_source, row.external_id))
        return owner is None or owner == key


def stored_matches(
    emails: list[str], external_ids: list[str], phones: list[str], *, in_sql: bool
) -> list[tuple[int, str, str, str, str, bool]]:
    """(id, email, external source, external id, phone, by an additional email) of matches.

    The stored inquiries with any of the keys; an inquiry found by one of its
    additional emails comes with that address (and True). On PostgreSQL the
    keys go as three arrays (not thousands of parameters), one indexed probe
    each, and ``<> ''`` lets the planner use the partial unique indexes on
    email and external id; the additional emails are a fourth probe in the
    same statement.
    """
    if not in_sql:
        condition = Q(pk__in=[])
        if emails:
            condition |= Q(email__in=emails)
        if external_ids:
            condition |= Q(external_id__in=external_ids)
        if phones:
            condition |= Q(phone_normalized__in=phones)
        found = Inquiry.objects.filter(condition).order_by("pk")
        columns = ("external_source", "external_id", "phone_normalized")
        additional = InquiryEmail.objects.filter(email__in=emails) if emails else None
        return sorted(
            [
                (pk, email, *rest, False)
                for pk, email, *rest in found.values_list("pk", "email", *columns)
            ]
            + [
                (pk, email, *rest, True)
                for pk, email, *rest in (
                    additional.values_list(
                        "inquiry_id", "email", *(f"inquiry__{c}" for c in columns)
                    )
                    if additional is not None
                    else []
                )
            ]
        )
    columns = "id, email, external_source, external_id, phone_normalized, false"
    with connection.cursor() as cursor:
        # Three probes, one per index, rather than one OR: in a large tenant the
        # planner may answer the OR by reading the whole tenant (9 s instead of
        # 1 s per 100,000 imported rows into a tenant of a million).
        cursor.execute(
            f"SELECT {columns} FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
            "AND email <> '' AND email = ANY(%(emails)s::text[]) "
            f"UNION SELECT {columns} FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
            "AND external_id <> '' AND external_id = ANY(%(external_ids)s::text[]) "
            f"UNION SELECT {columns} FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
            "AND phone_normalized = ANY(%(phones)s::text[]) "
            "UNION SELECT i.id, e.email, i.external_source, i.external_id, i.phone_normalized, "
            "true FROM inquiries_inquiryemail e JOIN inquiries_inquiry i "
            "ON i.tenant_id = e.tenant_id AND i.id = e.inquiry_id "
            "WHERE e.tenant_id = %(tenant)s AND e.email = ANY(%(emails)s::text[]) ORDER BY 1",
            {
                "tenant": require_tenant_id(),
                "emails": emails,
                "external_ids": external_ids,
                "phones": phones,
            },
        )
        return cursor.fetchall()


@dataclass
class Resolved:
    people: dict[Any, Person]
    new: int = 0
    merged: int = 0


def resolve(rows: list[Row], matcher: Matcher) -> Resolved:
    """Each valid row to its person, in file order, by capture's rule."""
    matcher.load(rows)
    resolved = Resolved(people={})
    for row in rows:
        key = matcher.find(row)
        if key is None:
            key = ("new", row.number)
            resolved.people[key] = Person(seq=len(resolved.people), target_id=None)
            resolved.new += 1
        else:
            resolved.merged += 1
            if key not in resolved.people:
                target = key[1] if key[0] == "stored" else None
                resolved.people[key] = Person(
                    seq=len(resolved.people),
                    target_id=target,
                    external_id=matcher.stored_external.get(target, "") if target else "",
                )
        person = resolved.people[key]
        email = row.clean.get("email")
        if email and key[0] == "stored" and matcher.additional.get(email) == key[1]:
            person.known_emails.add(email)
        person.take(row, matcher.external_free(row, key))
        matcher.remember(key, row, person)
    return resolved


def parse_chunk(
    plan: Plan, records: list[tuple[int, list[str]]], width: int
) -> tuple[list[Row], list[CellError], int]:
    """(valid rows, the report's errors and warnings, number of invalid rows)."""
    rows: list[Row] = []
    errors: list[CellError] = []
    invalid = 0
    for number, cells in records:
        if len(cells) != width:  # the file changed since it was analysed
            errors.append(
                CellError(number, "", "", f"The row has {len(cells)} fields, not {width}.")
            )
            invalid += 1
            continue
        row, row_errors = parse_row(plan, number, cells)
        errors.extend(row_errors)
        if row is None:
            invalid += 1
        else:
            rows.append(row)
    return rows, errors, invalid
