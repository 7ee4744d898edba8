"""Writing one chunk of an import: set-based SQL on PostgreSQL, ORM bulk statements elsewhere.

Both paths store the same result (a test holds them to it): new people are
inserted, known ones merged by ``merge_into``, the one merge rule of both
(non-empty values win, custom values merged, consent only by an explicit
statement, an external id only where none is set, the first campaign kept),
the mapped activities added once, and a "merged" entry on the timeline when a
merge changed something.

The "merged" entry also says which value each row replaced (``changes``:
field, old and new value, the row's number in the file), the file's name and
the import's id: a person's rows are taken together (``order.py``), so a
later row with the same email and another name renames the person in memory,
before anything is written — on a new person as on a stored one. Only a
value that replaces another is listed; one that fills an empty field is in
``updated_fields`` as before.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, connection

from inquiries import scoring
from inquiries import stages as inquiry_stages
from inquiries.models import (
    Activity,
    ActivityKind,
    BehaviourLevel,
    Consent,
    ImportJob,
    Inquiry,
    Source,
    Stage,
    Timeline,
)
from inquiries.profile import CONTACT_FIELDS, PROFILE_FIELDS, TEXT_PROFILE_FIELDS
from inquiries.selectors.scoring import profile_of
from inquiries.services.capture import company_domain
from inquiries.services.imports.rows import Person, Row
from inquiries.services.scoring import SCORED_STAGES
from leadflow.lib import stages
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.principal import Principal

logger = logging.getLogger(__name__)

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
NULLABLE = ("company_size", "campaign_id", "definition_id", "scored_at", "last_activity_at")


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

    def __init__(self, rows: Iterable[tuple | str]):
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
    cursor,
    table: str,
    columns: list[str],
    rows: Iterable[tuple | str],
    nullable: tuple[str, ...] = (),
) -> None:
    """COPY rows as CSV (the C csv writer); in ``nullable`` columns "" reads as NULL."""
    options = "FORMAT csv" + (f", FORCE_NULL ({', '.join(nullable)})" if nullable else "")
    cursor.cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN ({options})", _CsvStream(rows)
    )


@dataclass(frozen=True)
class Scorer:
    """The active definition, applied in Python to the people a chunk writes.

    A new person's whole record is in the file, and a known person's stored
    record and activities are read (locked) with the chunk, so
    ``scoring.score`` — the reference the set-based rescoring is held equal
    to — gives the score before the write. Each row is then written once,
    scored and in its stage, instead of written, then updated by the scoring
    SQL, then moved to MQL or nurture.
    """

    definition_id: int
    rules: scoring.Rules
    as_of: datetime
    # The JSON of each breakdown line met so far: a definition has few rules and a
    # few point values each, and json.dumps of every breakdown cost 0.9 s per 100,000.
    _lines: dict[tuple[str, str, int], str] = field(default_factory=dict, compare=False, repr=False)

    def breakdown_json(self, breakdown: list[dict[str, Any]]) -> str:
        """``json.dumps(breakdown)``, from the lines already met."""
        parts = []
        for line in breakdown:
            key = (line["rule"], line["kind"], line["points"])
            text = self._lines.get(key)
            if text is None:
                text = self._lines[key] = json.dumps(line)
            parts.append(text)
        return "[" + ", ".join(parts) + "]"

    def score(
        self,
        values: dict[str, Any],
        custom: dict[str, Any],
        source: str,
        activities: Iterable[tuple[str, datetime]],
    ) -> tuple:
        """A new person's score columns: stage, fit, engagement, total, breakdown, level."""
        profile: dict[str, Any] = {name: values.get(name, "") for name in scoring.STANDARD_FIELDS}
        profile["company_size"] = values.get("company_size")
        profile["timeline"] = values.get("timeline") or Timeline.UNKNOWN
        profile["source"] = source or Source.IMPORT
        for key, value in custom.items():
            profile[f"custom.{key}"] = value
        result = scoring.score(profile, activities, self.rules, as_of=self.as_of)
        return (
            Stage.MQL if result.qualifies else Stage.NURTURE,
            result.fit,
            result.engagement,
            result.total,
            self.breakdown_json(result.breakdown),
            result.level,
        )

    def rescore(
        self, inquiry: Inquiry | StoredInquiry, activities: Iterable[tuple[str, datetime]]
    ) -> str | None:
        """Score a stored inquiry in memory as score_inquiry would; the stage it should move to.

        None when it stays where it is. The stage itself is not touched here:
        the chunk moves the inquiry through the stage mover after writing it.
        """
        result = scoring.score(profile_of(inquiry), activities, self.rules, as_of=self.as_of)
        inquiry.fit_score = result.fit
        inquiry.engagement_score = result.engagement
        inquiry.score = result.total
        inquiry.score_breakdown = result.breakdown
        inquiry.behaviour_level = result.level
        inquiry.definition_id = self.definition_id
        inquiry.scored_at = self.as_of
        if inquiry.stage not in SCORED_STAGES:
            return None
        stage = Stage.MQL if result.qualifies else Stage.NURTURE
        return None if stage == inquiry.stage else stage


