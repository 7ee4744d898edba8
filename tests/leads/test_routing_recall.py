"""Recall: a lead not accepted in time, or left without a touch or update, goes to someone else.

Both owners are told, the team's managers get one alert, the timeline says
why, and a rerun of the 15-minute scan changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import Assignment, AssignmentKind, Lead, LeadSettings
from leads.selectors.timeline import person_timeline
from leads.services.booking import book_appointment
from leads.services.lifecycle import accept_lead
from leads.services.routing import recall_leads
from tests.conftest import make_actor
from tests.factories import (
    InquiryFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
    TouchFactory,
)

MONDAY = datetime(2027, 1, 4, 10, tzinfo=UTC)
THURSDAY = datetime(2027, 1, 7, 10, tzinfo=UTC)  # past Monday's 2-business-day window


@pytest.fixture
def central(actors):
    team = TeamFactory(tenant=actors.tenant_a, name="Central")
    RoutingRuleFactory(tenant=actors.tenant_a, name="DACH", team=team, countries=["DE"])
    return team


def member(actors, team, name, *, role=Role.REP, **membership):
    actor = make_actor(actors.tenant_a, role, user__full_name=name, **membership)
    TeamMemberFactory(tenant=actors.tenant_a, team=team, membership=actor.membership)
    return actor


@pytest.fixture
def sam(actors, central):
    return member(actors, central, "Sam Slow")


@pytest.fixture
def robin(actors, central):
    return member(actors, central, "Robin Rep")


@pytest.fixture
def team_manager(actors, central):
    return member(actors, central, "Mia Teamlead", role=Role.MANAGER)


def book(actors, *, rep=None, meeting_in=timedelta(days=10), at=MONDAY, **fields) -> Lead:
    inquiry = InquiryFactory(
        tenant=actors.tenant_a, stage="mql", country="DE", company="Freight Co", **fields
    )
    with time_machine.travel(at, tick=False), tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=at + meeting_in,
            rep=rep.user if rep else None,
            by=actors.teammate.principal,
        )


def recall(actors, at):
    with time_machine.travel(at, tick=False), tenant_context(actors.tenant_a):
        return recall_leads()


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def messages(actors, prefix: str) -> list[OutboxMessage]:
    with tenant_context(actors.tenant_a):
        return list(OutboxMessage.objects.filter(key__startswith=prefix).order_by("id"))


def last_assignment(actors, lead) -> Assignment:
    with tenant_context(actors.tenant_a):
        return Assignment.objects.filter(lead_id=lead.pk).order_by("-id").first()


# --- Not accepted in time ---------------------------------------------------------------


def test_a_lead_not_accepted_in_time_is_breached_and_rerouted(actors, sam, robin):
    lead = book(actors, rep=sam)
    done = recall(actors, THURSDAY)
    assert done.breached == [lead.pk] and done.unaccepted == [lead.pk]
    after = stored(actors, lead)
    assert after.rep_id == robin.user.pk
    assert after.breached_at is None and after.acceptance_due_at > THURSDAY
    record = last_assignment(actors, lead)
    assert (record.kind, record.previous_rep_id) == (
        AssignmentKind.RECALL_UNACCEPTED,
        sam.user.pk,
    )
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(
            action="lead.acceptance_breached", object_id=str(lead.pk)
        ).exists()


def test_a_lead_still_inside_its_window_stays(actors, sam, robin):
    lead = book(actors, rep=sam)
    assert recall(actors, MONDAY + timedelta(days=1)).unaccepted == []
    assert stored(actors, lead).rep_id == sam.user.pk


def test_both_owners_are_told_of_the_recall(actors, sam, robin):
    lead = book(actors, rep=sam)
    recall(actors, THURSDAY)
    [old] = messages(actors, "lead-recalled:")
    assert old.recipient == sam.user.email
    assert "recalled from you (not accepted in time)" in old.payload["text"]
    assert f"/leads/{lead.pk}/" in old.payload["text"]
    [new] = messages(actors, "lead-assigned:")
    assert new.recipient == robin.user.email


def test_the_meeting_moves_to_the_new_owners_calendar(actors, sam, robin):
    lead = book(actors, rep=sam)
    recall(actors, THURSDAY)
    invites = messages(actors, f"appointment:{lead.appointment_id}:owner:")
    assert {(m.key.split(":")[4], m.recipient) for m in invites} == {
        ("cancel", sam.user.email),
        ("request", robin.user.email),
    }


def test_the_teams_managers_get_one_alert_and_other_managers_none(actors, sam, robin, team_manager):
    first = book(actors, rep=sam)
    second = book(actors, rep=sam)
    recall(actors, THURSDAY)
    [alert] = messages(actors, "lead-routing-alert:")
    assert alert.recipient == team_manager.user.email  # not the tenant's admin
    text = alert.payload["text"]
    assert f"/leads/{first.pk}/" in text and f"/leads/{second.pk}/" in text
    assert "recalled from Sam Slow (not accepted in time) → Robin Rep" in text
    assert alert.payload["subject"] == "Tenant A: 2 leads recalled"


def test_a_team_without_managers_alerts_every_manager(actors, sam, robin):
    book(actors, rep=sam)
    recall(actors, THURSDAY)
    assert [m.recipient for m in messages(actors, "lead-routing-alert:")] == [
        actors.owner.user.email
    ]


def test_a_recall_with_nobody_else_leaves_the_lead_without_an_owner(actors, sam):
    lead = book(actors, rep=sam)
    recall(actors, THURSDAY)
    after = stored(actors, lead)
    assert (after.rep_id, after.partner_id, after.acceptance_due_at) == (None, None, None)
    assert "NOBODY" in messages(actors, "lead-routing-alert:")[0].payload["text"]


def test_a_second_run_changes_nothing(actors, sam, robin, team_manager):
    lead = book(actors, rep=sam)
    recall(actors, THURSDAY)
    with tenant_context(actors.tenant_a):
        sent = OutboxMessage.objects.count()
        records = Assignment.objects.count()
    again = recall(actors, THURSDAY + timedelta(minutes=15))
    assert (again.breached, again.unaccepted, again.idle) == ([], [], [])
    with tenant_context(actors.tenant_a):
        assert OutboxMessage.objects.count() == sent
        assert Assignment.objects.count() == records
    assert stored(actors, lead).rep_id == robin.user.pk


# --- Idle -----------------------------------------------------------------------------


def accepted(actors, rep, **kwargs) -> Lead:
    lead = book(actors, rep=rep, meeting_in=timedelta(hours=2), **kwargs)
    with (
        time_machine.travel(MONDAY + timedelta(hours=3), tick=False),
        tenant_context(actors.tenant_a),
    ):
        accept_lead(lead=lead, by=rep.principal)
    return lead


def test_an_accepted_lead_idle_for_the_tenants_days_is_recalled(actors, sam, robin):
    lead = accepted(actors, sam)
    done = recall(actors, MONDAY + timedelta(days=15))  # default: 14 days
    assert done.idle == [lead.pk]
    after = stored(actors, lead)
    assert (after.rep_id, after.stage) == (robin.user.pk, "accepted")
    assert last_assignment(actors, lead).kind == AssignmentKind.RECALL_IDLE
    [old] = messages(actors, "lead-recalled:")
    assert "(no touch or update)" in old.payload["text"]


def test_a_lead_touched_within_the_days_is_not_recalled(actors, sam, robin):
    lead = accepted(actors, sam)
    TouchFactory(tenant=actors.tenant_a, lead=lead, user=sam.user, at=MONDAY + timedelta(days=10))
    assert recall(actors, MONDAY + timedelta(days=15)).idle == []
    assert stored(actors, lead).rep_id == sam.user.pk


def test_a_lead_idle_fewer_days_than_the_setting_stays(actors, sam, robin):
    lead = accepted(actors, sam)
    assert recall(actors, MONDAY + timedelta(days=13)).idle == []
    assert stored(actors, lead).rep_id == sam.user.pk


def test_recall_after_zero_days_is_off(actors, sam, robin):
    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(tenant=actors.tenant_a, recall_after_days=0)
    lead = accepted(actors, sam)
    assert recall(actors, MONDAY + timedelta(days=90)).idle == []
    assert stored(actors, lead).rep_id == sam.user.pk


# --- Set-based, the task, the timeline ----------------------------------------------


@pytest.mark.parametrize("count", [2, 8])
def test_a_recall_takes_the_same_queries_for_2_and_8_leads(
    actors, sam, robin, team_manager, count, django_assert_max_num_queries
):
    for _ in range(count):
        book(actors, rep=sam, meeting_in=timedelta(hours=1))  # meetings over: no invites
    # Fixed: the breach scan, the reads and locks, one UPDATE/INSERT each, three emails.
    with django_assert_max_num_queries(45):
        done = recall(actors, THURSDAY)
    assert len(done.unaccepted) == count


def test_the_beats_task_recalls_each_tenant(actors, sam, robin):
    from leads.tasks import recall_leads_of_tenant, scan_acceptance_breaches_of_tenant

    book(actors, rep=sam)
    with time_machine.travel(THURSDAY, tick=False):
        assert scan_acceptance_breaches_of_tenant(tenant_id=actors.tenant_a.pk) == 1
        assert recall_leads_of_tenant(tenant_id=actors.tenant_a.pk) == 0


def test_the_timeline_says_who_got_the_lead_and_why(actors, sam, robin):
    lead = book(actors)
    recall(actors, THURSDAY)
    with tenant_context(actors.tenant_a):
        entries = person_timeline(inquiry=lead.inquiry, principal=actors.owner.principal)
    texts = [e.text for e in entries if e.kind == "assignment"]
    assert texts == [
        "Recalled from Sam Slow: not accepted in time → Robin Rep",
        "Routed to Sam Slow — rule DACH, team Central, turn 1",
    ]
    recalled = next(e for e in entries if e.kind == "assignment")
    assert recalled.detail == "rule DACH, team Central, turn 2; skipped Sam Slow (declined)"


def test_another_reps_timeline_shows_no_assignments_of_leads_they_cannot_see(actors, sam, robin):
    lead = book(actors)
    outsider = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a):
        entries = person_timeline(inquiry=lead.inquiry, principal=outsider.principal)
    assert not [e for e in entries if e.kind == "assignment"]


def test_another_tenants_recall_leaves_this_tenants_leads(actors, sam, robin):
    lead = book(actors, rep=sam)
    with time_machine.travel(THURSDAY, tick=False), tenant_context(actors.tenant_b):
        assert recall_leads().unaccepted == []
    assert stored(actors, lead).rep_id == sam.user.pk


def test_the_lead_page_shows_why_its_owner_got_it(client, actors, sam, robin):
    lead = book(actors)
    client.force_login(sam.user)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Routed to Sam Slow — rule DACH, team Central, turn 1" in page
