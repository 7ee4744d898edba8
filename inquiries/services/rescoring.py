"""Rescoring the whole tenant after a new lead definition becomes active: a resumable job.

``start_rescore`` records a ``RescoreJob`` and queues it; ``run_rescore_job``
works through the tenant's inquiries in id order, one batch per transaction,
and records its progress (``done``, ``last_inquiry_id``) in the same
transaction as the scores. A run that is killed half-way therefore leaves
every inquiry scored under exactly one version, and the next run carries on
after the last committed batch. Decay is computed at the job's ``as_of``, one
instant for every row, so a resumed run ends with the same scores as an
uninterrupted one.

On PostgreSQL each batch is one set-based ``UPDATE``: the definition's rules
are compiled into SQL (values always as parameters) that implements the
arithmetic of ``inquiries/scoring.py`` — the tests hold the two to the same
results. On SQLite the honest slower path scores each inquiry in Python with
``scoring.score`` and saves the batch with ``bulk_update``; the job's
bookkeeping is the same.

Where the database and Python can differ, by construction: text is lower-cased
with the database's ``lower()``, which maps one character to one (Python maps
``İ`` to two and spells a final capital sigma ``ς``); a custom value given as
text is read as a number only in plain decimal or exponent notation of at most
100 characters with a two-digit exponent (Python's ``Decimal`` also takes
``1_000`` and non-ASCII digits). Decayed engagement points are added in the
order Python adds them (newest activity first), so the sums agree to the last
bit on Python 3.11; from 3.12 on, ``sum()`` compensates rounding, which could
matter only for a sum within one rounding step of an exact half.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from inquiries import scoring
from inquiries.models import (
    Activity,
    DefinitionStatus,
    Inquiry,
    LeadDefinition,
    RescoreJob,
    RescoreStatus,
)
from inquiries.selectors.scoring import profile_of, rules_of
from inquiries.services.planner import refresh_statistics
from inquiries.services.scoring import SCORED_STAGES, route_by_score
from leadflow.lib import jobs
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

# A running job whose heartbeat is older than this is taken to be dead; another run resumes it.
STALE_AFTER = timedelta(minutes=2)
SUPERSEDED = "superseded by a newer definition"
# Exactly the characters Python's str.strip() removes (str.isspace()); a test checks the list.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# A number written as text that PostgreSQL's float8 reads exactly as Python's
# float(Decimal(...)) does, and never out of range: at most 100 characters
# (checked separately), a two-digit exponent, or an infinity. NaN is left out
# on purpose: Python compares it as false, PostgreSQL as the largest number.
NUMBER_PATTERN = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]{1,2})?|inf|infinity)$"
SCORE_FIELDS = [
    "fit_score",
    "engagement_score",
    "score",
    "score_breakdown",
    "behaviour_level",
    "definition",
    "scored_at",
]


# --- Starting and running the job ---------------------------------------------------


@transaction.atomic
def start_rescore(*, definition: LeadDefinition, by: Principal) -> RescoreJob:
    """Queue the rescoring of every inquiry of the tenant under its newly active definition."""
    if definition.status != DefinitionStatus.ACTIVE:
        raise RuleViolation(
            field="definition",
            code="not_active",
            message=f"Version {definition.version} is {definition.status}; "
            "only the active definition rescores the inquiries.",
        )
    job = RescoreJob.objects.create(
        tenant=by.tenant,
        definition=definition,
        as_of=timezone.now(),
        total=Inquiry.objects.count(),
    )
    record_audit(
        action="rescore.started",
        obj=job,
        after={"definition": definition.pk, "version": definition.version, "total": job.total},
        by=by,
    )
    jobs.enqueue("rescores", job_id=job.pk, tenant_id=job.tenant_id)
    return job


def run_rescore_job(
    *, job: RescoreJob, batch_size: int = 5000, stop_after_batches: int | None = None
) -> RescoreJob:
    """Rescore the tenant batch by batch, resuming after the last committed batch.

    Returns quietly (the job as stored) when another run holds the job.
    ``stop_after_batches`` leaves the job running after that many batches, as
    a killed worker would; tests use it. Call it inside the job's tenant and
    outside any transaction, so each batch commits on its own.
    """
    if not _claim(job):
        logger.info("rescore job %s is held by another run or finished", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    try:
        definition = LeadDefinition.objects.get(pk=job.definition_id)
        rules = rules_of(definition)
    except RuleViolation as exc:
        return _fail(job, f"the definition no longer validates: {exc.message}")
    if not job.done:
        # Planned on the statistics of before an import, the rescore joins row by row.
        refresh_statistics(job.total)
    batches = 0
    try:
        while stop_after_batches is None or batches < stop_after_batches:
            outcome = _run_batch(job, definition, rules, batch_size)
            if outcome != "scored":
                break
            batches += 1
    except DatabaseError:
        # Hand the job back at once, so the task's retry resumes it without
        # waiting for the heartbeat to go stale.
        RescoreJob.objects.filter(pk=job.pk, status=RescoreStatus.RUNNING).update(
            status=RescoreStatus.QUEUED, heartbeat_at=None
        )
        raise
    job.refresh_from_db()
    if job.status == RescoreStatus.DONE:
        refresh_statistics(job.done)
    logger.info(
        "rescore job %s: %s of %s inquiries, %s",
        job.pk,
        job.done,
        job.total,
        job.status,
        extra={"tenant_id": job.tenant_id},
    )
    return job


def _claim(job: RescoreJob) -> bool:
    """Take the job for this run: queued, or running with a stale heartbeat."""
    return jobs.claim(
        RescoreJob.objects.filter(pk=job.pk),
        queued=RescoreStatus.QUEUED,
        running=RescoreStatus.RUNNING,
        stale_after=STALE_AFTER,
    )


def _fail(job: RescoreJob, error: str) -> RescoreJob:
    now = timezone.now()
    RescoreJob.objects.filter(pk=job.pk).update(
        status=RescoreStatus.FAILED, error=error, finished_at=now, heartbeat_at=now
    )
    logger.warning("rescore job %s failed: %s", job.pk, error, extra={"tenant_id": job.tenant_id})
    job.refresh_from_db()
    return job


@dataclass(frozen=True)
class _Batch:
    """The inquiries one transaction rescores: an id range, or stragglers by id."""

    after: int = 0
    up_to: int = 0
    ids: tuple[int, ...] = ()

    def inquiries(self) -> QuerySet[Inquiry]:
        if self.ids:
            return Inquiry.objects.filter(pk__in=self.ids)
        return Inquiry.objects.filter(pk__gt=self.after, pk__lte=self.up_to)

    def activities(self) -> QuerySet[Activity]:
        if self.ids:
            return Activity.objects.filter(inquiry_id__in=self.ids)
        return Activity.objects.filter(inquiry_id__gt=self.after, inquiry_id__lte=self.up_to)


@transaction.atomic
def _run_batch(
    job: RescoreJob, definition: LeadDefinition, rules: scoring.Rules, batch_size: int
) -> str:
    """One transaction: the next batch's scores, their stage moves and the job's progress."""
    locked = RescoreJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != RescoreStatus.RUNNING or locked.last_inquiry_id != job.last_inquiry_id:
        logger.info("rescore job %s was taken over by another run", job.pk)
        return "lost"
    still_active = (
        LeadDefinition.objects.select_for_update(no_key=True)
        .filter(pk=definition.pk, status=DefinitionStatus.ACTIVE)
        .first()
    )
    if still_active is None:
        _fail(job, SUPERSEDED)
        return "superseded"
    now = timezone.now()
    window = Inquiry.objects.filter(pk__gt=job.last_inquiry_id).order_by("pk")[:batch_size]
    size = window.aggregate(up_to=Max("pk"), n=Count("pk"))
    if size["n"]:
        batch = _Batch(after=job.last_inquiry_id, up_to=size["up_to"])
        _rescore(job, definition, rules, batch)
        job.done += size["n"]
        job.last_inquiry_id = size["up_to"]
        job.heartbeat_at = now
        job.save(update_fields=["done", "last_inquiry_id", "heartbeat_at"])
        return "scored"
    # Inquiries committed late by a capture that read the previous definition.
    stragglers = tuple(
        Inquiry.objects.filter(pk__lte=job.last_inquiry_id)
        .exclude(definition_id=definition.pk)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if stragglers:
        _rescore(job, definition, rules, _Batch(ids=stragglers))
        job.heartbeat_at = now
        job.save(update_fields=["heartbeat_at"])
        return "scored"
    job.status = RescoreStatus.DONE
    job.finished_at = job.heartbeat_at = now
    job.save(update_fields=["status", "finished_at", "heartbeat_at"])
    return "done"


def _rescore(
    job: RescoreJob, definition: LeadDefinition, rules: scoring.Rules, batch: _Batch
) -> None:
    """Score the batch and move each inquiry to the MQL queue or to nurture, like score_inquiry.

    An inquiry rescored live under this definition after ``as_of`` (an
    activity arrived meanwhile) keeps that fresher score.
    """
    if set_based():
        rows = _score_in_sql(job, definition, rules, batch)
    else:
        rows = _score_in_python(job, definition, rules, batch)
    route_by_score(
        rows,
        by=Principal.system(job.tenant, f"rescore {job.pk}"),
        reason=f"rescore under version {definition.version}",
    )


def set_based() -> bool:
    """Whether batches are rescored in one UPDATE (PostgreSQL) or in Python (elsewhere)."""
    return connection.vendor == "postgresql"


# --- The slower path: Python, one inquiry at a time (SQLite) ------------------------------


def _score_in_python(
    job: RescoreJob, definition: LeadDefinition, rules: scoring.Rules, batch: _Batch
) -> list[tuple[int, bool, str]]:
    inquiries = list(
        batch.inquiries()
        .exclude(definition_id=definition.pk, scored_at__gt=job.as_of)
        .order_by("pk")
    )
    activities: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    # The order compute_score reads them in (newest first), so the sums agree to the last bit.
    by_inquiry = batch.activities().order_by("inquiry_id", "-occurred_at", "-id")
    for inquiry_id, kind, when in by_inquiry.values_list("inquiry_id", "kind", "occurred_at"):
        activities[inquiry_id].append((kind, when))
    rows = []
    for inquiry in inquiries:
        result = scoring.score(profile_of(inquiry), activities[inquiry.pk], rules, as_of=job.as_of)
        inquiry.fit_score = result.fit
        inquiry.engagement_score = result.engagement
        inquiry.score = result.total
        inquiry.score_breakdown = result.breakdown
        inquiry.behaviour_level = result.level
        inquiry.definition = definition
        inquiry.scored_at = job.as_of
        rows.append((inquiry.pk, result.qualifies, inquiry.stage))
    Inquiry.objects.bulk_update(inquiries, SCORE_FIELDS, batch_size=500)
    return [row for row in rows if row[2] in SCORED_STAGES]


# --- The set-based path: one UPDATE per batch (PostgreSQL) --------------------------------


@dataclass
class _Sql:
    """SQL text with named parameters; every value from a definition goes in as a parameter."""

    params: dict[str, Any] = field(default_factory=dict)

    def param(self, value: Any, cast: str = "") -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s{cast}"


def _score_in_sql(
    job: RescoreJob, definition: LeadDefinition, rules: scoring.Rules, batch: _Batch
) -> list[tuple[int, bool, str]]:
    sql, params = compile_rescore_sql(
        rules=rules,
        tenant_id=job.tenant_id,
        definition_id=definition.pk,
        as_of=job.as_of,
        after=batch.after,
        up_to=batch.up_to,
        ids=list(batch.ids),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [row for row in rows if row[2] in SCORED_STAGES]


def compile_rescore_sql(
    *,
    rules: scoring.Rules,
    tenant_id: int,
    definition_id: int,
    as_of: datetime,
    after: int = 0,
    up_to: int = 0,
    ids: list[int] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The one UPDATE that rescores a batch of inquiries; returns (sql, params).

    It returns ``id, qualifies, stage`` of every inquiry it rescored. The
    batch is the id range ``(after, up_to]``, or the given ``ids``.
    """
    q = _Sql()
    tenant = q.param(tenant_id)
    as_of_sql = q.param(as_of, "::timestamptz")
    definition = q.param(definition_id)
    if ids:
        id_list = q.param(ids, "::bigint[]")
        in_batch = {
            alias: f"{alias}.{column} = ANY({id_list})"
            for alias, column in (("i", "id"), ("u", "id"), ("a", "inquiry_id"))
        }
    else:
        low, high = q.param(after), q.param(up_to)
        in_batch = {
            alias: f"{alias}.{column} > {low} AND {alias}.{column} <= {high}"
            for alias, column in (("i", "id"), ("u", "id"), ("a", "inquiry_id"))
        }

    # 1. Per inquiry of the batch: activities counted for the behaviour level,
    # and each engagement rule's decayed sum (points × 0.5^(age / half-life)).
    # The sorted subquery feeds the sums newest first, the order Python adds
    # them in. pow() underflows to 0 from an exponent of 1075 on, which
    # PostgreSQL reports as an error and Python returns: the CASE returns it.
    conversion_kinds = q.param(sorted(scoring.CONVERSION_KINDS), "::text[]")
    sums = [f"count(*) FILTER (WHERE a.kind = ANY({conversion_kinds})) AS conversions"]
    for n, rule in enumerate(rules.engagement):
        points = q.param(float(rule.points), "::float8")
        if rule.half_life_days > 0:
            half_lives = f"a.age / {q.param(rule.half_life_days * 86400.0, '::float8')}"
            term = (
                f"CASE WHEN {half_lives} < 1075 "
                f"THEN {points} * power(0.5::float8, {half_lives}) ELSE 0::float8 END"
            )
        else:
            term = points
        sums.append(f"sum({term}) FILTER (WHERE a.kind = {q.param(rule.activity)}) AS raw{n}")
    activity_cte = (
        f"SELECT a.inquiry_id, {', '.join(sums)} FROM ("
        f"SELECT a.inquiry_id, a.kind, "
        f"GREATEST(EXTRACT(EPOCH FROM ({as_of_sql} - a.occurred_at))::float8, 0::float8) AS age "
        f"FROM inquiries_activity a WHERE a.tenant_id = {tenant} AND {in_batch['a']} "
        f"ORDER BY a.inquiry_id, a.occurred_at DESC, a.id DESC OFFSET 0"
        f") a GROUP BY a.inquiry_id"
    )

    # 2. Per inquiry: each field the rules read, normalised once as Python does.
    whitespace = q.param(PYTHON_WHITESPACE)
    fields = sorted({r.field for r in (*rules.fit, *rules.qualifiers)})
    columns = {name: f"f{n}" for n, name in enumerate(fields)}
    profile = ["i.id", "i.stage", "COALESCE(act.conversions, 0) AS conversions"]
    for name, col in columns.items():
        raw = _field_sql(name, q)
        profile.append(f"({raw} IS NOT NULL AND {raw}::text <> '') AS {col}_given")
        profile.append(f"lower(btrim({raw}::text, {whitespace})) AS {col}_text")
        if any(r.field == name and r.op == "range" for r in (*rules.fit, *rules.qualifiers)):
            profile.append(f"{_number_sql(name, raw, whitespace, q)} AS {col}_number")
    for n, rule in enumerate(rules.engagement):
        cap = q.param(float(rule.cap if rule.points >= 0 else -rule.cap), "::float8")
        limit = "LEAST" if rule.points >= 0 else "GREATEST"
        profile.append(
            f"floor({limit}(COALESCE(act.raw{n}, 0::float8), {cap}) + 0.5::float8)::int AS e{n}"
        )
    profile_cte = (
        f"SELECT {', '.join(profile)} FROM inquiries_inquiry i "
        f"LEFT JOIN activity_points act ON act.inquiry_id = i.id "
        f"WHERE i.tenant_id = {tenant} AND {in_batch['i']} "
        f"AND NOT (i.definition_id IS NOT DISTINCT FROM {definition} "
        f"AND i.scored_at IS NOT NULL AND i.scored_at > {as_of_sql})"
    )

    # 3. Which fit rules and qualifiers hold.
    matched = ["p.*"]
    for n, fit_rule in enumerate(rules.fit):
        matched.append(f"{_condition_sql(fit_rule, columns[fit_rule.field], q)} AS fit{n}")
    for n, qualifier in enumerate(rules.qualifiers):
        matched.append(f"{_condition_sql(qualifier, columns[qualifier.field], q)} AS qual{n}")

    # 4. Fit, engagement and the total.
    fit = " + ".join(
        f"CASE WHEN fit{n} THEN {q.param(rule.points)}::int ELSE 0 END"
        for n, rule in enumerate(rules.fit)
    )
    engagement = " + ".join(f"e{n}" for n in range(len(rules.engagement)))
    totals_cte = (
        f"SELECT m.*, ({fit or '0'}) AS fit, ({engagement or '0'}) AS engagement FROM matched m"
    )
    threshold = q.param(rules.threshold, "::int")
    qualifiers = " AND ".join(f"qual{n}" for n in range(len(rules.qualifiers))) or "TRUE"
    scored_cte = (
        f"SELECT t.*, t.fit + t.engagement AS total, "
        f"(t.fit + t.engagement >= {threshold} AND {qualifiers}) AS qualifies FROM totals t"
    )

    sql = f"""
WITH activity_points AS MATERIALIZED ({activity_cte}),
profile AS MATERIALIZED ({profile_cte}),
matched AS MATERIALIZED (SELECT {", ".join(matched)} FROM profile p),
totals AS MATERIALIZED ({totals_cte}),
scored AS ({scored_cte})
UPDATE inquiries_inquiry u SET
    fit_score = s.fit,
    engagement_score = s.engagement,
    score = s.total,
    score_breakdown = {_breakdown_sql(rules, q)},
    behaviour_level = {_level_sql(rules, threshold)},
    definition_id = {definition},
    scored_at = {as_of_sql}
FROM scored s
WHERE u.tenant_id = {tenant} AND {in_batch["u"]} AND u.id = s.id
RETURNING u.id, s.qualifies, u.stage"""
    return sql, q.params