UNSCORED = (Stage.INQUIRY, 0, 0, 0, "[]", BehaviourLevel.VISITOR)


def new_cells(
    values: dict[str, Any],
    custom: dict[str, Any],
    source: str,
    consent: str,
    external: tuple[str, str],
    outcome: str,
    campaign_id: int | None,
    scored: tuple,
) -> tuple:
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
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def staged_merge(person: Person, inquiry: StoredInquiry, changed: list[str], dirty: bool) -> tuple:
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

    @classmethod
    def locked(cls, ids: list[int]) -> dict[int, StoredInquiry]:
        """The inquiries with these ids, locked until the chunk's transaction ends."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {', '.join(WRITTEN_NAMES)} FROM inquiries_inquiry "
                "WHERE tenant_id = %s AND id = ANY(%s::bigint[]) FOR UPDATE",
                [require_tenant_id(), ids],
            )
            found = {}
            for values in cursor.fetchall():
                inquiry = cls()
                for name, value in zip(cls.__slots__, values, strict=True):
                    setattr(inquiry, name, value)
                inquiry.custom = json.loads(inquiry.custom)
                found[inquiry.pk] = inquiry
            return found


FIELD_LABELS = {name: str(Inquiry._meta.get_field(name).verbose_name) for name in PROFILE_FIELDS}


def value_changes(person: Person, stored: Inquiry | StoredInquiry | None) -> list[dict[str, Any]]:
    """Each value a row of the file replaced, in the order the rows are applied.

    A new person starts from its first row; a stored one from what is stored.
    """
    rows = person.rows
    if stored is None:
        current = dict(person.row_values(rows[0]))
        rows = rows[1:]
    else:
        current = {name: getattr(stored, name) for name in PROFILE_FIELDS}
    changes = []
    for row in rows:
        for name, value in person.row_values(row).items():
            if name not in FIELD_LABELS:
                continue
            old = current.get(name)
            if old not in (None, "") and old != value:
                changes.append(
                    {
                        "row": row.number,
                        "field": name,
                        "label": FIELD_LABELS[name],
                        "old": old,
                        "new": value,
                    }
                )
            current[name] = value
    return changes


def merged_details(
    job: ImportJob, changed: list[str], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the "merged" entry of an import says: the import, the fields and the rows' changes."""
    details: dict[str, Any] = {
        "source": Source.IMPORT,
        "import_job": job.pk,
        "file": job.file_name,
        "updated_fields": changed,
    }
    if changes:
        details["changes"] = changes
    return details


