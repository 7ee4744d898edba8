"""The scoring arithmetic: fit, decaying engagement with caps, threshold, levels, validation."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from inquiries import scoring
from inquiries.definition_template import (
    TEMPLATE_ENGAGEMENT_RULES,
    TEMPLATE_FIT_RULES,
    TEMPLATE_THRESHOLD,
)
from inquiries.models import ActivityKind
from inquiries.services.capture import record_activity
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory, LeadDefinitionFactory

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def rules(fit=(), engagement=(), qualifiers=(), threshold=50, custom=None):
    return scoring.parse_rules(
        fit_rules=list(fit),
        engagement_rules=list(engagement),
        qualifiers=list(qualifiers),
        threshold=threshold,
        custom_fields=custom or {},
        activity_kinds=ActivityKind.values,
    )


def test_the_template_is_valid_and_scores_nothing_for_budget_or_authority():
    parsed = rules(TEMPLATE_FIT_RULES, TEMPLATE_ENGAGEMENT_RULES, threshold=TEMPLATE_THRESHOLD)
    assert {r.field for r in parsed.fit}.isdisjoint({"budget", "authority", "ready_to_buy"})


def test_fit_points_add_up_with_their_breakdown():
    parsed = rules(
        [
            {"field": "title", "op": "contains", "value": "VP", "points": 20, "label": "VP"},
            {
                "field": "company_size",
                "op": "range",
                "value": [50, 500],
                "points": 10,
                "label": "Mid",
            },
            {"field": "country", "op": "in", "value": ["de", "at"], "points": 5, "label": "DACH"},
        ]
    )
    result = scoring.score(
        {"title": "vp sales", "company_size": 200, "country": "DE"}, [], parsed, as_of=NOW
    )
    assert (result.fit, result.total) == (35, 35)
    assert [item["rule"] for item in result.breakdown] == ["VP", "Mid", "DACH"]


def test_engagement_halves_after_one_half_life():
    parsed = rules(
        engagement=[{"activity": "webinar", "points": 10, "cap": 100, "half_life_days": 30}]
    )
    fresh = scoring.score({}, [("webinar", NOW)], parsed, as_of=NOW)
    month_old = scoring.score({}, [("webinar", NOW - timedelta(days=30))], parsed, as_of=NOW)
    assert (fresh.engagement, month_old.engagement) == (10, 5)


def test_engagement_is_capped():
    parsed = rules(engagement=[{"activity": "page_visit", "points": 3, "cap": 10}])
    result = scoring.score({}, [("page_visit", NOW)] * 8, parsed, as_of=NOW)
    assert result.engagement == 10


def test_must_have_qualifiers_gate_the_mql():
    parsed = rules(
        [{"field": "title", "op": "contains", "value": "vp", "points": 60}],
        qualifiers=[{"field": "country", "op": "equals", "value": "US"}],
    )
    assert scoring.score(
        {"title": "VP", "country": "US"}, [("form_fill", NOW)], parsed, as_of=NOW
    ).qualifies
    assert not scoring.score(
        {"title": "VP", "country": "FR"}, [("form_fill", NOW)], parsed, as_of=NOW
    ).qualifies


def test_custom_fields_can_be_scored():
    parsed = rules(
        [{"field": "custom.has_dock", "op": "equals", "value": True, "points": 7}],
        custom={"has_dock": "boolean"},
    )
    assert scoring.score({"custom.has_dock": True}, [], parsed, as_of=NOW).fit == 7


@pytest.mark.parametrize(
    ("profile", "activities", "level"),
    [
        ({}, [], "visitor"),
        ({}, [("page_visit", NOW)], "visitor"),
        ({}, [("download", NOW)], "conversion"),
        ({"title": "VP"}, [("download", NOW)] * 2, "investigator"),
        ({"title": "analyst"}, [("webinar", NOW)] * 3, "influencer"),
        ({}, [("download", NOW)] * 3, "researcher"),
        ({"title": "VP", "country": "US"}, [("webinar", NOW)] * 3, "mql"),
    ],
)
def test_behaviour_levels(profile, activities, level):
    parsed = rules(
        [
            {"field": "title", "op": "contains", "value": "vp", "points": 30},
            {"field": "country", "op": "equals", "value": "US", "points": 10},
        ],
        [
            {"activity": "webinar", "points": 10, "cap": 30},
            {"activity": "download", "points": 1, "cap": 5},
        ],
        threshold=60,
    )
    assert scoring.score(profile, activities, parsed, as_of=NOW).level == level


@pytest.mark.parametrize(
    ("fit", "path"),
    [
        ([{"field": "shoe_size", "op": "equals", "value": 9, "points": 1}], "fit_rules[0].field"),
        ([{"field": "title", "op": "like", "value": "x", "points": 1}], "fit_rules[0].op"),
        ([{"field": "title", "op": "range", "value": [1, 2], "points": 1}], "fit_rules[0].op"),
        (
            [{"field": "company_size", "op": "range", "value": [9, 1], "points": 1}],
            "fit_rules[0].value",
        ),
        (
            [{"field": "title", "op": "equals", "value": "x", "points": "ten"}],
            "fit_rules[0].points",
        ),
    ],
)
def test_invalid_rules_name_their_path(fit, path):
    with pytest.raises(RuleViolation) as error:
        rules(fit)
    assert error.value.field == path


def test_every_stored_score_carries_its_version_and_breakdown(actors, system_a):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a, version=7)
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        record_activity(inquiry=inquiry, kind="download", by=system_a)
        inquiry.refresh_from_db()
    assert inquiry.definition_id == definition.pk
    assert inquiry.score_breakdown
    assert inquiry.score == sum(item["points"] for item in inquiry.score_breakdown)


def test_engagement_decays_as_the_clock_moves(actors, system_a):
    LeadDefinitionFactory(
        tenant=actors.tenant_a,
        fit_rules=[],
        mql_threshold=500,
        engagement_rules=[{"activity": "webinar", "points": 40, "cap": 40, "half_life_days": 10}],
    )
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    with time_machine.travel(NOW, tick=False), tenant_context(actors.tenant_a):
        record_activity(inquiry=inquiry, kind="webinar", by=system_a)
    with time_machine.travel(NOW + timedelta(days=20), tick=False), tenant_context(actors.tenant_a):
        record_activity(inquiry=inquiry, kind="page_visit", by=system_a)
        inquiry.refresh_from_db()
    assert inquiry.engagement_score == 10  # 40 × ½ × ½ after two half-lives
