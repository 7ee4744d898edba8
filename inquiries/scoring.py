"""The lead definition's rules and the score they give: pure functions, no database.

A definition is JSON so both marketing and sales can read it. ``parse_rules``
validates it into typed rules; ``score`` applies them to one profile and its
activities. The set-based rescoring in SQL (``inquiries/services/rescoring.py``)
implements the same arithmetic and is tested to agree with this module.

Arithmetic, stated once:

* fit: each fit rule whose condition holds adds its points;
* engagement: per rule, each activity of its kind adds ``points * 0.5 **
  (age_days / half_life_days)`` (no decay when the half-life is 0); the sum is
  capped at ``cap`` and rounded half up (``floor(x + 0.5)``);
* score = fit + engagement; the inquiry is an MQL when the score reaches the
  threshold and every must-have qualifier holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from leadflow.lib.rules import RuleViolation

STANDARD_FIELDS = {
    "title": "text",
    "company": "text",
    "company_size": "number",
    "industry": "text",
    "country": "text",
    "region": "text",
    "interest": "text",
    "timeline": "text",
    "source": "text",
}
OPERATORS = {"equals", "in", "range", "contains", "is_set"}
CONVERSION_KINDS = {
    "form_fill",
    "download",
    "webinar",
    "event_card",
    "partner_referral",
    "chat",
    "email_reply",
}
MAX_RULES = 100


@dataclass(frozen=True)
class FitRule:
    field: str
    op: str
    value: Any
    points: int
    label: str

    def matches(self, profile: Mapping[str, Any]) -> bool:
        actual = profile.get(self.field)
        if actual is None or actual == "":
            return False
        if self.op == "is_set":
            return True
        if self.op == "range":
            number = _number(actual)
            if number is None:
                return False
            low, high = self.value
            return (low is None or number >= low) and (high is None or number <= high)
        text = _normal(actual)
        if self.op == "in":
            return text in self._wanted
        if self.op == "equals":
            return text == self._wanted
        return self._wanted in text

    @cached_property
    def _wanted(self) -> Any:
        """The rule's value as compared, normalised once per rule rather than per inquiry."""
        if self.op == "in":
            return frozenset(_normal(v) for v in self.value)
        return _normal(self.value)


@dataclass(frozen=True)
class EngagementRule:
    activity: str
    points: int
    cap: int
    half_life_days: float
    label: str


@dataclass(frozen=True)
class Rules:
    fit: tuple[FitRule, ...]
    engagement: tuple[EngagementRule, ...]
    qualifiers: tuple[FitRule, ...]
    threshold: int


@dataclass(frozen=True)
class ScoreResult:
    fit: int
    engagement: int
    total: int
    breakdown: list[dict[str, Any]]
    qualifies: bool
    level: str


def _normal(value: Any) -> str:
    """Text compared trimmed and case-insensitively; yes/no as "true"/"false" (JSON's spelling)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _fail(path: str, message: str) -> RuleViolation:
    return RuleViolation(field=path, code="invalid_rule", message=message)


def _int(raw: Any, path: str, *, minimum: int | None = None) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _fail(path, "Must be a whole number.")
    if minimum is not None and raw < minimum:
        raise _fail(path, f"Must be at least {minimum}.")
    if abs(raw) > 1000:
        raise _fail(path, "Must be between -1000 and 1000.")
    return raw


def _fit_rule(
    raw: Any, path: str, known_fields: Mapping[str, str], *, with_points: bool
) -> FitRule:
    if not isinstance(raw, dict):
        raise _fail(path, "Each rule is an object.")
    field = raw.get("field")
    if field not in known_fields:
        raise _fail(f"{path}.field", f"Unknown field {field!r}.")
    op = raw.get("op")
    if op not in OPERATORS:
        raise _fail(f"{path}.op", f"Use one of {', '.join(sorted(OPERATORS))}.")
    value = raw.get("value")
    if op == "range":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(f"{path}.value", "A range is [low, high]; either may be null.")
        if known_fields[field] != "number":
            raise _fail(f"{path}.op", f"{field} is not a number; a range does not apply.")
        bounds = [None if v is None else _number(v) for v in value]
        if any(v is None and raw_v is not None for v, raw_v in zip(bounds, value, strict=True)):
            raise _fail(f"{path}.value", "Range bounds must be numbers or null.")
        if bounds == [None, None]:
            raise _fail(f"{path}.value", "Give at least one bound.")
        if None not in bounds and bounds[0] > bounds[1]:
            raise _fail(f"{path}.value", "The low bound is above the high bound.")
        value = tuple(bounds)
    elif op == "in":
        if not isinstance(value, list) or not value or len(value) > 200:
            raise _fail(f"{path}.value", "Give a list of 1–200 values.")
        value = tuple(value)
    elif op == "is_set":
        value = None  # any value given matches; the rule's value is not read
    elif value is None or (isinstance(value, str) and not value.strip()):
        raise _fail(f"{path}.value", "Give a value.")
    points = _int(raw.get("points", 0), f"{path}.points") if with_points else 0
    label = str(raw.get("label") or _describe(field, op, value))[:120]
    return FitRule(field=field, op=op, value=value, points=points, label=label)


def _describe(field: str, op: str, value: Any) -> str:
    if op == "range":
        low, high = value
        if low is None:
            return f"{field} ≤ {high:g}"
        if high is None:
            return f"{field} ≥ {low:g}"
        return f"{field} {low:g}–{high:g}"
    if op == "in":
        return f"{field} in {', '.join(map(str, value))}"
    if op == "is_set":
        return f"{field} is set"
    return f"{field} {op} {value}"


def parse_rules(
    *,
    fit_rules: Any,
    engagement_rules: Any,
    qualifiers: Any,
    threshold: Any,
    custom_fields: Mapping[str, str] | None = None,
    activity_kinds: Iterable[str] = (),
) -> Rules:
    """Validate a definition's JSON into rules; the error names the offending path."""
    known = dict(STANDARD_FIELDS)
    for key, kind in (custom_fields or {}).items():
        known[f"custom.{key}"] = "number" if kind == "number" else "text"
    for name, value in (
        ("fit_rules", fit_rules),
        ("engagement_rules", engagement_rules),
        ("qualifiers", qualifiers),
    ):
        if not isinstance(value, list):
            raise _fail(name, "Must be a list of rules.")
        if len(value) > MAX_RULES:
            raise _fail(name, f"At most {MAX_RULES} rules.")
    fit = tuple(
        _fit_rule(raw, f"fit_rules[{i}]", known, with_points=True)
        for i, raw in enumerate(fit_rules)
    )
    quals = tuple(
        _fit_rule(raw, f"qualifiers[{i}]", known, with_points=False)
        for i, raw in enumerate(qualifiers)
    )
    kinds = set(activity_kinds)
    engagement = []
    for i, raw in enumerate(engagement_rules):
        path = f"engagement_rules[{i}]"
        if not isinstance(raw, dict):
            raise _fail(path, "Each rule is an object.")
        activity = raw.get("activity")
        if activity not in kinds:
            raise _fail(f"{path}.activity", f"Unknown activity type {activity!r}.")
        points = _int(raw.get("points"), f"{path}.points")
        cap = _int(raw.get("cap", 100), f"{path}.cap", minimum=0)
        half_life = raw.get("half_life_days", 0)
        if isinstance(half_life, bool) or not isinstance(half_life, int | float) or half_life < 0:
            raise _fail(f"{path}.half_life_days", "Must be a number of days, 0 for no decay.")
        if half_life > 3650:
            raise _fail(f"{path}.half_life_days", "At most 3650 days.")
        label = str(raw.get("label") or f"{activity} × {points}")[:120]
        engagement.append(EngagementRule(activity, points, cap, float(half_life), label))
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= 10000:
        raise _fail("mql_threshold", "Must be a whole number from 1 to 10000.")
    return Rules(fit=fit, engagement=tuple(engagement), qualifiers=quals, threshold=threshold)