def merge_stored(
    people: list[Person], now: datetime, scorer: Scorer | None, written: Written
) -> tuple[list[tuple], dict[int, set[tuple[str, datetime]]]]:
    """Merge the known people into their stored inquiries in memory.

    Returns their stage rows and the activities they have stored, which the
    chunk does not add again. The stored rows are locked for the chunk's
    transaction, so a capture of the same person at the same moment waits
    instead of being overwritten. ``merge_into`` is the merge rule of both
    writing paths.
    """
    known = [p for p in people if p.target_id is not None]
    if not known:
        return [], {}
    ids = [p.target_id for p in known]
    stored = StoredInquiry.locked(ids)
    if len(stored) < len(set(ids)):
        # Merged away or deleted since the chunk was matched: the chunk's
        # transaction is retried and matches again (``run._run_chunk``).
        raise IntegrityError("an inquiry the chunk merges into is gone")
    activities: dict[int, list[tuple[str, datetime]]] = {pk: [] for pk in ids}
    for pk, kind, when in Activity.objects.filter(inquiry_id__in=ids).values_list(
        "inquiry_id", "kind", "occurred_at"
    ):
        activities[pk].append((kind, when))
    rows = []
    for person in known:
        inquiry = stored[person.target_id]
        last_before = inquiry.last_activity_at
        written.changes[inquiry.pk] = value_changes(person, inquiry)
        changed = merge_into(inquiry, person, now)
        written.changed[inquiry.pk] = changed
        dirty = bool(changed) or inquiry.last_activity_at != last_before
        if scorer is not None and inquiry.stage != Stage.DISQUALIFIED:
            had = activities[inquiry.pk]
            seen = set(had)
            everything = had + [a for a in sorted(person.activities) if a not in seen]
            target = scorer.rescore(inquiry, everything)
            if target is not None:
                written.moves.setdefault(target, []).append(inquiry.pk)
            dirty = True
        rows.append(staged_merge(person, inquiry, changed, dirty))
    return rows, {pk: set(had) for pk, had in activities.items()}


@dataclass
class Written:
    """What a chunk wrote: the new inquiries per stage they were created in, and the stage
    moves its rescoring calls for (target stage → ids of stored inquiries), made by the
    caller through the stage mover once the rows are written.

    And, per stored inquiry merged, the fields its merge changed and the
    values the rows replaced.
    """

    arrived: dict[str, list[int]] = field(default_factory=dict)
    moves: dict[str, list[int]] = field(default_factory=dict)
    changed: dict[int, list[str]] = field(default_factory=dict)
    changes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def route_written(written: Written, *, by: Principal) -> None:
    """Move the stored inquiries the chunk rescored; hand its new ones to their stage's hooks.

    A stored person whose score crosses the threshold moves through the
    stage mover (one call per target stage, one history row each). A new
    person was created already in its stage: not a move, no history, but the
    stage's hooks (nurture's enrolment) see it all the same.
    """
    for target, ids in sorted(written.moves.items()):
        stages.move_many(
            inquiry_stages.MACHINE,
            ids,
            target,
            by=by,
            reason="import rescore",
            only_from=inquiry_stages.SCORED,
        )
    for stage, ids in sorted(written.arrived.items()):
        stages.arrived(inquiry_stages.MACHINE, ids, stage, by=by)


