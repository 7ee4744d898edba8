"""The cells a chunk stages for ``COPY``: new people, merged people, stored rows read back."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper

from inquiries.models import BehaviourLevel, Consent, Source, Stage, Timeline
from inquiries.profile import CONTACT_FIELDS, TEXT_PROFILE_FIELDS
from inquiries.services.capture import company_domain
from inquiries.services.imports.matching import Person
from inquiries.services.imports.rows import Row
from inquiries.services.imports.scorer import ScoreCells, Scorer
from leadflow.tenancy.context import require_tenant_id

# The text columns a chunk writes, in the order of the stage table's cells: the
# normalized phone right after the phone, and ``timeline``, ``outcome`` last.
TEXT_FIELDS = (
    *CONTACT_FIELDS,
    "phone_normalized",
    *(name for name in TEXT_PROFILE_FIELDS if name not in CONTACT_FIELDS),
    "outcome",
)

# Every column a chunk writes to ``inquiries_inquiry``, with its type in the stage table.
WRITTEN = (
    *((name, "text") for name in TEXT_FIELDS),
    ("company_domain", "text"),
    ("company_size", "integer"),
    ("source", "text"),
    ("consent", "text"),
    ("external_source", "text"),
    ("external_id", "text"),
    ("custom", "jsonb"),
    ("campaign_id", "bigint"),
    ("outcome_on", "date"),
    ("outcome_value", "numeric"),
    ("stage", "text"),
    ("fit_score", "integer"),
    ("engagement_score", "integer"),
    ("score", "integer"),
    ("score_breakdown", "jsonb"),
    ("behaviour_level", "text"),
    ("definition_id", "bigint"),
    ("scored_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("last_activity_at", "timestamptz"),
)

WRITTEN_NAMES = [name for name, _type in WRITTEN]

STAGE_COLUMNS = [
    ("seq", "int"),
    ("target_id", "bigint"),
    ("is_new", "boolean"),
    ("dirty", "boolean"),
    ("changed", "text[]"),
    *WRITTEN,
]

NULLABLE = (
    "company_size",
    "campaign_id",
    "outcome_on",
    "outcome_value",
    "definition_id",
    "scored_at",
    "last_activity_at",
)


class CsvLines:
    """Formats one row as a line of CSV, as COPY reads it (the C csv writer, every value quoted).

    The reader (``imports.run_import_job`` reads ahead in a forked process)
    formats the cells of new people with its own, the writer the rest.
    """

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")

    def line(self, values: Iterable[Any]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(values)
        return self._buffer.getvalue()


class _CsvStream:
    """The rows as CSV text, fifty rows at a time; a row is a tuple or a line already formatted.

    The chunk's stage rows are produced lazily and never held as one text.
    """

    def __init__(self, rows: Iterable[tuple[Any, ...] | str]):
        self._rows = iter(rows)
        self._lines = CsvLines()
        self._pending = ""

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._pending) < size:
            batch = list(itertools.islice(self._rows, 50))
            if not batch:
                break
            self._pending += "".join(
                row if isinstance(row, str) else self._lines.line(row) for row in batch
            )
        if size < 0:
            size = len(self._pending)
        text, self._pending = self._pending[:size], self._pending[size:]
        return text


def copy_rows(
    cursor: CursorWrapper,
    table: str,
    columns: list[str],
    rows: Iterable[tuple[Any, ...] | str],
    nullable: tuple[str, ...] = (),
) -> None:
    """COPY rows as CSV (the C csv writer); in ``nullable`` columns "" reads as NULL."""
    options = "FORMAT csv" + (f", FORCE_NULL ({', '.join(nullable)})" if nullable else "")
    cursor.cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN ({options})", _CsvStream(rows)
    )


UNSCORED: ScoreCells = (Stage.INQUIRY, 0, 0, 0, "[]", BehaviourLevel.VISITOR)


def new_cells(
    values: dict[str, Any],
    custom: dict[str, Any],
    source: str,
    consent: str,
    external: tuple[str, str],
    outcome: str,
    campaign_id: int | None,
    scored: ScoreCells,
    closed: tuple[date | None, Decimal | None] = (None, None),
) -> tuple[Any, ...]:
    """The stage cells of a new person, from ``first_name`` to ``behaviour_level``."""
    email = values.get("email", "")
    return (
        *(values.get(name, "") for name in TEXT_FIELDS[:-2]),
        values.get("timeline") or Timeline.UNKNOWN,
        outcome,
        company_domain(email) if email else "",
        values.get("company_size"),
        source or Source.IMPORT,
        consent or Consent.UNKNOWN,
        *external,
        json.dumps(custom),
        campaign_id,
        closed[0].isoformat() if closed[0] else None,
        closed[1],
        *scored,
    )


def prepare_rows(rows: Iterable[Row], scorer: Scorer | None) -> None:
    """In the reader: each row's stage cells as if it were a new person on its own.

    Most rows of an import are exactly that; the writer takes the cells —
    already formatted as CSV, the costly part of staging them — when the
    row's person turns out new and made of that row alone (its values,
    consent, source and external id are then the row's own), and builds
    everyone else's itself.
    """
    lines = CsvLines()
    for row in rows:
        scored = (
            scorer.score(row.clean, row.custom, row.source, set(row.activities))
            if scorer
            else UNSCORED
        )
        cells = new_cells(
            row.clean,
            row.custom,
            row.source,
            row.consent,
            (row.external_source, row.external_id),
            row.outcome,
            row.campaign_id,
            scored,
            (row.outcome_on, row.outcome_value),
        )
        row.cells = lines.line(cells)[:-1]
        row.new_stage = scored[0]
        row.scored_by = scorer


def staged_new(person: Person, new_id: int, scorer: Scorer | None, tail: Tail) -> tuple[str, str]:
    """The stage row of a person met for the first time, as a CSV line, and its stage.

    The line is what the INSERT writes; the cells in its middle come from the
    reader when the person is one row of the file.
    """
    first = person.rows[0]
    if len(person.rows) == 1 and first.cells is not None and first.scored_by is scorer:
        cells, stage = first.cells, first.new_stage
    else:
        scored = (
            scorer.score(person.values, person.custom, person.source, person.activities)
            if scorer
            else UNSCORED
        )
        values = new_cells(
            person.values,
            person.custom,
            person.source,
            person.consent,
            (person.external_source_new, person.external_id_new),
            person.outcome,
            person.campaign_id,
            scored,
            (person.outcome_on, person.outcome_value),
        )
        cells, stage = tail.lines.line(values)[:-1], scored[0]
    last = max((when for _kind, when in person.activities), default=None)
    last_text = last.isoformat() if last else tail.now
    return f'{person.seq},{new_id},t,t,"{{}}",{cells},{tail.fixed}{last_text}\n', stage


class Tail:
    """What every new person's stage line of a chunk ends with, formatted once."""

    def __init__(self, scorer: Scorer | None, now: datetime) -> None:
        self.lines = CsvLines()
        self.now = now.isoformat()
        # Numbers and ISO times need no quotes; an empty definition reads as NULL.
        definition = scorer.definition_id if scorer else ""
        scored_at = scorer.as_of.isoformat() if scorer else ""
        self.fixed = f"{definition},{scored_at},{self.now},"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def staged_merge(
    person: Person, inquiry: StoredInquiry, changed: list[str], dirty: bool
) -> tuple[Any, ...]:
    """The stage row of a stored inquiry after the merge (and the rescoring) in memory."""
    array = "{" + ",".join(changed) + "}"
    return (
        person.seq,
        inquiry.pk,
        False,
        dirty,
        array,
        *(_cell(getattr(inquiry, name)) for name in WRITTEN_NAMES),
    )


