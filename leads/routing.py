"""The router of issue 16, pure: who gets the next lead, decided from plain values.

Nothing here reads or writes the database or imports a model, so the fairness
and capacity promises can be proved by property tests in milliseconds and the
same code can later run inside booking, recall and a "who would get this lead?"
tester. The caller loads the candidates (with their open-lead counts and
whether they are busy at the appointment's time) and stores the returned
``TeamState``; the router only decides.

**Within a team: smooth weighted round robin** (nginx's algorithm). Every
eligible candidate's ``current_weight`` grows by its weight, the largest wins
(ties go to the earlier candidate in the given order) and the winner's
``current_weight`` drops by the eligible weights' total. The current weights
always sum to the same value, so from a zero state an owner's count after any
``n`` leads is within one lead of ``n × weight / total`` — spread out evenly,
never in bursts (weights 5, 1, 1 give a a b a c a a, not a a a a a b c).
Skipped candidates neither gain nor lose, so one back from leave does not get a
burst of leads for the time away.

**Territory rules** are ordered; the first whose every given criterion matches
names the team, an empty criterion means "any", and no match falls back to the
tenant's default team.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum


class SkipReason(StrEnum):
    """Why a candidate was passed over; recorded with the assignment."""

    DEACTIVATED = "deactivated"
    SUSPENDED = "suspended"
    ON_LEAVE = "on_leave"
    AT_CAPACITY = "at_capacity"
    DOUBLE_BOOKED = "double_booked"
    # The owner already said ``cannot_serve`` or was recalled from this lead.
    DECLINED = "declined"


@dataclass(frozen=True)
class Candidate:
    """One possible owner (a rep or a partner) as the router sees it.

    ``capacity`` is the most open leads the owner may hold (``None``: no cap);
    ``busy_at_time`` says the owner already has an appointment at this lead's
    time. ``key`` is opaque to the router (a membership or partner id).
    """

    key: str
    weight: int = 1
    open_leads: int = 0
    capacity: int | None = None
    on_leave: bool = False
    active: bool = True
    suspended: bool = False
    busy_at_time: bool = False
    declined: bool = False
    # ``skip_reason()`` worked out once: a candidate is decided on for many leads of a run.
    skip: SkipReason | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.weight < 1:
            raise ValueError(f"Candidate {self.key!r}: weight must be at least 1.")
        if self.capacity is not None and self.capacity < 0:
            raise ValueError(f"Candidate {self.key!r}: capacity cannot be negative.")
        object.__setattr__(self, "skip", self.skip_reason())

    def skip_reason(self) -> SkipReason | None:
        """The first reason this candidate cannot take a lead now, or ``None``.

        Checked from the most permanent to the most passing, so the recorded
        reason is the one a manager would fix first.
        """
        if self.declined:
            return SkipReason.DECLINED
        if not self.active:
            return SkipReason.DEACTIVATED
        if self.suspended:
            return SkipReason.SUSPENDED
        if self.on_leave:
            return SkipReason.ON_LEAVE
        if self.capacity is not None and self.open_leads >= self.capacity:
            return SkipReason.AT_CAPACITY
        if self.busy_at_time:
            return SkipReason.DOUBLE_BOOKED
        return None


@dataclass(frozen=True)
class TeamState:
    """A team's round-robin memory: each candidate's ``current_weight``.

    Missing keys count as 0 (a new member starts level); keys of people no
    longer offered are kept untouched, so a short absence from the list does
    not reset them.
    """

    current_weights: Mapping[str, int] = field(default_factory=dict)

    def weight_of(self, key: str) -> int:
        return self.current_weights.get(key, 0)


@dataclass(frozen=True)
class Choice:
    """The router's decision: the owner's key (``None`` when nobody is eligible),
    who was passed over and why, and the state to store for the next lead."""

    key: str | None
    skipped: list[tuple[str, SkipReason]]
    state: TeamState


def choose(candidates: Sequence[Candidate], state: TeamState | None = None) -> Choice:
    """Pick the next owner among ``candidates`` by smooth weighted round robin."""
    if len({candidate.key for candidate in candidates}) != len(candidates):
        _refuse_duplicates(candidates)
    state = state or TeamState()
    skipped: list[tuple[str, SkipReason]] = []
    # One pass (a routing run calls this once a lead): the eligible in the given order gain
    # their weight, the largest gain so far wins, ties to the earlier.
    weights = dict(state.current_weights)
    total = 0
    best: str | None = None
    best_weight = 0
    for candidate in candidates:
        reason = candidate.skip
        if reason is not None:
            skipped.append((candidate.key, reason))
            continue
        key = candidate.key
        weight = weights.get(key, 0) + candidate.weight
        weights[key] = weight
        total += candidate.weight
        if best is None or weight > best_weight:
            best, best_weight = key, weight
    if best is None:
        return Choice(key=None, skipped=skipped, state=state)
    weights[best] -= total
    return Choice(key=best, skipped=skipped, state=TeamState(weights))


@dataclass(frozen=True)
class Run:
    """The result of routing a run of leads: one choice per lead, the candidates
    with their open-lead counts after the run, and the final state."""

    choices: list[Choice]
    candidates: list[Candidate]
    state: TeamState

    @property
    def keys(self) -> list[str | None]:
        return [choice.key for choice in self.choices]


def route_many(candidates: Sequence[Candidate], n: int, state: TeamState | None = None) -> Run:
    """Route ``n`` leads one after another, each winner's ``open_leads`` growing by
    one, so capacity caps bite within the run. ``busy_at_time`` is kept as given:
    the run is for leads whose times the caller has already checked."""
    if n < 0:
        raise ValueError("A run cannot be shorter than zero leads.")
    current = list(candidates)
    state = state or TeamState()
    choices: list[Choice] = []
    for _ in range(n):
        choice = choose(current, state)
        choices.append(choice)
        state = choice.state
        if choice.key is not None:
            current = [
                replace(c, open_leads=c.open_leads + 1) if c.key == choice.key else c
                for c in current
            ]
    return Run(choices=choices, candidates=current, state=state)


def _refuse_duplicates(candidates: Iterable[Candidate]) -> None:
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.key in seen:
            raise ValueError(f"Candidate {candidate.key!r} is offered twice.")
        seen.add(candidate.key)


# --- Territory rules ---------------------------------------------------------


@dataclass(frozen=True)
class LeadFacts:
    """What the rules look at; blank text or ``None`` is "not known"."""

    country: str = ""
    region: str = ""
    industry: str = ""
    company_size: int | None = None


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values if v.strip())


@dataclass(frozen=True)
class Rule:
    """One territory rule: a lead matching every given criterion goes to ``team``.

    Text criteria are sets compared without regard to case or surrounding
    spaces; company size bounds are inclusive. A criterion left empty matches
    any lead, including one where that fact is unknown; a given criterion never
    matches an unknown fact (a rule for "DE" does not catch a lead with no
    country).
    """

    team: str
    countries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    industries: frozenset[str] = frozenset()
    size_min: int | None = None
    size_max: int | None = None

    def __post_init__(self) -> None:
        for name in ("countries", "regions", "industries"):
            object.__setattr__(self, name, _folded(getattr(self, name)))
        low, high = self.size_min, self.size_max
        if low is not None and high is not None and low > high:
            raise ValueError(
                f"Rule for {self.team!r}: the smallest company size is above the largest."
            )

    def matches(self, facts: LeadFacts) -> bool:
        for wanted, value in (
            (self.countries, facts.country),
            (self.regions, facts.region),
            (self.industries, facts.industry),
        ):
            if wanted and value.strip().casefold() not in wanted:
                return False
        if self.size_min is None and self.size_max is None:
            return True
        size = facts.company_size
        if size is None:
            return False
        if self.size_min is not None and size < self.size_min:
            return False
        return self.size_max is None or size <= self.size_max


def match_rule(rules: Sequence[Rule], facts: LeadFacts, default: str | None = None) -> str | None:
    """The team of the first rule (in order) ``facts`` match, else ``default``."""
    for rule in rules:
        if rule.matches(facts):
            return rule.team
    return default
