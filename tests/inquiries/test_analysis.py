"""Before sign-off: the what-if against hand-counted figures, and a draft suggested by outcomes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inquiries import scoring
from inquiries.models import ActivityKind, Inquiry, Timeline
from inquiries.selectors import analysis
from inquiries.selectors.analysis import PassedOutcomes, suggest_from_outcomes, what_if
from inquiries.selectors.scoring import custom_field_kinds, profile_of
from inquiries.services.custom_fields import define_custom_field
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.factories import (
    ActivityFactory,
    InquiryFactory,
    LeadDefinitionFactory,
    TenantFactory,
)

AS_OF = datetime(2026, 6, 3, 12, tzinfo=UTC)  # a Wednesday
WEEKS = [date(2026, 5, 11), date(2026, 5, 18), date(2026, 5, 25), date(2026, 6, 1)]

# Active: healthcare is enough. Draft: a VP who came to a webinar.
ACTIVE_RULES = [{"field": "industry", "op": "equals", "value": "healthcare", "points": 60}]
DRAFT_RULES = [{"field": "title", "op": "contains", "value": "vp", "points": 40}]
WEBINAR = [{"activity": "webinar", "points": 20, "cap": 20, "half_life_days": 0}]


def definitions(tenant, *, with_active: bool = True):
    draft = LeadDefinitionFactory(
        tenant=tenant,
        status="draft",
        fit_rules=DRAFT_RULES,
        engagement_rules=WEBINAR,
        mql_threshold=50,
        leads_per_rep_per_week=1,
        reps=2,
    )
    active = None
    if with_active:
        active = LeadDefinitionFactory(
            tenant=tenant, status="active", fit_rules=ACTIVE_RULES, engagement_rules=[]
        )
    return draft, active


def inquiry(tenant, created_at, *, title, industry, webinar_at=None, **kwargs):
    made = InquiryFactory(
        tenant=tenant, created_at=created_at, title=title, industry=industry, **kwargs
    )
    if webinar_at is not None:
        ActivityFactory(tenant=tenant, inquiry=made, kind="webinar", occurred_at=webinar_at)
    return made


def at(day: int, month: int = 5, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def booked(made, when: datetime) -> None:
    """The inquiry's appointment was booked at ``when``: it became a lead then."""
    ActivityFactory(tenant=made.tenant, inquiry=made, kind="appointment_booked", occurred_at=when)


@pytest.fixture
def window(actors):
    """Inquiries around a 21-day window ending AS_OF; the figures are counted in the tests."""
    tenant = actors.tenant_a
    # Before the window (2026-05-13 12:00) although in its first week: not counted.
    inquiry(tenant, at(12), title="VP", industry="healthcare", webinar_at=at(12))
    # Week of 05-18: both pass; the lead was won (its close wrote the outcome over the import's).
    won = inquiry(
        tenant, at(21), title="VP Sales", industry="healthcare", webinar_at=at(21), outcome="won"
    )
    booked(won, at(22))
    # Week of 05-25: the active version passes one (a lost lead), the draft three.
    lost = inquiry(tenant, at(26), title="Engineer", industry="healthcare", outcome="lost")
    booked(lost, at(26, hour=11))
    open_lead = inquiry(tenant, at(27), title="VP Ops", industry="retail", webinar_at=at(27))
    booked(open_lead, at(28))
    # Its webinar is after AS_OF, so not yet known: 40 points, no MQL.
    inquiry(tenant, at(28), title="VP", industry="retail", webinar_at=at(10, 6))
    inquiry(tenant, at(29), title="VP", industry="retail", webinar_at=at(29), outcome="won")
    inquiry(tenant, at(30), title="VP", industry="retail", webinar_at=at(30), outcome="lost")
    # Week of 06-01: only the active version passes it.
    inquiry(tenant, at(2, 6), title="Analyst", industry="healthcare")
    # Created at AS_OF itself: the window is half-open.
    inquiry(tenant, AS_OF, title="VP", industry="healthcare", webinar_at=AS_OF)
    # Another tenant's inquiry that would pass both.
    other = actors.tenant_b
    inquiry(other, at(27), title="VP", industry="healthcare", webinar_at=at(27))
    return tenant