def decay(age_seconds: float, half_life_days: float) -> float:
    if half_life_days <= 0:
        return 1.0
    return 0.5 ** (max(age_seconds, 0.0) / (half_life_days * 86400.0))


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def engagement_points(
    rule: EngagementRule, occurred: Iterable[datetime], *, as_of: datetime
) -> int:
    raw = sum(
        rule.points * decay((as_of - when).total_seconds(), rule.half_life_days)
        for when in occurred
    )
    capped = min(raw, rule.cap) if rule.points >= 0 else max(raw, -rule.cap)
    return round_half_up(capped)


def score(
    profile: Mapping[str, Any],
    activities: Iterable[tuple[str, datetime]],
    rules: Rules,
    *,
    as_of: datetime,
) -> ScoreResult:
    """Score one inquiry: fit + engagement, with the breakdown and behaviour level."""
    by_kind: dict[str, list[datetime]] = {}
    for kind, when in activities:
        by_kind.setdefault(kind, []).append(when)
    breakdown: list[dict[str, Any]] = []
    fit = 0
    for rule in rules.fit:
        if rule.matches(profile):
            fit += rule.points
            breakdown.append({"rule": rule.label, "kind": "fit", "points": rule.points})
    engagement = 0
    for rule in rules.engagement:
        occurred = by_kind.get(rule.activity)
        points = engagement_points(rule, occurred, as_of=as_of) if occurred else 0
        if points:
            engagement += points
            breakdown.append({"rule": rule.label, "kind": "engagement", "points": points})
    total = fit + engagement
    qualifies = total >= rules.threshold and all(q.matches(profile) for q in rules.qualifiers)
    level = behaviour_level(
        by_kind=by_kind,
        fit=fit,
        engagement=engagement,
        total=total,
        rules=rules,
        profile=profile,
        qualifies=qualifies,
    )
    return ScoreResult(fit, engagement, total, breakdown, qualifies, level)


def behaviour_level(
    *,
    by_kind: Mapping[str, list[datetime]],
    fit: int,
    engagement: int,
    total: int,
    rules: Rules,
    profile: Mapping[str, Any],
    qualifies: bool,
) -> str:
    """Where the person stands on the seed ladder, from their score and deeds.

    The ladder is described in docs/architecture.md, "Words".

    * mql — the definition is met;
    * visitor — nothing but page visits (or nothing at all);
    * conversion — exactly one response (form, download, webinar, ...);
    * influencer — engaged (half the threshold from engagement alone) although
      no title rule matches: researching for someone else;
    * investigator — at least half-way to the threshold;
    * researcher — responds again and again but fits the profile not at all;
    * prospect — everyone else: interested, not ready.
    """
    if qualifies:
        return "mql"
    conversions = sum(len(v) for k, v in by_kind.items() if k in CONVERSION_KINDS)
    if conversions == 0:
        return "visitor"
    if conversions == 1 and total < rules.threshold / 2:
        return "conversion"
    title_rules = [r for r in rules.fit if r.field == "title"]
    if (
        title_rules
        and engagement * 2 >= rules.threshold
        and not any(r.matches(profile) for r in title_rules)
    ):
        return "influencer"
    if total * 2 >= rules.threshold:
        return "investigator"
    if fit <= 0 and conversions >= 3:
        return "researcher"
    return "prospect"
