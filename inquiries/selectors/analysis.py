"""Before a draft lead definition is signed: what it would change, and a draft from outcomes.

Reads only; nothing here saves a row. Both functions look at the current
tenant's inquiries in chunks of ``CHUNK`` ids, loading each chunk's
activities in one query, so the query count does not grow with the number of
inquiries. What became of a person is read from the inquiry alone: its
"appointment booked" activities and its ``outcome`` (the last known one,
written when sales closes the lead or imported with a history) — never from
``leads``.
"""

from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet

from inquiries import scoring
from inquiries.definition_template import TEMPLATE_ENGAGEMENT_RULES
from inquiries.models import Activity, ActivityKind, Inquiry, LeadDefinition, Outcome
from inquiries.selectors.scoring import (
    SCORED_FIELDS,
    compute_score,
    custom_field_kinds,
    profile_of,
    rules_of,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Tenant

CHUNK = 2000
WON, LOST = Outcome.WON.value, Outcome.LOST.value

CATEGORICAL_FIELDS = ("industry", "country", "region", "timeline", "source", "interest")
# A keyword matches when the title contains it ("vp" also in "SVP"); seniority first.
SENIORITY = ("chief", "vp", "vice president", "director", "head", "manager")
TITLE_KEYWORDS = (*SENIORITY, "engineer", "analyst", "owner", "founder")
MIN_EXAMPLES = 5  # fewer training examples than this for a value is anecdote, not evidence
MIN_POINTS = 2
MAX_POINTS = 50
SPLIT_MULTIPLIER = 2654435761

Bound = int | float | None
Feature = tuple[str, str, Any]  # (field, op, value) exactly as the fit rule will say it


@dataclass(frozen=True)
class PassedOutcomes:
    """Of the inquiries one version would have passed: leads made, won and lost."""

    passed: int
    became_leads: int
    won: int
    lost: int


@dataclass(frozen=True)
class WhatIf:
    """MQLs per week under the draft and the active version, against sales capacity."""

    weeks: list[date]
    draft_mqls: list[int]
    active_mqls: list[int] | None
    capacity_per_week: int
    weeks_over_capacity: int
    draft_outcomes: PassedOutcomes
    active_outcomes: PassedOutcomes | None
    # Inquiries the two versions disagree on (the first ``CHANGED_SHOWN``), and how many.
    changed: tuple[ChangedSide, ...] = ()
    changed_total: int = 0


@dataclass(frozen=True)
class ChangedSide:
    """An inquiry one version passes and the other does not."""

    inquiry_id: int
    name: str
    company: str
    arrived: date
    draft_passes: bool


CHANGED_SHOWN = 50


@dataclass(frozen=True)
class Suggestion:
    """A proposed definition from won/lost evidence, with how well it did on held-back data."""

    fit_rules: list[dict[str, Any]]
    engagement_rules: list[dict[str, Any]]
    threshold: int
    auc: float
    precision: float
    recall: float
    train_won: int
    train_lost: int
    test_won: int
    test_lost: int
    # Share of wins among the top 10/20/30% of the held-back part by score, and overall.
    lift: tuple[tuple[int, float], ...] = ()
    base_rate: float = 0.0
    # The L2 penalty cross-validation chose (larger: rare values shrink more).
    penalty: float = 0.0


Activities = dict[int, list[tuple[str, datetime]]]


def _chunks(
    queryset: QuerySet[Inquiry], *, as_of: datetime
) -> Iterator[tuple[list[Inquiry], Activities]]:
    """Inquiries by id in chunks, each with its activities up to ``as_of``."""
    queryset = queryset.only(
        "id",
        "created_at",
        "outcome",
        "custom",
        # What a person is called in the list of those who change side.
        "first_name",
        "last_name",
        "email",
        "phone",
        "external_id",
        *{"company", *SCORED_FIELDS},
    )
    last_id = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last_id).order_by("pk")[:CHUNK])
        if not chunk:  # the previous chunk was exactly full
            return
        ids = [inquiry.pk for inquiry in chunk]
        activities: Activities = defaultdict(list)
        rows = Activity.objects.filter(inquiry_id__in=ids, occurred_at__lte=as_of).order_by()
        for inquiry_id, kind, when in rows.values_list("inquiry_id", "kind", "occurred_at"):
            activities[inquiry_id].append((kind, when))
        yield chunk, activities
        if len(chunk) < CHUNK:
            return
        last_id = ids[-1]


