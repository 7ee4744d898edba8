"""The pure router: smooth weighted round robin with skips and caps, and ordered territory rules.

No database: the router takes plain values, so these tests need none.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.routing import (
    Candidate,
    LeadFacts,
    Rule,
    SkipReason,
    TeamState,
    choose,
    match_rule,
    route_many,
)

# At most 50 examples and no deadline: CI's shared CPUs make timings meaningless.
fairness_settings = settings(max_examples=50, deadline=None)


# --- choose: the skips -------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"on_leave": True}, SkipReason.ON_LEAVE),
        ({"active": False}, SkipReason.DEACTIVATED),
        ({"suspended": True}, SkipReason.SUSPENDED),
        ({"open_leads": 3, "capacity": 3}, SkipReason.AT_CAPACITY),
        ({"busy_at_time": True}, SkipReason.DOUBLE_BOOKED),
    ],
)
def test_an_ineligible_candidate_is_skipped_with_its_reason(flags, reason):
    # b is first in line and heavier: it would win if it were eligible.
    choice = choose([Candidate("b", weight=5, **flags), Candidate("a")])

    assert choice.key == "a"
    assert choice.skipped == [("b", reason)]


def test_a_candidate_below_its_capacity_is_eligible():
    choice = choose([Candidate("a", open_leads=2, capacity=3)])

    assert choice.key == "a"
    assert choice.skipped == []


def test_a_capacity_of_zero_takes_no_lead():
    choice = choose([Candidate("a", capacity=0)])

    assert choice.key is None
    assert choice.skipped == [("a", SkipReason.AT_CAPACITY)]


def test_the_most_permanent_reason_is_recorded_when_several_apply():
    choice = choose([Candidate("a", active=False, on_leave=True, busy_at_time=True)])

    assert choice.skipped == [("a", SkipReason.DEACTIVATED)]


def test_nobody_eligible_gives_no_owner_with_every_reason_and_an_unchanged_state():
    state = TeamState({"a": 3, "b": -3})
    candidates = [Candidate("a", on_leave=True), Candidate("b", suspended=True)]

    choice = choose(candidates, state)

    assert choice.key is None
    assert choice.skipped == [("a", SkipReason.ON_LEAVE), ("b", SkipReason.SUSPENDED)]
    assert choice.state == state


def test_no_candidates_at_all_gives_no_owner():
    choice = choose([])

    assert choice.key is None
    assert choice.skipped == []


def test_a_skipped_candidate_keeps_its_current_weight():
    state = TeamState({"a": 0, "b": -4})

    choice = choose([Candidate("a"), Candidate("b", on_leave=True)], state)

    assert choice.state.weight_of("b") == -4


# --- choose: the turn --------------------------------------------------------


def test_weights_spread_the_heavy_owner_evenly_not_in_a_burst():
    run = route_many([Candidate("a", weight=5), Candidate("b"), Candidate("c")], 7)

    assert run.keys == ["a", "a", "b", "a", "c", "a", "a"]


def test_equal_weights_take_turns_in_the_given_order():
    run = route_many([Candidate("a"), Candidate("b"), Candidate("c")], 6)

    assert run.keys == ["a", "b", "c", "a", "b", "c"]


def test_the_state_carries_the_turn_from_one_lead_to_the_next():
    candidates = [Candidate("a"), Candidate("b")]

    first = choose(candidates)
    second = choose(candidates, first.state)

    assert (first.key, second.key) == ("a", "b")


def test_a_weight_below_one_is_refused():
    with pytest.raises(ValueError, match="weight must be at least 1"):
        Candidate("a", weight=0)


def test_a_candidate_offered_twice_is_refused():
    with pytest.raises(ValueError, match="offered twice"):
        choose([Candidate("a"), Candidate("a")])


# --- route_many and capacity -------------------------------------------------


def test_a_run_counts_each_assignment_against_the_cap():
    run = route_many([Candidate("a", weight=5, capacity=2), Candidate("b")], 5)

    assert run.keys == ["a", "a", "b", "b", "b"]
    assert [c.open_leads for c in run.candidates] == [2, 3]


def test_a_run_past_every_cap_leaves_the_rest_unassigned():
    run = route_many([Candidate("a", capacity=1), Candidate("b", open_leads=1, capacity=2)], 4)

    assert run.keys == ["a", "b", None, None]
    assert run.choices[-1].skipped == [("a", SkipReason.AT_CAPACITY), ("b", SkipReason.AT_CAPACITY)]


weights = st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8)


@fairness_settings
@given(weights=weights, n=st.integers(min_value=0, max_value=200))
def test_each_owner_gets_its_weights_share_within_one_lead(weights, n):
    candidates = [Candidate(f"o{i}", weight=w) for i, w in enumerate(weights)]
    total = sum(weights)

    run = route_many(candidates, n)

    counts = Counter(run.keys)
    for candidate in candidates:
        assert abs(counts[candidate.key] - candidate.weight * n / total) <= 1


@fairness_settings
@given(
    owners=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=5),
            st.integers(min_value=0, max_value=6),
            st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
        ),
        min_size=1,
        max_size=8,
    ),
    n=st.integers(min_value=0, max_value=100),
)
def test_no_cap_is_ever_exceeded(owners, n):
    candidates = [
        Candidate(
            f"o{i}",
            weight=w,
            open_leads=min(open_, cap) if cap is not None else open_,
            capacity=cap,
        )
        for i, (w, open_, cap) in enumerate(owners)
    ]
    room = sum(
        float("inf") if c.capacity is None else c.capacity - c.open_leads for c in candidates
    )

    run = route_many(candidates, n)

    for before, after in zip(candidates, run.candidates, strict=True):
        assert after.capacity is None or after.open_leads <= after.capacity
        assert after.open_leads - before.open_leads == run.keys.count(before.key)
    assert sum(key is not None for key in run.keys) == min(n, room)


# --- territory rules ---------------------------------------------------------

RULES = [
    Rule("dach-enterprise", countries=frozenset({"DE", "AT", "CH"}), size_min=1000),
    Rule("dach", countries=frozenset({"DE", "AT", "CH"})),
    Rule("bavaria-health", regions=frozenset({"Bavaria"}), industries=frozenset({"Healthcare"})),
    Rule("small", size_max=49),
    Rule("mid", size_min=50, size_max=999),
]


def test_the_first_matching_rule_wins():
    facts = LeadFacts(country="DE", region="Bavaria", industry="Healthcare", company_size=5000)

    assert match_rule(RULES, facts, default="inbound") == "dach-enterprise"


def test_a_later_rule_matches_when_an_earlier_one_does_not():
    facts = LeadFacts(country="DE", company_size=200)

    assert match_rule(RULES, facts, default="inbound") == "dach"


def test_every_given_criterion_must_match():
    facts = LeadFacts(country="FR", region="Bavaria", industry="Retail")

    assert match_rule(RULES[2:3], facts, default="inbound") == "inbound"


def test_no_match_falls_back_to_the_default_team():
    facts = LeadFacts(country="FR", company_size=None)

    assert match_rule(RULES, facts, default="inbound") == "inbound"


def test_no_match_and_no_default_gives_none():
    assert match_rule(RULES, LeadFacts(country="FR")) is None


def test_no_rules_at_all_give_the_default_team():
    assert match_rule([], LeadFacts(country="DE"), default="inbound") == "inbound"


def test_a_rule_with_no_criteria_matches_any_lead():
    assert match_rule([Rule("everyone")], LeadFacts(), default="inbound") == "everyone"


def test_text_criteria_ignore_case_and_surrounding_spaces():
    facts = LeadFacts(region=" bavaria ", industry="HEALTHCARE")

    assert match_rule(RULES[2:3], facts) == "bavaria-health"


@pytest.mark.parametrize(
    ("size", "team"), [(49, "small"), (50, "mid"), (999, "mid"), (1000, "inbound")]
)
def test_company_size_bounds_are_inclusive(size, team):
    facts = LeadFacts(country="FR", company_size=size)

    assert match_rule(RULES, facts, default="inbound") == team


def test_a_size_rule_does_not_catch_a_lead_of_unknown_size():
    assert match_rule([Rule("small", size_max=49)], LeadFacts(), default="inbound") == "inbound"


def test_a_rule_with_its_size_bounds_crossed_is_refused():
    with pytest.raises(ValueError, match="smallest company size is above the largest"):
        Rule("broken", size_min=100, size_max=10)