def test_what_if_counts_mqls_per_week_for_draft_and_active(window):
    draft, active = definitions(window)
    with tenant_context(window):
        result = what_if(draft=draft, active=active, as_of=AS_OF, days=21)
    assert result.weeks == WEEKS
    assert result.draft_mqls == [0, 1, 3, 0]
    assert result.active_mqls == [0, 1, 1, 1]


def test_what_if_compares_the_draft_with_sales_capacity(window):
    draft, active = definitions(window)
    with tenant_context(window):
        result = what_if(draft=draft, active=active, as_of=AS_OF, days=21)
    assert result.capacity_per_week == 1 * 2
    assert result.weeks_over_capacity == 1  # 3 MQLs in the week of 05-25


def test_what_if_follows_what_became_of_the_inquiries_each_version_passed(window):
    """Booked inquiries count as leads; won/lost from the inquiry's last known outcome."""
    draft, active = definitions(window)
    with tenant_context(window):
        result = what_if(draft=draft, active=active, as_of=AS_OF, days=21)
    # Draft: the won lead, the open lead, imported won, imported lost.
    assert result.draft_outcomes == PassedOutcomes(passed=4, became_leads=2, won=2, lost=1)
    # Active: the won lead, the lost lead, the analyst with no outcome.
    assert result.active_outcomes == PassedOutcomes(passed=3, became_leads=2, won=1, lost=1)


def test_what_if_reads_in_chunks_with_the_same_figures(window, monkeypatch):
    monkeypatch.setattr(analysis, "CHUNK", 2)
    draft, active = definitions(window)
    with tenant_context(window):
        result = what_if(draft=draft, active=active, as_of=AS_OF, days=21)
    assert (result.draft_mqls, result.active_mqls) == ([0, 1, 3, 0], [0, 1, 1, 1])
    assert result.draft_outcomes == PassedOutcomes(passed=4, became_leads=2, won=2, lost=1)


def test_what_if_without_an_active_version_has_nothing_to_compare(window):
    draft, _ = definitions(window, with_active=False)
    with tenant_context(window):
        result = what_if(draft=draft, active=None, as_of=AS_OF, days=21)
    assert result.active_mqls is None
    assert result.active_outcomes is None
    assert result.draft_mqls == [0, 1, 3, 0]
    assert result.draft_outcomes == PassedOutcomes(passed=4, became_leads=2, won=2, lost=1)


def test_what_if_weeks_follow_the_tenants_time_zone(db):
    tenant = TenantFactory(timezone="America/Los_Angeles")
    draft, _ = definitions(tenant, with_active=False)
    # Monday 03:00 UTC is still Sunday evening in Los Angeles.
    monday_utc = datetime(2026, 5, 25, 3, tzinfo=UTC)
    inquiry(tenant, monday_utc, title="VP", industry="retail", webinar_at=monday_utc)
    with tenant_context(tenant):
        result = what_if(draft=draft, active=None, as_of=AS_OF, days=14)
    assert result.weeks == [date(2026, 5, 18), date(2026, 5, 25), date(2026, 6, 1)]
    assert result.draft_mqls == [1, 0, 0]


def test_what_if_query_count_does_not_grow_with_inquiries(actors):
    tenant = actors.tenant_a
    draft, active = definitions(tenant)

    def queries() -> int:
        with tenant_context(tenant), CaptureQueriesContext(connection) as captured:
            what_if(draft=draft, active=active, as_of=AS_OF, days=21)
        return len(captured)

    inquiry(tenant, at(21), title="VP", industry="healthcare", webinar_at=at(21))
    one = queries()
    for day in range(22, 30):
        made = inquiry(
            tenant, at(day), title="VP", industry="retail", webinar_at=at(day), outcome="won"
        )
        booked(made, at(day))
    assert queries() == one


# The generated history: industry, company size and an ERP system drive the win
# probability; country, title and timeline are noise.
INDUSTRY_WIN = {
    "healthcare": 0.8,
    "logistics": 0.6,
    "manufacturing": 0.4,
    "education": 0.15,
    "retail": 0.08,
}
TITLES = ["VP Operations", "Director of IT", "Office Manager", "Analyst", "Founder"]
HOLDOUT = 300  # holdout_fraction 0.3, per mille


