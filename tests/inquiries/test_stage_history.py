"""Every stage move writes one history row (StageChange); the nurture hooks run on commit.

Scoring, triage and merging move inquiries through the stage mover; the
import's moves are tested with the import (tests/inquiries/test_imports.py),
rescoring's with rescoring (tests/inquiries/test_rescoring.py).
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from inquiries.models import DisqualifyReason, Inquiry
from inquiries.scoring import ScoreResult
from inquiries.selectors.inbox import Selection
from inquiries.services import triage
from inquiries.services.capture import capture_inquiry, record_activity
from inquiries.services.merging import merge_inquiries
from inquiries.services.scoring import score_reason
from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from tests.factories import InquiryFactory, LeadDefinitionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """What reached the inquiry's nurture stage hooks; the test's hook is removed after."""
    calls: list[stages.Moves] = []
    stages.on_move("inquiry", "nurture", calls.append)
    yield calls
    stages._hooks[("inquiry", "nurture")].remove(calls.append)


@pytest.fixture
def scope(actors):
    with tenant_context(actors.tenant_a):
        yield actors.teammate.principal


@pytest.fixture
def reason(actors):
    with tenant_context(actors.tenant_a):
        return DisqualifyReason.objects.create(tenant=actors.tenant_a, label="Student")


def history() -> list[tuple]:
    return sorted(StageChange.objects.values_list("object_id", "from_stage", "to_stage", "reason"))


def capture(by, **profile):
    return capture_inquiry(profile=profile, source="web_form", by=by).inquiry


# --- Scoring -------------------------------------------------------------------------


def test_crossing_the_threshold_writes_one_history_row_with_the_score(actors, scope):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=20)
    inquiry = capture(scope, email="j@example.com", title="VP Operations")
    assert inquiry.stage == "mql"
    assert history() == [
        (inquiry.pk, "inquiry", "mql", f"score {inquiry.score} ≥ 20"),
    ]
    assert StageChange.objects.get().actor_id == actors.teammate.user.pk


def test_an_activity_that_promotes_a_nurtured_inquiry_writes_one_history_row(actors, scope):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=10, fit_rules=[])
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="nurture")
    record_activity(inquiry=inquiry, kind="webinar", by=scope)
    inquiry.refresh_from_db()
    assert inquiry.stage == "mql"
    assert [row[:3] for row in history()] == [(inquiry.pk, "nurture", "mql")]


def test_falling_below_the_threshold_moves_to_nurture_and_the_hook_runs_after_commit(
    actors, scope, heard, django_capture_on_commit_callbacks
):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=500)
    with django_capture_on_commit_callbacks(execute=True):
        inquiry = capture(scope, email="k@example.com")
        assert heard == []
    assert history() == [(inquiry.pk, "inquiry", "nurture", f"score {inquiry.score} < 500")]
    assert [(m.ids, m.arrived, m.by) for m in heard] == [((inquiry.pk,), False, scope)]


def test_a_rolled_back_move_to_nurture_leaves_no_history_and_calls_no_hook(
    actors, scope, heard, django_capture_on_commit_callbacks
):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=500)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        capture(scope, email="k@example.com")
        transaction.set_rollback(True)
    assert history() == []
    assert not Inquiry.objects.exists()
    assert heard == []


def test_a_score_that_keeps_the_stage_writes_no_history(actors, scope):
    LeadDefinitionFactory(tenant=actors.tenant_a, mql_threshold=500)
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="nurture")
    record_activity(inquiry=inquiry, kind="webinar", by=scope)
    assert history() == []


# --- Triage --------------------------------------------------------------------------


def disqualify(ids, reason, by) -> triage.BulkResult:
    return triage.disqualify_inquiries(selection=Selection(ids=tuple(ids)), reason=reason, by=by)


def test_disqualify_writes_one_history_row_per_inquiry_moved_with_the_reason(actors, scope, reason):
    mql = InquiryFactory(tenant=actors.tenant_a, stage="mql")
    new = InquiryFactory(tenant=actors.tenant_a, stage="inquiry")
    lead = InquiryFactory(tenant=actors.tenant_a, stage="lead")
    again = InquiryFactory(tenant=actors.tenant_a, stage="disqualified", disqualified_reason="Old")
    result = disqualify([mql.pk, new.pk, lead.pk, again.pk], reason, scope)
    assert (result.matched, result.changed) == (4, 3)
    assert history() == sorted(
        [(mql.pk, "mql", "disqualified", "Student"), (new.pk, "inquiry", "disqualified", "Student")]
    )
    reasons = dict(Inquiry.objects.values_list("pk", "disqualified_reason"))
    assert (reasons[mql.pk], reasons[again.pk], reasons[lead.pk]) == ("Student", "Student", "")


def queries_to_disqualify(actors, reason, by, count: int) -> int:
    ids = [InquiryFactory(tenant=actors.tenant_a, stage="mql").pk for _ in range(count)]
    with CaptureQueriesContext(connection) as queries:
        result = disqualify(ids, reason, by)
    assert result.changed == count
    return len(queries)


def test_disqualifying_200_takes_as_many_queries_as_disqualifying_1(actors, scope, reason):
    one = queries_to_disqualify(actors, reason, scope, 1)
    many = queries_to_disqualify(actors, reason, scope, 200)
    assert many == one
    assert StageChange.objects.filter(to_stage="disqualified").count() == 201


def queries_to_nurture(actors, by, count: int) -> int:
    ids = [InquiryFactory(tenant=actors.tenant_a, stage="mql").pk for _ in range(count)]
    with CaptureQueriesContext(connection) as queries:
        result = triage.nurture_inquiries(selection=Selection(ids=tuple(ids)), by=by)
    assert result.changed == count
    return len(queries)


def test_nurturing_200_takes_as_many_queries_as_nurturing_1(actors, scope):
    one = queries_to_nurture(actors, scope, 1)
    many = queries_to_nurture(actors, scope, 200)
    assert many == one
    assert StageChange.objects.filter(to_stage="nurture").count() == 201


def test_nurture_writes_one_history_row_per_inquiry_moved_and_runs_the_hook_on_commit(
    actors, scope, heard, django_capture_on_commit_callbacks
):
    moved = [InquiryFactory(tenant=actors.tenant_a, stage=s) for s in ("inquiry", "mql")]
    stays = [InquiryFactory(tenant=actors.tenant_a, stage=s) for s in ("lead", "disqualified")]
    ids = [i.pk for i in moved + stays]
    with django_capture_on_commit_callbacks(execute=True):
        result = triage.nurture_inquiries(selection=Selection(ids=tuple(ids)), by=scope)
        assert heard == []
    assert (result.matched, result.changed) == (4, 2)
    assert [row[:3] for row in history()] == sorted((i.pk, i.stage, "nurture") for i in moved)
    assert [m.ids for m in heard] == [tuple(sorted(i.pk for i in moved))]


# --- Merging -------------------------------------------------------------------------


def test_merging_in_a_disqualified_duplicate_moves_the_survivor_with_one_history_row(actors, scope):
    survivor = InquiryFactory(tenant=actors.tenant_a, stage="mql")
    other = InquiryFactory(
        tenant=actors.tenant_a, stage="disqualified", disqualified_reason="Competitor"
    )
    merged = merge_inquiries(survivor=survivor, others=[other], by=scope)
    stored = Inquiry.objects.get(pk=survivor.pk)
    assert (merged.stage, stored.stage, stored.disqualified_reason) == (
        "disqualified",
        "disqualified",
        "Competitor",
    )
    assert history() == [(survivor.pk, "mql", "disqualified", f"merged with #{other.pk}")]


def test_a_merge_that_keeps_the_survivors_stage_writes_no_history(actors, scope):
    survivor = InquiryFactory(tenant=actors.tenant_a, stage="mql")
    other = InquiryFactory(tenant=actors.tenant_a, stage="nurture")
    merge_inquiries(survivor=survivor, others=[other], by=scope)
    assert Inquiry.objects.get(pk=survivor.pk).stage == "mql"
    assert history() == []


@pytest.mark.parametrize(
    ("total", "qualifies", "reason"),
    [
        (72, True, "score 72 ≥ 60"),
        (40, False, "score 40 < 60"),
        (72, False, "score 72 ≥ 60, a must-have qualifier not met"),
    ],
)
def test_the_history_says_why_a_score_moved_an_inquiry(total, qualifies, reason):
    result = ScoreResult(
        fit=total, engagement=0, total=total, breakdown=[], qualifies=qualifies, level="mql"
    )
    assert score_reason(result, 60) == reason