class StoredInquiry:
    """A stored inquiry as the merge reads and writes it: the written columns, nothing more.

    ``merge_into`` and ``Scorer.rescore`` take it as they take a model
    instance; reading 5,000 of these costs a fraction of building models.
    The score breakdown stays the JSON text it was stored as unless the
    inquiry is rescored.
    """

    __slots__ = ("pk", *WRITTEN_NAMES)

    # The columns of ``WRITTEN`` (set from the row in ``locked``), as the checker sees them.
    pk: int
    first_name: str
    last_name: str
    email: str
    phone: str
    phone_normalized: str
    title: str
    company: str
    industry: str
    country: str
    region: str
    interest: str
    timeline: str
    outcome: str
    company_domain: str
    company_size: int | None
    source: str
    consent: str
    external_source: str
    external_id: str
    custom: dict[str, Any]
    campaign_id: int | None
    outcome_on: date | None
    outcome_value: Decimal | None
    stage: str
    fit_score: int
    engagement_score: int
    score: int
    # The stored JSON text, or the list a rescoring put in its place.
    score_breakdown: str | list[dict[str, Any]]
    behaviour_level: str
    definition_id: int | None
    scored_at: datetime | None
    updated_at: datetime
    last_activity_at: datetime | None

    @classmethod
    def locked(cls, ids: list[int]) -> dict[int, StoredInquiry]:
        """The inquiries with these ids, locked until the chunk's transaction ends."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {', '.join(WRITTEN_NAMES)} FROM inquiries_inquiry "
                "WHERE tenant_id = %s AND id = ANY(%s::bigint[]) FOR UPDATE",
                [require_tenant_id(), ids],
            )
            found: dict[int, StoredInquiry] = {}
            for values in cursor.fetchall():
                inquiry = cls()
                row = dict(zip(cls.__slots__, values, strict=True))
                # Django reads jsonb as its text; the merge compares and updates the dict.
                row["custom"] = json.loads(row["custom"])
                for name, value in row.items():
                    setattr(inquiry, name, value)
                found[inquiry.pk] = inquiry
            return found