def write_in_sql(
    job: ImportJob, people: list[Person], now: datetime, scorer: Scorer | None
) -> Written:
    """Stage the chunk with COPY; insert the new, update the merged, add activities.

    Every row is prepared in Python — new people scored, known ones merged and
    rescored against their stored record — and written once, set-based.
    """
    tenant = job.tenant_id
    details = json.dumps({"source": Source.IMPORT, "import_job": job.pk})
    merged_kind = str(ActivityKind.MERGED)
    written = Written()
    with connection.cursor() as cur:
        # Ids for the new people up front, so the stage rows carry them. The
        # sequence is looked up once (OFFSET 0 keeps the planner from inlining
        # the lookup into every row, where it cost five times the nextval).
        new = [p for p in people if p.target_id is None]
        cur.execute(
            "SELECT nextval(q.seq) FROM (SELECT pg_get_serial_sequence('inquiries_inquiry', "
            "'id')::regclass AS seq OFFSET 0) q, generate_series(1, %s)",
            [len(new)],
        )
        ids = [pk for (pk,) in cur.fetchall()]
        merged_rows, stored_activities = merge_stored(people, now, scorer, written)
        tail = Tail(scorer, now)

        def new_rows() -> Iterator[str]:
            for person, pk in zip(new, ids, strict=True):
                line, stage = staged_new(person, pk, scorer, tail)
                written.arrived.setdefault(stage, []).append(pk)
                yield line

        # Dropped at commit; dropped here too for a chunk inside an outer transaction.
        cur.execute("DROP TABLE IF EXISTS import_stage, import_stage_activity")
        columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS)
        cur.execute(f"CREATE TEMP TABLE import_stage ({columns}) ON COMMIT DROP")
        cur.execute(
            "CREATE TEMP TABLE import_stage_activity "
            "(inquiry_id bigint, kind text, occurred_at timestamptz, details jsonb) ON COMMIT DROP"
        )
        copy_rows(
            cur,
            "import_stage",
            [name for name, _kind in STAGE_COLUMNS],
            itertools.chain(new_rows(), merged_rows),
            nullable=NULLABLE,
        )
        # A known person's activities already stored are not added again.
        owners = itertools.chain(
            zip(new, ids, strict=True), ((p, p.target_id) for p in people if p.target_id)
        )
        # The "merged" entries: a stored person's merge that changed something, a
        # new person's later row that replaced a value.
        merges = itertools.chain(
            (
                (pk, changed, written.changes[pk])
                for pk, changed in written.changed.items()
                if changed or written.changes[pk]
            ),
            (
                (pk, sorted({c["field"] for c in changes}), changes)
                for person, pk in zip(new, ids, strict=True)
                if len(person.rows) > 1
                for changes in (value_changes(person, None),)
                if changes
            ),
        )
        copy_rows(
            cur,
            "import_stage_activity",
            ["inquiry_id", "kind", "occurred_at", "details"],
            itertools.chain(
                (
                    (pk, kind, when.isoformat(), "")
                    for person, pk in owners
                    for kind, when in person.activities
                    if (kind, when) not in stored_activities.get(pk, ())
                ),
                (
                    (
                        pk,
                        merged_kind,
                        now.isoformat(),
                        json.dumps(merged_details(job, changed, changes)),
                    )
                    for pk, changed, changes in merges
                ),
            ),
            nullable=("details",),
        )
        # Temporary tables get no statistics of their own; with them the planner
        # probes the chunk's inquiries by id instead of scanning the tenant.
        # The join columns are enough (the whole rows take twice as long).
        cur.execute("ANALYZE import_stage (seq, target_id, is_new, dirty)")
        names = ", ".join(WRITTEN_NAMES)
        cur.execute(
            f"INSERT INTO inquiries_inquiry (id, tenant_id, disqualified_reason, created_at, "
            f"{names}) SELECT s.target_id, %(tenant)s, '', %(now)s, "
            f"{', '.join(f's.{n}' for n in WRITTEN_NAMES)} "
            "FROM import_stage s WHERE s.is_new ORDER BY s.seq",
            {"tenant": tenant, "now": now},
        )
        if merged_rows:
            # A stored inquiry's stage is not written here: a move goes through the mover.
            assignments = ", ".join(f"{n} = s.{n}" for n in WRITTEN_NAMES if n != "stage")
            # The table's statistics (the runtime role may not ANALYZE) may
            # predate this tenant's rows: estimating it at one row, the planner
            # nests a scan of the stage table inside each of them, quadratic
            # in the chunk. The ids bound the inquiries read; hash it.
            cur.execute("SET LOCAL enable_nestloop = off")
            cur.execute(
                f"UPDATE inquiries_inquiry i SET {assignments} FROM import_stage s "
                "WHERE i.tenant_id = %(tenant)s AND i.id = ANY(%(ids)s::bigint[]) "
                "AND i.id = s.target_id AND NOT s.is_new AND s.dirty",
                {"tenant": tenant, "ids": [row[1] for row in merged_rows if row[3]]},
            )
            cur.execute("SET LOCAL enable_nestloop = on")
        cur.execute(
            "INSERT INTO inquiries_activity (tenant_id, inquiry_id, kind, occurred_at, details, "
            "created_at) "
            "SELECT %(tenant)s, a.inquiry_id, a.kind, a.occurred_at, "
            "COALESCE(a.details, %(details)s::jsonb), %(now)s::timestamptz "
            "FROM import_stage_activity a",
            {"tenant": tenant, "now": now, "details": details},
        )
    return written


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