def _field_sql(name: str, q: _Sql) -> str:
    """The inquiry's value of a rule's field: a column, or ``custom->>'key'`` (text)."""
    if name.startswith("custom."):
        return f"(i.custom ->> {q.param(name.removeprefix('custom.'))})"
    if name not in scoring.STANDARD_FIELDS:  # parse_rules accepts no other name
        raise ValueError(f"unknown profile field {name!r}")
    return f"i.{connection.ops.quote_name(name)}"


def _number_sql(name: str, raw: str, whitespace: str, q: _Sql) -> str:
    """The field as a float8, NULL when it is not a number (Python's ``_number``)."""
    if not name.startswith("custom."):
        return f"{raw}::float8"
    text = f"btrim({raw}, {whitespace})"
    pattern = q.param(NUMBER_PATTERN)
    return f"CASE WHEN char_length({text}) <= 100 AND {text} ~* {pattern} THEN ({text})::float8 END"


def _condition_sql(rule: scoring.FitRule, col: str, q: _Sql) -> str:
    """A fit rule or qualifier as a boolean that is never NULL (``FitRule.matches``)."""
    if rule.op == "range":
        low, high = rule.value
        parts = [f"{col}_number IS NOT NULL"]
        if low is not None:
            parts.append(f"{col}_number >= {q.param(float(low), '::float8')}")
        if high is not None:
            parts.append(f"{col}_number <= {q.param(float(high), '::float8')}")
        test = " AND ".join(parts)
    elif rule.op == "equals":
        test = f"{col}_text = {q.param(scoring._normal(rule.value))}"
    elif rule.op == "is_set":
        test = "TRUE"
    elif rule.op == "in":
        values = sorted({scoring._normal(v) for v in rule.value})
        test = f"{col}_text = ANY({q.param(values, '::text[]')})"
    else:
        test = f"strpos({col}_text, {q.param(scoring._normal(rule.value))}) > 0"
    return f"COALESCE({col}_given AND ({test}), FALSE)"


