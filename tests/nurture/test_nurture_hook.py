"""Nurture hears of inquiries reaching nurture through the mover's hook, not from inquiries."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from inquiries.models import Stage
from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from nurture import services
from tests.factories import InquiryFactory

pytestmark = pytest.mark.django_db


def heard(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "nurture.services"]


def test_nurture_registers_its_hook_for_the_inquirys_nurture_stage():
    assert services.inquiries_reached_nurture in stages._hooks[("inquiry", "nurture")]
    assert all(
        services.inquiries_reached_nurture not in hooks
        for (machine, stage), hooks in stages._hooks.items()
        if (machine, stage) != ("inquiry", "nurture")
    )


def test_inquiries_moved_to_nurture_reach_nurture_after_commit(
    actors, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG, logger="nurture.services")
    ids = [InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL).pk for _ in range(2)]
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        stages.move_many("inquiry", ids, Stage.NURTURE, by=actors.owner.principal)
        assert heard(caplog) == []
    assert heard(caplog) == ["2 inquiries reached nurture (moved), 2 enrolled"]
    assert caplog.records[-1].inquiry_ids == sorted(ids)


def test_inquiries_created_in_nurture_reach_nurture_too(
    actors, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG, logger="nurture.services")
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.NURTURE)
    with tenant_context(actors.tenant_a), django_capture_on_commit_callbacks(execute=True):
        stages.arrived("inquiry", [inquiry.pk], Stage.NURTURE)
    assert heard(caplog) == ["1 inquiries reached nurture (created there), 1 enrolled"]


def test_a_rolled_back_move_never_reaches_nurture(
    actors, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG, logger="nurture.services")
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL)
    with (
        tenant_context(actors.tenant_a),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        stages.move(inquiry, Stage.NURTURE, by=actors.owner.principal)
        transaction.set_rollback(True)
    assert heard(caplog) == []