# --- Writing a chunk: the ORM (SQLite) ----------------------------------------------------


def _scored_columns(person: Person, scorer: Scorer | None) -> dict[str, Any]:
    """A new person's stage and score columns as the set-based path writes them."""
    if scorer is None:
        return {}
    stage, fit, engagement, total, breakdown, level = scorer.score(
        person.values, person.custom, person.source, person.activities
    )
    return {
        "stage": stage,
        "fit_score": fit,
        "engagement_score": engagement,
        "score": total,
        "score_breakdown": json.loads(breakdown),
        "behaviour_level": level,
        "definition_id": scorer.definition_id,
        "scored_at": scorer.as_of,
    }


def write_with_orm(
    job: ImportJob, people: list[Person], now: datetime, scorer: Scorer | None = None
) -> tuple[list[int], dict[str, list[int]]]:
    """The same chunk with bulk ORM statements: slower, the same outcome.

    New people are created scored and in their stage, as on the set-based
    path. Returns the stored inquiries merged (not disqualified), for the
    caller to rescore (and move), and the new ones by the stage they were
    created in.
    """
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
                campaign_id=p.campaign_id,
                created_at=now,
                updated_at=now,
                last_activity_at=max((w for _k, w in p.activities), default=now),
                **_scored_columns(p, scorer),
            )
            for p in fresh
        ]
    )
    arrived: dict[str, list[int]] = {}
    for inquiry in created:
        arrived.setdefault(inquiry.stage, []).append(inquiry.pk)
    activities: list[Activity] = []

    def merged(pk: int, changed: list[str], changes: list[dict[str, Any]]) -> Activity:
        return Activity(
            tenant_id=job.tenant_id,
            inquiry_id=pk,
            kind=ActivityKind.MERGED,
            occurred_at=now,
            details=merged_details(job, changed, changes),
            created_at=now,
        )

    for person, inquiry in zip(fresh, created, strict=True):
        person.target_id = inquiry.pk
        changes = value_changes(person, None) if len(person.rows) > 1 else []
        if changes:
            activities.append(merged(inquiry.pk, sorted({c["field"] for c in changes}), changes))
    known = [p for p in people if p not in fresh]
    stored = Inquiry.objects.in_bulk([p.target_id for p in known])
    for person in known:
        inquiry = stored[person.target_id]
        changes = value_changes(person, inquiry)
        changed = merge_into(inquiry, person, now)
        if changed or changes:
            activities.append(merged(inquiry.pk, changed, changes))
    if stored:
        Inquiry.objects.bulk_update(list(stored.values()), MERGED_FIELDS, batch_size=500)
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
    merged_into = sorted(
        Inquiry.objects.filter(pk__in=[p.target_id for p in known])
        .exclude(stage=Stage.DISQUALIFIED)
        .values_list("pk", flat=True)
    )
    return merged_into, arrived


MERGED_FIELDS = [
    *(name for name in TEXT_FIELDS),
    "company_domain",
    "company_size",
    "custom",
    "consent",
    "external_source",
    "external_id",
    "campaign",
    "updated_at",
    "last_activity_at",
]


def merge_into(inquiry: Inquiry | StoredInquiry, person: Person, now: datetime) -> list[str]:
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
    if person.campaign_id and inquiry.campaign_id is None:
        inquiry.campaign_id = person.campaign_id
        changed.append("campaign")
    last = max((w for _k, w in person.activities), default=None)
    if last and (inquiry.last_activity_at is None or last > inquiry.last_activity_at):
        inquiry.last_activity_at = last
    if changed:
        inquiry.updated_at = now
    return sorted(changed)


def set_based() -> bool:
    """Whether chunks are written with COPY and SQL (PostgreSQL) or the ORM (elsewhere).

    Callers ask ``writing.set_based()`` (not a copy of the name), so a test can
    take the ORM path on PostgreSQL.
    """
    return connection.vendor == "postgresql"