def _breakdown_sql(rules: scoring.Rules, q: _Sql) -> str:
    """The breakdown as score() writes it: matched fit rules, then non-zero engagement.

    Built as JSON text and parsed once per row, which is cheaper than
    assembling jsonb values; ``concat_ws`` skips the rules that add nothing.
    """
    items = []
    for n, fit_rule in enumerate(rules.fit):
        item = json.dumps({"rule": fit_rule.label, "kind": "fit", "points": fit_rule.points})
        items.append(f"CASE WHEN s.fit{n} THEN {q.param(item, '::text')} END")
    for n, engaged in enumerate(rules.engagement):
        head = json.dumps({"rule": engaged.label, "kind": "engagement"})[:-1] + ', "points": '
        items.append(f"CASE WHEN s.e{n} <> 0 THEN {q.param(head, '::text')} || s.e{n} || '}}' END")
    if not items:
        return "'[]'::jsonb"
    return f"('[' || concat_ws(',', {', '.join(items)}) || ']')::jsonb"


def _level_sql(rules: scoring.Rules, threshold: str) -> str:
    """``scoring.behaviour_level`` as a CASE, branch for branch."""
    title_rules = [n for n, rule in enumerate(rules.fit) if rule.field == "title"]
    influencer = ""
    if title_rules:
        no_title = " OR ".join(f"s.fit{n}" for n in title_rules)
        influencer = f"WHEN s.engagement * 2 >= {threshold} AND NOT ({no_title}) THEN 'influencer' "
    return (
        "CASE WHEN s.qualifies THEN 'mql' "
        "WHEN s.conversions = 0 THEN 'visitor' "
        f"WHEN s.conversions = 1 AND s.total * 2 < {threshold} THEN 'conversion' "
        f"{influencer}"
        f"WHEN s.total * 2 >= {threshold} THEN 'investigator' "
        "WHEN s.fit <= 0 AND s.conversions >= 3 THEN 'researcher' "
        "ELSE 'prospect' END"
    )
