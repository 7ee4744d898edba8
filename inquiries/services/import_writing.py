"""Writing one chunk of an import: set-based SQL on PostgreSQL, ORM bulk statements elsewhere.

Both paths store the same result (a test holds them to it): new people are
inserted, known ones merged (non-empty values win, custom values merged,
consent only by an explicit statement, an external id only where none is
set), the mapped activities added once, and a "merged" entry on the timeline
when a merge changed something.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from inquiries import scoring
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
from inquiries.services.capture import company_domain
from inquiries.services.import_rows import Person, Row

TEXT_FIELDS = (
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
STAGE_COLUMNS = (
    "seq int",
    "target_id bigint",
    "is_new boolean",
    *(f"{name} text" for name in TEXT_FIELDS),
    "company_domain text",
    "company_size integer",
    "source text",
    "consent text",
    "external_source text",
    "external_id text",
    "custom jsonb",
    "last_activity_at timestamptz",
    "campaign_id bigint",
    "stage text",
    "fit_score integer",
    "engagement_score integer",
    "score integer",
    "score_breakdown jsonb",
    "behaviour_level text",
    "changed text[]",
)


def copy_rows(
    cursor, table: str, columns: list[str], rows: Iterable[tuple], nullable: tuple[str, ...] = ()
) -> None:
    """COPY rows as CSV (the C csv writer); in ``nullable`` columns "" reads as NULL."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    options = "FORMAT csv" + (f", FORCE_NULL ({', '.join(nullable)})" if nullable else "")
    cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN ({options})", buffer)


@dataclass(frozen=True)
class Scorer:
    """The active definition, applied in Python to the people a chunk inserts.

    A new person's whole record is in hand (the profile and the activities of
    this file), so ``scoring.score`` — the reference the set-based rescoring
    is held equal to — gives the score before the insert, and each new row is
    written once, scored and in its stage, instead of inserted, then updated
    by the scoring SQL, then moved to MQL or nurture.
    """

    definition_id: int
    rules: scoring.Rules
    as_of: datetime

    def score(
        self,
        values: dict[str, Any],
        custom: dict[str, Any],
        source: str,
        activities: Iterable[tuple[str, datetime]],
    ) -> tuple:
        """A new person's staged score columns: stage, fit, engagement, total, breakdown, level."""
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
            json.dumps(result.breakdown),
            result.level,
        )

    def prescore(self, rows: Iterable[Row]) -> None:
        """Score each row as if it were a new person on its own (in the reading thread).

        Most rows of an import are exactly that; the writer takes the result
        when the row's person turns out new and made of that row alone, and
        scores everyone else itself.
        """
        for row in rows:
            row.scored = self.score(row.clean, row.custom, row.source, set(row.activities))
            row.scored_by = self


UNSCORED = (Stage.INQUIRY, 0, 0, 0, "[]", BehaviourLevel.VISITOR)


def _scored(person: Person, scorer: Scorer | None) -> tuple:
    if person.target_id is not None or scorer is None:
        return UNSCORED
    if len(person.rows) == 1 and person.rows[0].scored_by is scorer:
        return person.rows[0].scored
    return scorer.score(person.values, person.custom, person.source, person.activities)


def staged(person: Person, new_id: int | None, scored: tuple) -> tuple:
    values = person.values
    last = max((when for _kind, when in person.activities), default=None)
    return (
        person.seq,
        person.target_id if new_id is None else new_id,
        person.target_id is None,
        *(values.get(name, "") for name in TEXT_FIELDS[:-2]),
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
        person.campaign_id,
        *scored,
    )


@dataclass
class Written:
    """What a chunk wrote: stored inquiries it merged into (still to score), new ones in nurture."""

    merged: list[int] = field(default_factory=list)
    nurtured: list[int] = field(default_factory=list)