def win_probability(industry: str, size: int, has_erp: bool) -> float:
    size_effect = 0.2 if size >= 1000 else -0.2 if size < 50 else 0.0
    return min(0.95, max(0.02, INDUSTRY_WIN[industry] + size_effect + (0.2 if has_erp else -0.1)))


def generate_history(tenant, *, count: int = 600, seed: int = 20260601) -> None:
    """Inquiries with imported outcomes, and every tenth one's from a closed lead instead."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        industry = rng.choice(list(INDUSTRY_WIN))
        size = int(10 ** rng.uniform(0.5, 4.2))
        has_erp = rng.random() < 0.5
        won = rng.random() < win_probability(industry, size, has_erp)
        rows.append(
            Inquiry(
                tenant=tenant,
                email=f"history{n}@example.test",
                industry=industry,
                company_size=size,
                country=rng.choice(["US", "DE", "GB"]),
                title=rng.choice(TITLES),
                timeline=rng.choice(Timeline.values),
                custom={"has_erp": has_erp, "budget_k": rng.randint(5, 500)},
                outcome="won" if won else "lost",
                created_at=AS_OF - timedelta(days=rng.randint(30, 400)),
            )
        )
    with tenant_context(tenant):
        made = Inquiry.objects.bulk_create(rows)
    for row in made[::10]:
        # Closed as a lead: booked once, and the close wrote the outcome.
        ActivityFactory(tenant=tenant, inquiry=row, kind="appointment_booked")


def known_outcomes(tenant) -> list[tuple[Inquiry, bool]]:
    """Every labelled inquiry with "won?", from its outcome (as the suggestion reads it)."""
    with tenant_context(tenant):
        return [(i, i.outcome == "won") for i in Inquiry.objects.order_by("pk")]


def pairwise_auc(scores: list[float], won: list[bool]) -> float:
    wins = [s for s, w in zip(scores, won, strict=True) if w]
    losses = [s for s, w in zip(scores, won, strict=True) if not w]
    right = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in wins for b in losses)
    return right / (len(wins) * len(losses))


@pytest.fixture
def history(actors, system_a):
    tenant = actors.tenant_a
    with tenant_context(tenant):
        define_custom_field(key="has_erp", label="Has an ERP", kind="boolean", by=system_a)
        define_custom_field(key="budget_k", label="Budget (k)", kind="number", by=system_a)
    generate_history(tenant)
    with tenant_context(tenant):
        suggestion = suggest_from_outcomes(as_of=AS_OF)
    return tenant, suggestion


def parsed(tenant, suggestion) -> scoring.Rules:
    with tenant_context(tenant):
        kinds = custom_field_kinds()
    return scoring.parse_rules(
        fit_rules=suggestion.fit_rules,
        engagement_rules=suggestion.engagement_rules,
        qualifiers=[],
        threshold=suggestion.threshold,
        custom_fields=kinds,
        activity_kinds=ActivityKind.values,
    )


def held_back(tenant, suggestion) -> tuple[list[scoring.ScoreResult], list[bool]]:
    rules = parsed(tenant, suggestion)
    rows = [(i, w) for i, w in known_outcomes(tenant) if (i.pk * 2654435761) % 1000 < HOLDOUT]
    results = [scoring.score(profile_of(i), [], rules, as_of=AS_OF) for i, _ in rows]
    return results, [w for _, w in rows]


def test_suggestion_ranks_held_back_outcomes_far_better_than_chance(history):
    tenant, suggestion = history
    results, won = held_back(tenant, suggestion)
    shuffled = random.Random(7)
    chance = pairwise_auc([shuffled.random() for _ in won], won)
    assert suggestion.auc == pytest.approx(pairwise_auc([r.total for r in results], won))
    assert suggestion.auc >= 0.7
    assert suggestion.auc - chance >= 0.15


def test_suggestion_finds_the_known_signal(history):
    _, suggestion = history
    points = {(r["field"], str(r["value"])): r["points"] for r in suggestion.fit_rules}
    assert points[("industry", "healthcare")] > 0
    assert points[("industry", "retail")] < 0
    assert points[("custom.has_erp", "true")] > 0
    assert all(1 <= abs(p) <= 50 for p in points.values())
    healthcare = next(r for r in suggestion.fit_rules if r["value"] == "healthcare")
    assert healthcare["label"].startswith("industry = healthcare (won ")


def test_suggested_rules_are_a_valid_definition_with_the_template_engagement(history):
    tenant, suggestion = history
    rules = parsed(tenant, suggestion)
    assert len(rules.fit) == len(suggestion.fit_rules)
    assert {r["activity"] for r in suggestion.engagement_rules} >= {"webinar", "form_fill"}
    budget = [r for r in suggestion.fit_rules if r["field"] == "custom.budget_k"]
    assert all(r["op"] == "range" for r in budget)


def test_suggestion_precision_and_recall_match_a_recount(history):
    tenant, suggestion = history
    results, won = held_back(tenant, suggestion)
    passed = [w for r, w in zip(results, won, strict=True) if r.qualifies]
    assert 0 <= suggestion.precision <= 1 and 0 <= suggestion.recall <= 1
    assert suggestion.precision == pytest.approx(sum(passed) / len(passed))
    assert suggestion.recall == pytest.approx(sum(passed) / sum(won))


def test_suggested_threshold_favours_precision_over_passing_everyone(history):
    tenant, suggestion = history
    results, won = held_back(tenant, suggestion)
    passed = sum(1 for r in results if r.qualifies)
    base_rate = sum(won) / len(won)
    assert suggestion.threshold > 1
    assert passed < len(results)
    assert suggestion.precision > base_rate


def test_suggestion_splits_every_known_outcome_once(history):
    """Every inquiry with an outcome is an example once; the held-back part is the fixed id rule."""
    tenant, suggestion = history
    labelled = known_outcomes(tenant)
    test = [w for i, w in labelled if (i.pk * 2654435761) % 1000 < HOLDOUT]
    assert (suggestion.test_won, suggestion.test_lost) == (sum(test), len(test) - sum(test))
    assert suggestion.train_won + suggestion.test_won == sum(w for _, w in labelled)
    assert suggestion.train_lost + suggestion.test_lost == len(labelled) - sum(
        w for _, w in labelled
    )


def test_too_few_outcomes_cannot_suggest(actors):
    tenant = actors.tenant_a
    rows = [
        Inquiry(
            tenant=tenant,
            email=f"few{n}@example.test",
            outcome="won" if n < 19 else "lost",
            created_at=AS_OF - timedelta(days=30),
        )
        for n in range(19 + 25)
    ]
    with tenant_context(tenant):
        Inquiry.objects.bulk_create(rows)
        with pytest.raises(RuleViolation) as raised:
            suggest_from_outcomes(as_of=AS_OF)
    assert (raised.value.field, raised.value.code) == ("outcomes", "not_enough_outcomes")
    assert "at least 20 won and 20 lost" in raised.value.message
    assert "you have 19 won and 25 lost" in raised.value.message


def test_what_if_counts_a_historical_import_in_the_weeks_its_people_arrived(actors):
    """Imported on 2 June, they first responded in May: counted in May's weeks, not as a spike."""
    tenant = actors.tenant_a
    for day in (19, 26, 27):
        made = inquiry(tenant, at(2, 6), title="VP", industry="retail")
        ActivityFactory(tenant=tenant, inquiry=made, kind="webinar", occurred_at=at(day))
    # Arrived long before the window (imported inside it): not counted.
    old = inquiry(tenant, at(2, 6), title="VP", industry="retail")
    ActivityFactory(tenant=tenant, inquiry=old, kind="webinar", occurred_at=at(1, 1))
    draft, active = definitions(tenant)
    with tenant_context(tenant):
        result = what_if(draft=draft, active=active, as_of=AS_OF, days=21)
    assert result.draft_mqls == [0, 1, 2, 0]


def test_what_if_lists_the_inquiries_that_change_side(window):
    draft, active = definitions(window)
    with tenant_context(window):
        result = what_if(draft=draft, active=active, as_of=AS_OF, days=21)
    # Draft only: the open lead, the imported won and lost (VPs in retail with a webinar);
    # active only: the engineer and the analyst in healthcare.
    assert result.changed_total == 5
    assert sorted(row.draft_passes for row in result.changed) == [False, False, True, True, True]
    assert all(row.name for row in result.changed)
