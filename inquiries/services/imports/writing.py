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

The rows' cells for ``COPY`` are in ``staging.py``, the merge rule in
``merge.py``, the reader's scoring in ``scorer.py`` and the planner's
statistics in ``statistics.py``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection

from inquiries.models import Activity, ActivityKind, Consent, ImportJob, Inquiry, Source, Stage
from inquiries.services.capture import company_domain
from inquiries.services.imports.matching import Person
from inquiries.services.imports.merge import (
    MERGED_FIELDS,
    ValueChange,
    Written,
    merge_into,
    merge_stored,
    merged_details,
    value_changes,
)
from inquiries.services.imports.scorer import Scorer
from inquiries.services.imports.staging import (
    NULLABLE,
    STAGE_COLUMNS,
    WRITTEN_NAMES,
    Tail,
    copy_rows,
    staged_new,
)


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
                outcome_on=p.outcome_on,
                outcome_value=p.outcome_value,
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

    def merged(pk: int, changed: list[str], changes: list[ValueChange]) -> Activity:
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
        # Every person of the chunk is stored by now: the new ones got their id above.
        assert person.target_id is not None
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


def set_based() -> bool:
    """Whether chunks are written with COPY and SQL (PostgreSQL) or the ORM (elsewhere).

    Callers ask ``writing.set_based()`` (not a copy of the name), so a test can
    take the ORM path on PostgreSQL.
    """
    return connection.vendor == "postgresql"