def write_in_sql(
    job: ImportJob, people: list[Person], now: datetime, scorer: Scorer | None
) -> Written:
    """Stage the chunk with COPY; insert the new (scored), merge the known, add activities."""
    tenant = job.tenant_id
    staged_columns = [c.split()[0] for c in STAGE_COLUMNS[:-1]]
    changes = [
        f"CASE WHEN s.{n} <> '' AND s.{n} IS DISTINCT FROM i.{n} THEN '{n}' END"
        for n in TEXT_FIELDS
        if n != "outcome"
    ]
    changes += [
        "CASE WHEN s.company_size IS NOT NULL AND s.company_size IS DISTINCT FROM i.company_size "
        "THEN 'company_size' END",
        "CASE WHEN NOT (i.custom @> s.custom) THEN 'custom' END",
        "CASE WHEN s.consent NOT IN ('', 'unknown') AND s.consent <> i.consent THEN 'consent' END",
        "CASE WHEN i.external_id = '' AND s.external_id <> '' THEN 'external_id' END",
        "CASE WHEN s.outcome <> '' AND s.outcome <> i.outcome THEN 'outcome' END",
        "CASE WHEN i.campaign_id IS NULL AND s.campaign_id IS NOT NULL THEN 'campaign' END",
    ]
    keep = ", ".join(f"{n} = CASE WHEN s.{n} <> '' THEN s.{n} ELSE i.{n} END" for n in TEXT_FIELDS)
    details = json.dumps({"source": Source.IMPORT, "import_job": job.pk})
    with connection.cursor() as cur:
        # Ids for the new people up front, so the stage rows carry them.
        new = [p for p in people if p.target_id is None]
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('inquiries_inquiry', 'id')) "
            "FROM generate_series(1, %s)",
            [len(new)],
        )
        new_ids = {p.seq: pk for p, (pk,) in zip(new, cur.fetchall(), strict=True)}
        scored = {p.seq: _scored(p, scorer) for p in people}
        written = Written(
            nurtured=[new_ids[seq] for seq, row in scored.items() if row[0] == Stage.NURTURE]
        )
        # Dropped at commit; dropped here too for a chunk inside an outer transaction.
        cur.execute("DROP TABLE IF EXISTS import_stage, import_stage_activity")
        cur.execute(f"CREATE TEMP TABLE import_stage ({', '.join(STAGE_COLUMNS)}) ON COMMIT DROP")
        cur.execute(
            "CREATE TEMP TABLE import_stage_activity "
            "(seq int, kind text, occurred_at timestamptz) ON COMMIT DROP"
        )
        copy_rows(
            cur,
            "import_stage",
            staged_columns,
            (staged(p, new_ids.get(p.seq), scored[p.seq]) for p in people),
            nullable=("target_id", "company_size", "last_activity_at", "campaign_id"),
        )
        copy_rows(
            cur,
            "import_stage_activity",
            ["seq", "kind", "occurred_at"],
            ((p.seq, kind, when.isoformat()) for p in people for kind, when in p.activities),
        )
        # Temporary tables get no statistics of their own; with them the planner
        # probes the chunk's inquiries by id instead of scanning the tenant.
        # The join columns are enough (the whole rows take twice as long).
        cur.execute("ANALYZE import_stage (seq, target_id, is_new)")
        cur.execute("ANALYZE import_stage_activity (seq)")
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
            "outcome, campaign_id, stage, disqualified_reason, fit_score, engagement_score, score, "
            "score_breakdown, behaviour_level, definition_id, scored_at, created_at, updated_at, "
            "last_activity_at) "
            "SELECT s.target_id, %(tenant)s, s.first_name, s.last_name, s.email, s.phone, "
            "s.phone_normalized, s.title, s.company, s.company_domain, s.company_size, "
            "s.industry, s.country, s.region, s.interest, "
            "COALESCE(NULLIF(s.timeline, ''), %(timeline)s), "
            "COALESCE(NULLIF(s.source, ''), %(source)s), "
            "COALESCE(NULLIF(s.consent, ''), %(consent)s), "
            "s.external_source, s.external_id, s.custom, s.outcome, s.campaign_id, s.stage, '', "
            "s.fit_score, s.engagement_score, s.score, s.score_breakdown, s.behaviour_level, "
            "%(definition)s, %(scored_at)s, %(now)s, %(now)s, "
            "COALESCE(s.last_activity_at, %(now)s) "
            "FROM import_stage s WHERE s.is_new ORDER BY s.seq",
            {
                "tenant": tenant,
                "now": now,
                "timeline": Timeline.UNKNOWN,
                "source": Source.IMPORT,
                "consent": Consent.UNKNOWN,
                "definition": scorer.definition_id if scorer else None,
                "scored_at": scorer.as_of if scorer else None,
            },
        )
        cur.execute(
            f"UPDATE inquiries_inquiry i SET {keep}, "
            "company_domain = CASE WHEN s.email <> '' THEN s.company_domain "
            "ELSE i.company_domain END, "
            "company_size = COALESCE(s.company_size, i.company_size), "
            "campaign_id = COALESCE(i.campaign_id, s.campaign_id), "
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
            "SELECT %(tenant)s, s.target_id, a.kind, a.occurred_at, "
            "%(details)s::jsonb, %(now)s::timestamptz "
            "FROM import_stage_activity a JOIN import_stage s ON s.seq = a.seq "
            "WHERE s.is_new OR NOT EXISTS (SELECT 1 FROM inquiries_activity x "
            "WHERE x.tenant_id = %(tenant)s AND x.inquiry_id = s.target_id "
            "AND x.kind = a.kind AND x.occurred_at = a.occurred_at)",
            {"tenant": tenant, "now": now, "merged": ActivityKind.MERGED, "details": details},
        )
        cur.execute(
            "SELECT id FROM inquiries_inquiry WHERE tenant_id = %(tenant)s "
            "AND id = ANY(%(ids)s::bigint[]) AND stage <> %(disqualified)s ORDER BY id",
            {
                "tenant": tenant,
                "ids": [p.target_id for p in people if p.target_id is not None],
                "disqualified": Stage.DISQUALIFIED,
            },
        )
        written.merged = [pk for (pk,) in cur.fetchall()]
        return written


# --- Writing a chunk: the ORM (SQLite) ----------------------------------------------------


def write_with_orm(job: ImportJob, people: list[Person], now: datetime) -> list[int]:
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
                campaign_id=p.campaign_id,
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
        changed = merge_into(inquiry, person, now)
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
    return sorted(
        Inquiry.objects.filter(pk__in=[p.target_id for p in people])
        .exclude(stage=Stage.DISQUALIFIED)
        .values_list("pk", flat=True)
    )


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


def merge_into(inquiry: Inquiry, person: Person, now: datetime) -> list[str]:
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