def _outcome(outcome: str) -> str | None:
    """Won or lost: the person's last known outcome (a closed lead's, or an imported one)."""
    return outcome if outcome in (WON, LOST) else None


def _was_booked(activities: list[tuple[str, datetime]]) -> bool:
    """An appointment was booked (by ``as_of``): the person became a lead."""
    return any(kind == ActivityKind.APPOINTMENT_BOOKED for kind, _ in activities)


def _monday(moment: datetime, tz: zoneinfo.ZoneInfo) -> date:
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def what_if(
    *, draft: LeadDefinition, active: LeadDefinition | None, as_of: datetime, days: int = 90
) -> WhatIf:
    """How many MQLs a week the draft would have made vs the active version, and how they ended.

    * The window is the inquiries that *arrived* in ``[as_of - days, as_of)``:
      an inquiry arrives at its first activity, or when it was recorded if that
      is earlier — so a historical import counts in the weeks its people first
      responded, not as one spike on the day of the import. Each is scored
      under both versions as of ``as_of``, counting only activities that had
      happened by then.
    * An inquiry counts as an MQL in the ISO week it arrived in (weeks are
      named by their Monday, in the tenant's time zone) when its score
      qualifies. Every week the window touches is listed, oldest first, empty
      ones too; the first and last may be partial.
    * ``capacity_per_week`` is the draft's leads per rep per week × reps;
      ``weeks_over_capacity`` counts weeks with more draft MQLs than that.
    * Of the inquiries a version passes: ``became_leads`` had an appointment
      booked by ``as_of``; ``won``/``lost`` follow the inquiry's ``outcome``
      (written when sales closes the lead, or imported with a history), so an
      imported outcome counts even without a lead.
    * Without an active version, ``active_mqls`` and ``active_outcomes`` are
      ``None`` (not zeros: nothing is compared, rather than "nothing passed").
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    tz = zoneinfo.ZoneInfo(Tenant.objects.get(pk=draft.tenant_id).timezone)
    start = as_of - timedelta(days=days)
    first, last = _monday(start, tz), _monday(as_of - timedelta(microseconds=1), tz)
    weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    week_index = {week: n for n, week in enumerate(weeks)}
    versions = [(draft, rules_of(draft))]
    if active is not None:
        versions.append((active, rules_of(active)))
    mqls = [[0] * len(weeks) for _ in versions]
    tallies = [[0, 0, 0, 0] for _ in versions]  # passed, became_leads, won, lost
    # Arriving no later than it was recorded, an inquiry that arrived in the window was
    # recorded in it or after (an import of last quarter's responses, today).
    window = Inquiry.objects.filter(created_at__gte=start, created_at__lt=as_of)
    changed: list[ChangedSide] = []
    changed_total = 0
    for chunk, activities in _chunks(window, as_of=as_of):
        for inquiry in chunk:
            arrived = min([inquiry.created_at, *(when for _kind, when in activities[inquiry.pk])])
            if arrived < start:
                continue
            week = week_index[_monday(arrived, tz)]
            outcome = _outcome(inquiry.outcome)
            booked = _was_booked(activities[inquiry.pk])
            passes = []
            for n, (definition, rules) in enumerate(versions):
                result = compute_score(
                    inquiry=inquiry,
                    definition=definition,
                    rules=rules,
                    activities=activities[inquiry.pk],
                    as_of=as_of,
                )
                passes.append(result.qualifies)
                if result.qualifies:
                    mqls[n][week] += 1
                    tally = tallies[n]
                    tally[0] += 1
                    tally[1] += booked
                    tally[2] += outcome == WON
                    tally[3] += outcome == LOST
            if len(passes) == 2 and passes[0] != passes[1]:
                changed_total += 1
                if len(changed) < CHANGED_SHOWN:
                    changed.append(
                        ChangedSide(
                            inquiry_id=inquiry.pk,
                            name=inquiry.display_name,
                            company=inquiry.company,
                            arrived=arrived.astimezone(tz).date(),
                            draft_passes=passes[0],
                        )
                    )
    capacity = draft.weekly_capacity
    return WhatIf(
        weeks=weeks,
        draft_mqls=mqls[0],
        active_mqls=mqls[1] if active is not None else None,
        capacity_per_week=capacity,
        weeks_over_capacity=sum(1 for count in mqls[0] if count > capacity),
        draft_outcomes=PassedOutcomes(*tallies[0]),
        active_outcomes=PassedOutcomes(*tallies[1]) if active is not None else None,
        changed=tuple(changed),
        changed_total=changed_total,
    )


@dataclass(frozen=True)
class Example:
    """One inquiry with a known outcome: its profile, its activities, won?, held back?"""

    profile: dict[str, Any]
    activities: list[tuple[str, datetime]]
    won: bool
    held_back: bool


def _text(value: Any) -> str:
    """A value spelled the way fit rules compare it (trimmed, lower-case, JSON's true/false)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _number(value: Any) -> float | None:
    """A value as a number the way range rules read it; None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _in_range(number: float, low: Bound, high: Bound) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


def _features(
    profile: Mapping[str, Any],
    *,
    choices: Iterable[str],
    bins: Mapping[str, list[tuple[Bound, Bound]]],
) -> set[Feature]:
    """Every (field, op, value) a fit rule could match on this profile."""
    found: set[Feature] = set()
    for field in CATEGORICAL_FIELDS:
        if text := _text(profile.get(field)):
            found.add((field, "equals", text))
    title = _text(profile.get("title"))
    found.update(("title", "contains", keyword) for keyword in TITLE_KEYWORDS if keyword in title)
    for field, field_bins in bins.items():
        number = _number(profile.get(field))
        if number is not None:
            found.update((field, "range", b) for b in field_bins if _in_range(number, *b))
    for key in choices:
        if text := _text(profile.get(f"custom.{key}")):
            found.add((f"custom.{key}", "equals", text))
    return found


def _describe(feature: Feature) -> str:
    field, op, value = feature
    if op == "range":
        low, high = value
        if low is None:
            return f"{field} ≤ {high:g}"
        if high is None:
            return f"{field} ≥ {low:g}"
        return f"{field} {low:g}–{high:g}"
    shown = value if len(value) <= 60 else f"{value[:59]}…"
    return f"{field} {'=' if op == 'equals' else 'contains'} {shown}"


# Points per unit of log-odds: 10 points multiply the odds of winning by e (≈ 2.7).
POINTS_PER_LOG_ODDS = 10
# A field whose most common value (or absence) covers this share of the examples says nothing.
NEAR_CONSTANT = 0.99
# Numeric fields are cut at the training data's quantiles: this many ranges at most.
NUMERIC_BINS = 5
# The L2 penalties tried (by 3-fold cross-validation on the training part) and the folds.
PENALTIES = (1.0, 4.0, 16.0)
FOLDS = 3
SWEEPS = 25


def _quantile_bins(values: list[float], parts: int = NUMERIC_BINS) -> list[tuple[Bound, Bound]]:
    """Up to ``parts`` ranges cut at the values' quantiles (fewer when values repeat).

    Ranges include both ends, so the next range starts just above the cut:
    one more for whole numbers, the next float otherwise. Visit counts that
    matter only in the middle (3–9 visits) get a range of their own.
    """
    ordered = sorted(values)
    picks = {ordered[math.ceil(q * len(ordered) / parts) - 1] for q in range(1, parts)}
    cuts = sorted(cut for cut in picks if cut < ordered[-1])
    if not cuts:
        return []
    whole = all(v.is_integer() for v in ordered)
    bounds = [int(cut) if whole else cut for cut in cuts]
    above = [b + 1 if whole else math.nextafter(b, math.inf) for b in bounds]
    highs: list[Bound] = [*bounds, None]
    lows: list[Bound] = [None, *above]
    return list(zip(lows, highs, strict=True))


def _fit_logistic(
    rows: list[list[int]], won: list[bool], width: int, penalty: float
) -> tuple[float, list[float]]:
    """(intercept, weights) of an L2-penalised logistic regression on binary features.

    Cyclic coordinate descent with one Newton step per weight (features are
    0/1, so each step reads only the rows that have the feature). The
    penalty shrinks a weight resting on few examples towards 0: 6 won of 9
    against a 38% base rate earns about +4 points at penalty 4, not +30.
    """
    n = len(rows)
    having: list[list[int]] = [[] for _ in range(width)]
    for i, features in enumerate(rows):
        for j in features:
            having[j].append(i)
    y = [1.0 if w else 0.0 for w in won]
    rate = min(max(sum(y) / n, 1e-6), 1 - 1e-6)
    intercept = math.log(rate / (1 - rate))
    weights = [0.0] * width
    margin = [intercept] * n
    for _sweep in range(SWEEPS):
        largest = 0.0
        p = [1.0 / (1.0 + math.exp(-m)) if m > -35 else 0.0 for m in margin]
        grad = sum(pi - yi for pi, yi in zip(p, y, strict=True))
        hess = sum(pi * (1 - pi) for pi in p) or 1e-9
        step = grad / hess
        intercept -= step
        margin = [m - step for m in margin]
        largest = abs(step)
        for j in range(width):
            members = having[j]
            if not members:
                continue
            g = penalty * weights[j]
            h = penalty
            for i in members:
                m = margin[i]
                pi = 1.0 / (1.0 + math.exp(-m)) if m > -35 else 0.0
                g += pi - y[i]
                h += pi * (1 - pi)
            step = g / h
            if step:
                weights[j] -= step
                for i in members:
                    margin[i] -= step
                largest = max(largest, abs(step))
        if largest < 1e-4:
            break
    return intercept, weights


def _rank_auc(scores: list[float], won: list[bool]) -> float:
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        k = i
        while k + 1 < len(order) and scores[order[k + 1]] == scores[order[i]]:
            k += 1
        mean_rank = (i + k) / 2 + 1
        rank_sum += sum(mean_rank for r in order[i : k + 1] if won[r])
        i = k + 1
    wins = sum(won)
    losses = len(won) - wins
    if not wins or not losses:
        return 0.5
    return (rank_sum - wins * (wins + 1) / 2) / (wins * losses)


#: Told how far a suggestion has come (a step in words, a percent); set by the job that runs it.
suggestion_progress: ContextVar[Callable[[str, int], None] | None] = ContextVar(
    "suggestion_progress", default=None
)


def _progress(step: str, percent: int) -> None:
    hook = suggestion_progress.get()
    if hook is not None:
        hook(step, percent)


def _choose_penalty(rows: list[list[int]], won: list[bool], width: int) -> float:
    """The penalty with the best cross-validated AUC on the training part (fixed folds)."""
    if len(PENALTIES) == 1:
        return PENALTIES[0]
    best, best_auc = PENALTIES[0], -1.0
    for n, penalty in enumerate(PENALTIES):
        scores: list[float] = [0.0] * len(rows)
        for fold in range(FOLDS):
            done = (n * FOLDS + fold) / (len(PENALTIES) * FOLDS)
            _progress("Choosing the penalty by cross-validation", 20 + round(60 * done))
            fit_ids = [i for i in range(len(rows)) if i % FOLDS != fold]
            intercept, weights = _fit_logistic(
                [rows[i] for i in fit_ids], [won[i] for i in fit_ids], width, penalty
            )
            for i in range(fold, len(rows), FOLDS):
                scores[i] = intercept + sum(weights[j] for j in rows[i])
        auc = _rank_auc(scores, won)
        if auc > best_auc + 1e-4:
            best, best_auc = penalty, auc
    return best


def _evidence_rules(
    train: list[Example], custom_kinds: Mapping[str, str]
) -> tuple[list[dict[str, Any]], float]:
    """Fit rules whose points are a penalised logistic regression's weights, ×10, rounded.

    Features are the values of the standard and custom choice fields, title
    keywords, and ranges of company size and of numeric custom fields cut at
    the training data's quantiles. A field that is near-constant (one value
    or its absence in ≥ 99% of the examples) and a value seen fewer than
    ``MIN_EXAMPLES`` times are left out. The L2 penalty (chosen by 3-fold
    cross-validation on the training part) shrinks rare values' points
    towards 0, so no rule resting on a handful of examples earns ±30 points.
    """
    choices = [k for k, kind in custom_kinds.items() if kind in ("choice", "boolean")]
    bins: dict[str, list[tuple[Bound, Bound]]] = {}
    numeric = {"company_size": "company_size"}
    numeric.update({f"custom.{k}": k for k, kind in custom_kinds.items() if kind == "number"})
    for field in numeric:
        numbers = [n for e in train if (n := _number(e.profile.get(field))) is not None]
        if numbers:
            bins[field] = _quantile_bins(numbers)
    found = [_features(e.profile, choices=choices, bins=bins) for e in train]
    counts: dict[Feature, list[int]] = defaultdict(lambda: [0, 0])  # won, lost
    by_field: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for example, features in zip(train, found, strict=True):
        for feature in features:
            counts[feature][0 if example.won else 1] += 1
            if feature[1] != "contains":
                by_field[feature[0]][feature[2]] += 1
    n = len(train)
    near_constant = {
        field
        for field, values in by_field.items()
        if max(max(values.values()), n - sum(values.values())) >= NEAR_CONSTANT * n
    }
    usable = sorted(
        (
            f
            for f, (w, lo) in counts.items()
            if w + lo >= MIN_EXAMPLES and w + lo < n * NEAR_CONSTANT and f[0] not in near_constant
        ),
        key=lambda f: (f[0], f[1], str(f[2])),
    )
    index = {feature: j for j, feature in enumerate(usable)}
    rows = [[index[f] for f in features if f in index] for features in found]
    won = [e.won for e in train]
    penalty = _choose_penalty(rows, won, len(usable))
    _intercept, weights = _fit_logistic(rows, won, len(usable), penalty)
    rules: list[dict[str, Any]] = []
    for feature, weight in zip(usable, weights, strict=True):
        points = round(POINTS_PER_LOG_ODDS * weight)
        if not points:
            continue
        won_v, lost_v = counts[feature]
        field, op, value = feature
        rules.append(
            {
                "field": field,
                "op": op,
                "value": list(value) if op == "range" else value,
                "points": max(-MAX_POINTS, min(MAX_POINTS, points)),
                "label": f"{_describe(feature)} (won {won_v} / lost {lost_v})"[:120],
                "_support": won_v + lost_v,
            }
        )
    # A definition holds at most MAX_RULES fit rules: keep the strongest evidence.
    rules.sort(key=lambda r: (-abs(r["points"]) * math.sqrt(r["_support"]), r["label"]))
    kept = rules[: scoring.MAX_RULES]
    order = {field: n for n, field in enumerate(["title", "company_size", *CATEGORICAL_FIELDS])}
    kept.sort(key=lambda r: (order.get(r["field"], len(order)), r["field"], -r["points"]))
    return [{k: v for k, v in r.items() if k != "_support"} for r in kept], penalty


def lift_of(
    scores: list[int], won: list[bool], tops: Iterable[int] = (10, 20, 30)
) -> tuple[tuple[int, float], ...]:
    """(top %, share of wins among them) for the best-scored ``top`` percent (ties by order)."""
    ranked = sorted(zip(scores, won, strict=True), key=lambda pair: -pair[0])
    shares = []
    for top in tops:
        count = max(1, round(len(ranked) * top / 100))
        shares.append((top, sum(w for _s, w in ranked[:count]) / count))
    return tuple(shares)


def _by_score(scores: list[int], won: list[bool]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for value, is_won in zip(scores, won, strict=True):
        groups[value][0 if is_won else 1] += 1
    return groups


def _best_threshold(scores: list[int], won: list[bool]) -> int:
    """The score (1–10000, stricter on a tie) whose "score ≥ it" has the best F0.5 for won.

    F0.5 weighs precision twice as much as recall: a lead handed to sales costs
    about $200 and a rep's time, while an inquiry left below the threshold is
    not lost — it stays in nurture. (Plain F1 drifts to a threshold of 1 when
    half the outcomes are wins, passing nearly everyone.)
    """
    groups = _by_score(scores, won)
    total_won = sum(won)
    best, best_f = 1, -1.0
    true_pos = false_pos = 0
    for value in sorted(groups, reverse=True):
        if value < 1:
            break
        true_pos += groups[value][0]
        false_pos += groups[value][1]
        f_half = 1.25 * true_pos / (1.25 * true_pos + 0.25 * (total_won - true_pos) + false_pos)
        if f_half > best_f:
            best, best_f = value, f_half
    return min(best, 10000)


def _auc(scores: list[int], won: list[bool]) -> float:
    """ROC AUC as Mann–Whitney: the share of (won, lost) pairs ranked right, ties count half."""
    groups = _by_score(scores, won)
    lost_below = 0
    right = 0.0
    for value in sorted(groups):
        won_here, lost_here = groups[value]
        right += won_here * (lost_below + lost_here / 2)
        lost_below += lost_here
    total_won = sum(won)
    return right / (total_won * (len(won) - total_won))


def _rules(
    fit_rules: list[dict[str, Any]], custom_kinds: Mapping[str, str], *, threshold: int
) -> scoring.Rules:
    return scoring.parse_rules(
        fit_rules=fit_rules,
        engagement_rules=TEMPLATE_ENGAGEMENT_RULES,
        qualifiers=[],
        threshold=threshold,
        custom_fields=custom_kinds,
        activity_kinds=ActivityKind.values,
    )


def suggest_from_outcomes(
    *, as_of: datetime, holdout_fraction: float = 0.3, min_each: int = 20
) -> Suggestion:
    """Propose a draft whose fit points come from who was won and who was lost.

    * Outcomes: inquiries created before ``as_of`` whose ``outcome`` is won
      or lost (their closed lead's, else an imported one).
    * A fixed part is held back to check the proposal: inquiry ``id`` with
      ``(id * 2654435761) % 1000 < holdout_fraction * 1000`` (the same split
      on every run; no randomness).
    * From the rest (training): for each value of the standard fields, title
      keywords, company size ranges and the tenant's choice, yes/no and number
      (quartile ranges) custom fields with at least 5 examples, points =
      ``round(10 × (log-odds of winning with the value − overall log-odds))``
      with ±0.5 smoothing; below 2 points is dropped, beyond ±50 clamped. Each
      rule's label shows its evidence.
    * Engagement rules are the template's, unchanged: outcomes say who buys,
      not what someone did lately, and old activities have long decayed.
    * Threshold: the training score with the best F0.5 for "won" (precision first).
    * The held-back part is scored with exactly these rules (``parse_rules`` +
      ``score`` as of ``as_of``) for ROC AUC, and precision and recall of
      "qualifies" against "won".

    Raises ``RuleViolation`` (``not_enough_outcomes``) with fewer than
    ``min_each`` won or lost outcomes, or when either part lacks won or lost.
    """
    if not 0 < holdout_fraction < 1:
        raise RuleViolation(
            field="holdout_fraction", code="invalid", message="Hold back between 0 and 1, e.g. 0.3."
        )
    custom_kinds = custom_field_kinds()
    _progress("Reading the won and lost outcomes", 5)
    labelled = Inquiry.objects.filter(created_at__lt=as_of, outcome__in=[WON, LOST])
    examples: list[Example] = []
    for chunk, activities in _chunks(labelled, as_of=as_of):
        for inquiry in chunk:
            outcome = _outcome(inquiry.outcome)
            if outcome is None:  # the outcome was cleared between the two reads
                continue
            held = (inquiry.pk * SPLIT_MULTIPLIER) % 1000 < holdout_fraction * 1000
            profile = profile_of(inquiry)
            examples.append(Example(profile, activities[inquiry.pk], outcome == WON, held))
    won = sum(e.won for e in examples)
    lost = len(examples) - won
    if won < min_each or lost < min_each:
        raise RuleViolation(
            field="outcomes",
            code="not_enough_outcomes",
            message=f"A suggestion needs at least {min_each} won and {min_each} lost outcomes "
            f"(from closed leads or an imported outcome field); "
            f"you have {won} won and {lost} lost.",
        )
    _progress("Preparing the fields", 15)
    return suggest_from_examples(examples, custom_kinds, as_of=as_of)


def suggest_from_examples(
    examples: list[Example], custom_kinds: Mapping[str, str], *, as_of: datetime
) -> Suggestion:
    """The suggestion from examples already read (the benchmark feeds generated ones)."""
    won = sum(e.won for e in examples)
    lost = len(examples) - won
    train = [e for e in examples if not e.held_back]
    test = [e for e in examples if e.held_back]
    train_won, test_won = sum(e.won for e in train), sum(e.won for e in test)
    if 0 in (train_won, len(train) - train_won, test_won, len(test) - test_won):
        raise RuleViolation(
            field="outcomes",
            code="not_enough_outcomes",
            message="Both the training part and the held-back part need won and lost "
            f"outcomes; with {won} won and {lost} lost one of them has none. Record more outcomes.",
        )
    fit_rules, penalty = _evidence_rules(train, custom_kinds)
    draft_rules = _rules(fit_rules, custom_kinds, threshold=1)
    _progress("Scoring the training part for a threshold", 82)
    train_scores = [scoring.score(e.profile, e.activities, draft_rules, as_of=as_of) for e in train]
    threshold = _best_threshold([s.total for s in train_scores], [e.won for e in train])
    final = _rules(fit_rules, custom_kinds, threshold=threshold)
    _progress("Checking on the held-back part", 90)
    results = [scoring.score(e.profile, e.activities, final, as_of=as_of) for e in test]
    true_pos = sum(1 for r, e in zip(results, test, strict=True) if r.qualifies and e.won)
    passed = sum(1 for r in results if r.qualifies)
    return Suggestion(
        fit_rules=fit_rules,
        engagement_rules=[dict(rule) for rule in TEMPLATE_ENGAGEMENT_RULES],
        threshold=threshold,
        auc=_auc([r.total for r in results], [e.won for e in test]),
        precision=true_pos / passed if passed else 0.0,
        recall=true_pos / test_won,
        train_won=train_won,
        train_lost=len(train) - train_won,
        test_won=test_won,
        test_lost=len(test) - test_won,
        lift=lift_of([r.total for r in results], [e.won for e in test]),
        base_rate=test_won / len(test),
        penalty=penalty,
    )
