"""Held and no-show: only once the meeting started, once, and a no-show closes the lead."""

import pytest

from inquiries.models import Inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from leads.models import Appointment, Lead
from leads.services.appointments import cancel, mark_held, mark_no_show
from tests.leads.conftest import start_meeting


def test_marking_held_records_when(actors, booked_lead, rep_a):
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_held(appointment=appointment, by=rep_a.principal)
        appointment.refresh_from_db()
        lead = Lead.objects.get(pk=booked_lead.pk)
    assert appointment.held_at is not None
    assert lead.is_open  # a held meeting leaves the lead with its owner


def test_a_no_show_closes_the_lead_as_no_show(actors, booked_lead, rep_a):
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_no_show(appointment=appointment, by=rep_a.principal)
        lead = Lead.objects.get(pk=booked_lead.pk)
        appointment.refresh_from_db()
    assert lead.stage == "no_show"
    assert lead.closed_at is not None
    assert appointment.no_show_at is not None and appointment.closed_at is not None


def test_a_no_show_returns_the_inquiry_to_the_qualifiers_queue(actors, booked_lead, rep_a):
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_no_show(appointment=appointment, by=rep_a.principal)
        inquiry = Inquiry.objects.get(pk=booked_lead.inquiry_id)
    assert inquiry.stage == "mql"


def test_a_no_show_writes_both_stage_changes(actors, booked_lead, rep_a):
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_no_show(appointment=appointment, by=rep_a.principal)
        moves = set(
            StageChange.objects.filter(to_stage__in=["no_show", "mql"]).values_list(
                "machine", "object_id", "from_stage", "to_stage"
            )
        )
    assert moves == {
        ("lead", booked_lead.pk, "awaiting_acceptance", "no_show"),
        ("inquiry", booked_lead.inquiry_id, "lead", "mql"),
    }


@pytest.mark.parametrize("mark", [mark_held, mark_no_show])
def test_a_meeting_not_started_yet_cannot_be_marked(actors, booked_lead, rep_a, mark):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        mark(appointment=booked_lead.appointment, by=rep_a.principal)
    assert (refused.value.code, refused.value.conflict) == ("not_started", False)
    with tenant_context(actors.tenant_a):
        appointment = Appointment.objects.get(pk=booked_lead.appointment_id)
    assert appointment.held_at is None and appointment.no_show_at is None


def test_a_meeting_is_not_marked_held_twice(actors, booked_lead, rep_a):
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_held(appointment=appointment, by=rep_a.principal)
        with pytest.raises(RuleViolation) as refused:
            mark_held(appointment=appointment, by=rep_a.principal)
    assert (refused.value.code, refused.value.conflict) == ("already_marked", True)


def test_a_held_meeting_cannot_become_a_no_show(actors, booked_lead, rep_a):
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_held(appointment=appointment, by=rep_a.principal)
        with pytest.raises(RuleViolation) as refused:
            mark_no_show(appointment=appointment, by=rep_a.principal)
        lead = Lead.objects.get(pk=booked_lead.pk)
    assert refused.value.conflict
    assert lead.is_open


def test_a_cancelled_meeting_cannot_be_marked(actors, booked_lead, rep_a):
    with tenant_context(actors.tenant_a):
        cancel(appointment=booked_lead.appointment, reason="buyer ill", by=rep_a.principal)
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        mark_no_show(appointment=appointment, by=rep_a.principal)
    assert (refused.value.code, refused.value.conflict) == ("cancelled", True)


def test_the_meeting_of_a_closed_lead_cannot_be_marked(actors, booked_lead, rep_a):
    from leads.services.closing import close_lead

    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        close_lead(lead=booked_lead, stage="lost", lost_reason="buyer declined", by=rep_a.principal)
        with pytest.raises(RuleViolation) as refused:
            mark_held(appointment=appointment, by=rep_a.principal)
    assert (refused.value.code, refused.value.conflict) == ("lead_closed", True)


def test_a_no_show_withdraws_the_pending_reminder(actors, booked_lead, rep_a):
    from leadflow.outbox.models import OutboxMessage

    with tenant_context(actors.tenant_a):
        assert OutboxMessage.objects.filter(key__contains=":reminder:").exists()
    appointment = start_meeting(booked_lead)
    with tenant_context(actors.tenant_a):
        mark_no_show(appointment=appointment, by=rep_a.principal)
        assert not OutboxMessage.objects.filter(key__contains=":reminder:").exists()
