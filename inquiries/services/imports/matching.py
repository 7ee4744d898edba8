"""Matching a chunk's rows to people, as capturing them one by one would.

Rows are matched by capture's rule — email (primary or additional), else
external id from the same source, else normalised phone (the oldest inquiry
with it) — against the stored inquiries and the rows before them, in the
order the import takes them (``order.py``: file order, but a row whose email
came earlier right after the first row with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q

from inquiries.models import Consent, Inquiry, InquiryEmail
from inquiries.services.imports.rows import Row
from leadflow.tenancy.context import require_tenant_id


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
    outcome_on: date | None = None
    outcome_value: Decimal | None = None
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
        if row.outcome_on:
            self.outcome_on = row.outcome_on
        if row.outcome_value is not None:
            self.outcome_value = row.outcome_value
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
    selected = "id, email, external_source, external_id, phone_normalized, false"
    with connection.cursor() as cursor:
        # Three probes, one per index, rather than one OR: in a large tenant the
        # planner may answer the OR by reading the whole tenant (9 s instead of
        # 1 s per 100,000 imported rows into a tenant of a million).
        cursor.execute(
            f"SELECT {selected} FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
            "AND email <> '' AND email = ANY(%(emails)s::text[]) "
            f"UNION SELECT {selected} FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
            "AND external_id <> '' AND external_id = ANY(%(external_ids)s::text[]) "
            f"UNION SELECT {selected} FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
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
