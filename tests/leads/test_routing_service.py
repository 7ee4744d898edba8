"""The router wired in: booking routes, cannot_serve reroutes, and what owners are told.

``route_leads`` stores the router's decision (lead, appointment, Assignment,
rotation) and writes the assignment emails to the outbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, PartnerStatus, Role
from leadflow.tenancy.principal import Principal
from leads.models import Appointment, Assignment, AssignmentKind, Lead, LeadSettings, Team
from leads.services.booking import book_appointment
from leads.services.lifecycle import accept_lead, reject_lead
from leads.services.routing import route_leads
from tests.conftest import make_actor
from tests.factories import (
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
)
from tests.leads.conftest import future

NOTE = "Internal: CFO is sceptical, mention the discount."


@pytest.fixture
def central(actors):
    team = TeamFactory(tenant=actors.tenant_a, name="Central")
    RoutingRuleFactory(tenant=actors.tenant_a, name="DACH", team=team, countries=["DE", "AT"])
    return team


def member(actors, team, name, *, role=Role.REP, **membership):
    actor = make_actor(actors.tenant_a, role, user__full_name=name, **membership)
    TeamMemberFactory(tenant=actors.tenant_a, team=team, membership=actor.membership)
    return actor


@pytest.fixture
def sam(actors, central):
    return member(actors, central, "Sam Central", user__timezone="America/New_York")


@pytest.fixture
def robin(actors, central):
    return member(actors, central, "Robin Rep")


def book(actors, *, rep=None, notes="", days=3, **inquiry_fields) -> Lead:
    fields = {"country": "DE", "company": "Freight Co", "interest": "Fleet telematics"}
    fields.update(inquiry_fields)
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql", **fields)
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=future(days=days),
            rep=rep.user if rep else None,
            notes=notes,
            by=actors.teammate.principal,
        )


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def assignments(actors, lead) -> list[Assignment]:
    with tenant_context(actors.tenant_a):
        return list(Assignment.objects.filter(lead_id=lead.pk).order_by("id"))


def outbox(actors, prefix: str) -> list[OutboxMessage]:
    with tenant_context(actors.tenant_a):
        return list(OutboxMessage.objects.filter(key__startswith=prefix).order_by("id"))


def route(actors, leads, kind=AssignmentKind.ROUTED):
    with tenant_context(actors.tenant_a):
        return route_leads(leads=leads, kind=kind, by=Principal.system(actors.tenant_a, "tests"))


# --- Booking ----------------------------------------------------------------------------


def test_booking_without_a_rep_gives_the_lead_to_the_rules_team(actors, sam, robin, central):
    lead = book(actors)
    after = stored(actors, lead)
    assert (after.rep_id, after.team_id) == (sam.user.pk, central.pk)
    with tenant_context(actors.tenant_a):
        assert Appointment.objects.get(pk=lead.appointment_id).rep == sam.user
    [record] = assignments(actors, lead)
    assert (record.kind, record.rep_id, record.rule, record.team, record.turn) == (
        AssignmentKind.BOOKED,
        sam.user.pk,
        "DACH",
        "Central",
        1,
    )


def test_booking_invites_the_routed_owner(actors, sam, robin):
    lead = book(actors)
    confirmations = outbox(actors, f"appointment:{lead.appointment_id}:confirmation:team:")
    assert sam.user.email in {message.recipient for message in confirmations}


def test_two_bookings_in_sequence_take_different_turns(actors, sam, robin, central):
    first = book(actors, days=3)
    second = book(actors, days=4)
    assert stored(actors, first).rep_id == sam.user.pk
    assert stored(actors, second).rep_id == robin.user.pk
    assert [a.turn for a in assignments(actors, first) + assignments(actors, second)] == [1, 2]
    with tenant_context(actors.tenant_a):
        assert Team.objects.get(pk=central.pk).rotation == {
            f"m{sam.membership.pk}": 0,
            f"m{robin.membership.pk}": 0,
        }


def test_a_named_rep_keeps_the_lead_and_is_recorded_as_named(actors, sam, robin, central):
    lead = book(actors, rep=robin)
    assert stored(actors, lead).rep_id == robin.user.pk
    [record] = assignments(actors, lead)
    assert (record.kind, record.rep_id) == (AssignmentKind.NAMED, robin.user.pk)
    with tenant_context(actors.tenant_a):
        assert Team.objects.get(pk=central.pk).rotation == {}  # nobody's turn was taken


def test_an_active_referring_partner_keeps_its_lead(actors, sam):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    lead = book(actors, partner=partner)
    after = stored(actors, lead)
    assert (after.rep_id, after.partner_id) == (None, partner.pk)
    [record] = assignments(actors, lead)
    assert (record.kind, record.partner_id) == (AssignmentKind.REFERRAL, partner.pk)


def test_a_suspended_referring_partners_lead_is_routed(actors, sam):
    partner = PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", status=PartnerStatus.SUSPENDED
    )
    lead = book(actors, partner=partner)
    after = stored(actors, lead)
    assert (after.rep_id, after.partner_id) == (sam.user.pk, None)
    assert assignments(actors, lead)[0].kind == AssignmentKind.BOOKED


def test_a_partner_the_router_chose_is_invited_to_the_meeting_once_it_accepts(actors, central):
    partner = PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", contact_email="leads@northwind.test"
    )
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    lead = book(actors, first_name="Ursula", email="ursula@freight.test")
    assert stored(actors, lead).partner_id == partner.pk
    # The offer: the invitation would name the buyer, so none goes to the partner yet.
    assert outbox(actors, f"appointment:{lead.appointment_id}:owner:") == []
    dealer = Principal(tenant=actors.tenant_a, role=None, via="api_key", partner=partner)
    with tenant_context(actors.tenant_a):
        accept_lead(lead=stored(actors, lead), by=dealer)
    invites = outbox(actors, f"appointment:{lead.appointment_id}:owner:")
    assert [m.recipient for m in invites] == ["leads@northwind.test"]


def test_without_rules_or_teams_the_active_reps_take_turns(actors, rep_a):
    other = make_actor(actors.tenant_a, Role.REP, user__full_name="Bo Two")
    first, second = book(actors, days=3), book(actors, days=4)
    assert {stored(actors, first).rep_id, stored(actors, second).rep_id} == {
        rep_a.user.pk,
        other.user.pk,
    }
    assert assignments(actors, first)[0].team == "All reps"
    with tenant_context(actors.tenant_a):
        assert LeadSettings.objects.get().rotation  # the fallback's memory is kept


def test_a_booking_nobody_can_take_has_no_owner_and_a_record_saying_so(actors, central):
    member(actors, central, "Dee Gone", is_active=False)
    lead = book(actors)
    after = stored(actors, lead)
    assert (after.rep_id, after.partner_id, after.acceptance_due_at) == (None, None, None)
    [record] = assignments(actors, lead)
    assert (record.rep_id, record.partner_id) == (None, None)
    assert record.skips == [{"owner": "Dee Gone", "reason": "deactivated"}]


# --- Routing many leads -------------------------------------------------------------


def leads_in_de(actors, count, **fields):
    """``count`` ownerless leads from Germany, their meetings a day apart (no clashes)."""
    start = future(days=2)
    return [
        LeadFactory(
            tenant=actors.tenant_a,
            profile={"country": "DE", "first_name": "Pat", "last_name": f"Buyer{n}"},
            **{"appointment__starts_at": start + timedelta(days=n), **fields},
        )
        for n in range(count)
    ]


def test_a_cap_holds_within_one_run(actors, central):
    sam = member(actors, central, "Sam Capped", capacity=1)
    robin = member(actors, central, "Robin Rep")
    leads = leads_in_de(actors, 4)
    route(actors, leads)
    owners = [stored(actors, lead).rep_id for lead in leads]
    assert owners.count(sam.user.pk) == 1 and owners.count(robin.user.pk) == 3


def test_the_callers_lead_instances_get_their_new_owner(actors, sam, robin):
    leads = leads_in_de(actors, 2)
    route(actors, leads)
    assert [lead.rep_id for lead in leads] == [sam.user.pk, robin.user.pk]


def test_a_run_writes_one_audit_row_and_each_lead_its_assignment(actors, sam, robin):
    leads = [LeadFactory(tenant=actors.tenant_a, profile={"country": "DE"}) for _ in range(3)]
    records = route(actors, leads)
    with tenant_context(actors.tenant_a):
        events = list(AuditEvent.objects.filter(action__in=["routing.run", "lead.routed"]))
    assert [(e.action, e.after["leads"], e.after["lead_ids"]) for e in events] == [
        ("routing.run", 3, [lead.pk for lead in leads])
    ]
    assert sorted(record.lead_id for record in records) == sorted(lead.pk for lead in leads)


def test_two_leads_at_the_same_time_do_not_go_to_the_same_owner(actors, central):
    sam = member(actors, central, "Sam", capacity=None)
    robin = member(actors, central, "Robin")
    at = future(days=5)
    leads = leads_in_de(actors, 2, appointment__starts_at=at)
    with tenant_context(actors.tenant_a):
        Team.objects.filter(pk=central.pk).update(
            rotation={f"m{sam.membership.pk}": 5, f"m{robin.membership.pk}": -5}
        )
    route(actors, leads)
    assert {stored(actors, lead).rep_id for lead in leads} == {sam.user.pk, robin.user.pk}


def test_nobody_eligible_alerts_the_managers(actors, central):
    manager = make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Mia Manager")
    member(actors, central, "Lee Leave", leave_from=timezone.now().date())
    [lead] = leads_in_de(actors, 1)
    route(actors, [lead])
    assert stored(actors, lead).rep_id is None
    alerts = outbox(actors, "lead-routing-alert:")
    assert {m.recipient for m in alerts} == {manager.user.email, actors.owner.user.email}
    assert "Lee Leave on leave" in alerts[0].payload["text"]


@pytest.mark.parametrize("size", [6, 18])
def test_routing_reads_a_fixed_number_of_queries_whatever_the_team_size(
    actors, central, size, django_assert_max_num_queries
):
    for n in range(size):
        member(actors, central, f"Rep {n}")
    leads = leads_in_de(actors, 6, appointment__starts_at=timezone.now() - timedelta(days=1))
    # 6 leads go to 6 different owners whatever the size: one email each (2 queries);
    # the rest is fixed (locks, reads, the UPDATEs and INSERTs, the rotation).
    with django_assert_max_num_queries(30):
        route(actors, leads)


def test_the_query_count_does_not_grow_with_leads_or_new_owners(actors, central):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(8):
        member(actors, central, f"Rep {n}")
    past = timezone.now() - timedelta(days=1)
    [one] = leads_in_de(actors, 1, appointment__starts_at=past)
    with CaptureQueriesContext(connection) as few:
        route(actors, [one])
    many = leads_in_de(actors, 7, appointment__starts_at=past - timedelta(hours=2))
    with CaptureQueriesContext(connection) as more:
        route(actors, many)
    # Seven owners' emails in one INSERT, as one owner's.
    assert len({m.recipient for m in outbox(actors, "lead-assigned:")}) == 8
    assert len(more) == len(few)


# --- cannot_serve -------------------------------------------------------------------


def test_cannot_serve_reroutes_to_someone_else(actors, sam, robin):
    lead = book(actors)
    with tenant_context(actors.tenant_a):
        reject_lead(lead=lead, kind="cannot_serve", reason="no capacity", by=sam.principal)
    after = stored(actors, lead)
    assert after.rep_id == robin.user.pk and after.reject_kind == "cannot_serve"
    record = assignments(actors, lead)[-1]
    assert (record.kind, record.previous_rep_id, record.rep_id) == (
        AssignmentKind.CANNOT_SERVE,
        sam.user.pk,
        robin.user.pk,
    )
    assert record.skips == [{"owner": "Sam Central", "reason": "declined"}]


def test_an_owner_who_declined_is_not_offered_the_lead_again(actors, sam, robin):
    lead = book(actors)
    with tenant_context(actors.tenant_a):
        reject_lead(lead=lead, kind="cannot_serve", by=sam.principal)
        reject_lead(lead=stored(actors, lead), kind="cannot_serve", by=robin.principal)
    assert stored(actors, lead).rep_id is None
    assert {s["reason"] for s in assignments(actors, lead)[-1].skips} == {"declined"}


def test_cannot_serve_with_nobody_left_alerts_the_managers(actors, sam):
    lead = book(actors)
    with tenant_context(actors.tenant_a):
        reject_lead(lead=lead, kind="cannot_serve", by=sam.principal)
    assert stored(actors, lead).rep_id is None
    assert [m.recipient for m in outbox(actors, "lead-routing-alert:")] == [actors.owner.user.email]


def test_cannot_serve_moves_the_meeting_to_the_new_owners_calendar(actors, sam, robin):
    lead = book(actors)
    with tenant_context(actors.tenant_a):
        reject_lead(lead=lead, kind="cannot_serve", by=sam.principal)
    invites = outbox(actors, f"appointment:{lead.appointment_id}:owner:")
    assert {(m.key.split(":")[4], m.recipient) for m in invites} == {
        ("cancel", sam.user.email),
        ("request", robin.user.email),
    }


# --- The assignment email -----------------------------------------------------------


def test_the_new_owner_is_emailed_the_buyer_and_an_accept_link(actors, sam, robin, settings):
    settings.SITE_URL = "https://leadflow.example"
    lead = book(actors, first_name="Dana", last_name="Okafor", notes=NOTE)
    [email] = outbox(actors, "lead-assigned:")
    assert email.recipient == sam.user.email
    text = email.payload["text"]
    assert "Dana Okafor, Freight Co" in text
    assert "Need:    Fleet telematics" in text
    start = stored(actors, lead)
    with tenant_context(actors.tenant_a):
        starts = Appointment.objects.get(pk=start.appointment_id).starts_at
    from zoneinfo import ZoneInfo

    local = starts.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%a %d %b %Y, %H:%M} (America/New_York)" in text
    assert f"https://leadflow.example/leads/{lead.pk}/" in text
    assert f"https://leadflow.example/leads/{lead.pk}/#accept" in text
    assert email.payload["subject"] == "New lead for you: Dana Okafor (Freight Co)"


def test_the_assignment_email_never_carries_the_score_or_internal_notes(actors, sam):
    lead = book(
        actors,
        notes=NOTE,
        score=87,
        score_breakdown=[{"rule": "Title is VP", "points": 35}],
    )
    assert stored(actors, lead).rep_id == sam.user.pk
    [email] = outbox(actors, "lead-assigned:")
    text = email.payload["text"] + email.payload["subject"]
    assert "CFO" not in text and "Title is VP" not in text and "87" not in text


def test_one_email_per_owner_lists_all_their_leads(actors, sam):
    leads = leads_in_de(actors, 3)
    route(actors, leads)
    [email] = outbox(actors, "lead-assigned:")
    assert email.payload["subject"] == "3 new leads for you"
    for lead in leads:
        assert f"/leads/{lead.pk}/" in email.payload["text"]


def test_a_partner_owner_is_emailed_at_its_contact_address(actors, central):
    partner = PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", contact_email="leads@northwind.test"
    )
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    route(actors, leads_in_de(actors, 1))
    assert [m.recipient for m in outbox(actors, "lead-assigned:")] == ["leads@northwind.test"]


def test_a_partner_is_offered_the_lead_without_the_buyers_name_or_address(actors, central):
    partner = PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", contact_email="leads@northwind.test"
    )
    TeamMemberFactory(tenant=actors.tenant_a, team=central, partner=partner)
    book(actors, first_name="Ursula", last_name="Unseen", email="ursula@freight.test")
    [offer] = outbox(actors, "lead-assigned:")
    letter = offer.payload["subject"] + offer.payload["text"]
    assert "a buyer at Freight Co" in letter
    for secret in ("Ursula", "Unseen", "ursula@freight.test"):
        assert secret not in letter


def test_routing_another_tenants_lead_changes_nothing(actors, sam):
    theirs = LeadFactory(tenant=actors.tenant_b, profile={"country": "DE"})
    assert route(actors, [theirs]) == []
    with tenant_context(actors.tenant_b):
        assert Lead.objects.get(pk=theirs.pk).rep_id is None
