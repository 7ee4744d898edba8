"""The stage mover: conditional moves, one history row per move, hooks after commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from inquiries.models import Inquiry, Stage
from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from tests.factories import InquiryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Moves the hooks were called with; the hooks are removed again afterwards."""
    calls: list[stages.Moves] = []

    def hook(moves: stages.Moves) -> None:
        calls.append(moves)

    stages.on_move("inquiry", "nurture", hook)
    yield calls
    stages._hooks[("inquiry", "nurture")].remove(hook)


def test_a_move_changes_the_stage_and_writes_one_history_row(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL)
    by = actors.teammate.principal
    with tenant_context(actors.tenant_a):
        assert stages.move(inquiry, Stage.NURTURE, by=by, reason="not ready") is True
        stored = Inquiry.objects.get(pk=inquiry.pk)
        history = list(StageChange.objects.filter(object_id=inquiry.pk))
    assert inquiry.stage == stored.stage == Stage.NURTURE
    assert [(h.machine, h.from_stage, h.to_stage, h.reason) for h in history] == [
        ("inquiry", "mql", "nurture", "not ready")
    ]
    assert history[0].actor_id == actors.teammate.user.pk
    assert history[0].actor_label == actors.teammate.user.email


def test_a_move_the_table_does_not_allow_changes_nothing(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.LEAD)
    with tenant_context(actors.tenant_a):
        # A lead goes back to nurture or the qualifier's queue, never straight to disqualified.
        assert stages.move(inquiry, Stage.DISQUALIFIED, by=actors.owner.principal) is False
        assert Inquiry.objects.get(pk=inquiry.pk).stage == Stage.LEAD
        assert not StageChange.objects.exists()


def test_an_unknown_stage_is_refused(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a), pytest.raises(stages.StageMoveRefused):
        stages.move(inquiry, "somewhere", by=actors.owner.principal)


def test_many_move_in_one_call_each_with_its_own_history_row(actors):
    with tenant_context(actors.tenant_a):
        mqls = [InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL) for _ in range(3)]
        lead = InquiryFactory(tenant=actors.tenant_a, stage=Stage.LEAD)
        ids = [i.pk for i in mqls] + [lead.pk]
        moved = stages.move_many("inquiry", ids, Stage.DISQUALIFIED, by=actors.owner.principal)
        rows = sorted(StageChange.objects.values_list("object_id", "from_stage", "to_stage"))
        assert Inquiry.objects.get(pk=lead.pk).stage == Stage.LEAD
    assert moved == 3
    assert rows == sorted((i.pk, "mql", "disqualified") for i in mqls)


def test_also_sets_other_fields_in_the_same_write(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL)
    with tenant_context(actors.tenant_a):
        stages.move(
            inquiry,
            Stage.DISQUALIFIED,
            by=actors.owner.principal,
            also={"disqualified_reason": "Student"},
        )
        assert Inquiry.objects.get(pk=inquiry.pk).disqualified_reason == "Student"


def test_only_from_narrows_the_stages_taken(actors):
    with tenant_context(actors.tenant_a):
        a = InquiryFactory(tenant=actors.tenant_a, stage=Stage.DISQUALIFIED)
        b = InquiryFactory(tenant=actors.tenant_a, stage=Stage.NURTURE)
        moved = stages.move_many(
            "inquiry", [a.pk, b.pk], Stage.MQL, by=actors.owner.principal, only_from=["nurture"]
        )
        assert moved == 1
        assert Inquiry.objects.get(pk=a.pk).stage == Stage.DISQUALIFIED


def test_another_tenants_records_are_not_moved(actors):
    theirs = InquiryFactory(tenant=actors.tenant_b, stage=Stage.MQL)
    with tenant_context(actors.tenant_a):
        moved = stages.move_many("inquiry", [theirs.pk], Stage.NURTURE, by=actors.owner.principal)
    with tenant_context(actors.tenant_b):
        assert Inquiry.objects.get(pk=theirs.pk).stage == Stage.MQL
        assert not StageChange.objects.exists()
    assert moved == 0


def test_hooks_run_after_commit_with_what_moved(actors, heard, django_capture_on_commit_callbacks):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL)
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        stages.move(inquiry, Stage.NURTURE, by=actors.owner.principal, reason="r")
        assert heard == []
    assert [(m.machine, m.to, m.ids, dict(m.from_stages), m.arrived) for m in heard] == [
        ("inquiry", "nurture", (inquiry.pk,), {inquiry.pk: "mql"}, False)
    ]


def test_a_rolled_back_move_calls_no_hook_and_leaves_no_history(
    actors, heard, django_capture_on_commit_callbacks
):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL)
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            stages.move(inquiry, Stage.NURTURE, by=actors.owner.principal)
            transaction.set_rollback(True)
        assert not StageChange.objects.exists()
    assert heard == []


def test_arriving_in_a_stage_runs_its_hooks_without_history(
    actors, heard, django_capture_on_commit_callbacks
):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.NURTURE)
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        stages.arrived("inquiry", [inquiry.pk], Stage.NURTURE)
        assert not StageChange.objects.exists()
    assert [(m.ids, m.arrived) for m in heard] == [((inquiry.pk,), True)]


def test_a_move_to_another_stage_does_not_call_the_hook(
    actors, heard, django_capture_on_commit_callbacks
):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.NURTURE)
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        stages.move(inquiry, Stage.MQL, by=actors.owner.principal)
    assert heard == []


def test_every_inquiry_stage_has_its_row_in_the_table():
    machine = stages.machine("inquiry")
    assert machine.stages == set(Stage.values)
    assert set(machine.transitions) == set(Stage.values)
