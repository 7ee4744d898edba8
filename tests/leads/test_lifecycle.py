"""The lead's lifecycle with its owner: accept, reject, qualify, next step, and the two scans."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role, StageChange
from leads.models import Lead, LeadSettings
from leads.services import lifecycle
from leads.services.booking import book_appointment
from leads.services.closing import close_lead
from tests.conftest import make_actor
from tests.factories import InquiryFactory, PartnerFactory

BERLIN = ZoneInfo("Europe/Berlin")


def book(actors, rep=None, partner=None, email="pat@buyer.test", **inquiry_fields):
    inquiry = InquiryFactory(
        tenant=actors.tenant_a,
        stage="mql",
        email=email,
        partner=partner,
        first_name="Pat",
        last_name="Buyer",
        company="Buyer Inc",
        **inquiry_fields,
    )
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            rep=rep.user if rep else None,
            by=actors.teammate.principal,
        )


@pytest.fixture
def lead(actors, rep_a):
    return book(actors, rep=rep_a)


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def other_rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Olly Other")


def run(actors, fn, **kwargs):
    with tenant_context(actors.tenant_a):
        return fn(**kwargs)


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def lead_moves(actors, lead) -> list[tuple[str, str]]:
    with tenant_context(actors.tenant_a):
        rows = StageChange.objects.filter(machine="lead", object_id=lead.pk)
        return list(rows.values_list("from_stage", "to_stage"))


def inquiry_of(actors, lead) -> Inquiry:
    with tenant_context(actors.tenant_a):
        return Inquiry.objects.get(pk=lead.inquiry_id)


def refused(actors, fn, **kwargs) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        run(actors, fn, **kwargs)
    return caught.value


# --- Accept -------------------------------------------------------------------------------


def test_the_rep_accepts_their_lead_with_one_stage_change(actors, lead, rep_a):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    found = stored(actors, lead)
    assert found.stage == "accepted" and found.accepted_at is not None
    assert lead_moves(actors, lead) == [("awaiting_acceptance", "accepted")]


def test_a_manager_may_accept_a_reps_lead(actors, lead, manager):
    run(actors, lifecycle.accept_lead, lead=lead, by=manager.principal)
    assert stored(actors, lead).stage == "accepted"


def test_another_rep_may_not_accept_the_lead(actors, lead, other_rep):
    error = refused(actors, lifecycle.accept_lead, lead=lead, by=other_rep.principal)
    assert error.code == "not_owner"
    assert lead_moves(actors, lead) == []


def test_a_marketer_may_not_accept_a_lead(actors, lead):
    error = refused(actors, lifecycle.accept_lead, lead=lead, by=actors.teammate.principal)
    assert error.code == "not_owner"


def test_accepting_an_accepted_lead_is_a_conflict(actors, lead, rep_a):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    error = refused(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    assert (error.code, error.conflict) == ("already_accepted", True)


def test_accepting_a_closed_lead_is_a_conflict(actors, lead, rep_a):
    later = timezone.localdate() + timedelta(days=20)
    run(actors, close_lead, lead=lead, stage="postponed", postponed_until=later, by=rep_a.principal)
    error = refused(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    assert (error.code, error.conflict) == ("not_open", True)


def test_a_partner_user_accepts_its_partners_lead(actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    lead = book(actors, partner=partner)
    principal = partner_user.principal
    principal = type(principal)(**{**principal.__dict__, "partner": partner})
    run(actors, lifecycle.accept_lead, lead=lead, by=principal)
    assert stored(actors, lead).stage == "accepted"


def test_a_lead_without_an_owner_cannot_be_accepted(actors, manager):
    lead = book(actors)
    error = refused(actors, lifecycle.accept_lead, lead=lead, by=manager.principal)
    assert error.code == "no_owner"


# --- The acceptance window -------------------------------------------------------------


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    return actors.tenant_a


def friday_booking(actors, rep_a, manager):
    with time_machine.travel(datetime(2027, 1, 8, 15, 0, tzinfo=BERLIN), tick=False):
        return book(actors, rep=rep_a)


def test_a_lead_booked_friday_afternoon_is_due_tuesday_same_time(actors, berlin, rep_a, manager):
    lead = friday_booking(actors, rep_a, manager)
    assert stored(actors, lead).acceptance_due_at == datetime(2027, 1, 12, 15, 0, tzinfo=BERLIN)


def test_a_breach_scan_on_monday_breaches_nothing(actors, berlin, rep_a, manager):
    lead = friday_booking(actors, rep_a, manager)
    monday = datetime(2027, 1, 11, 16, 0, tzinfo=BERLIN)
    scan = run(actors, lifecycle.scan_acceptance_breaches, now=monday)
    assert scan.breached == [] and stored(actors, lead).breached_at is None


def test_a_breach_scan_after_the_due_time_breaches_the_lead_with_an_audit_row(
    actors, berlin, rep_a, manager
):
    lead = friday_booking(actors, rep_a, manager)
    tuesday = datetime(2027, 1, 12, 15, 1, tzinfo=BERLIN)
    scan = run(actors, lifecycle.scan_acceptance_breaches, now=tuesday)
    assert scan.breached == [lead.pk]
    assert stored(actors, lead).breached_at == tuesday
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(
            action="lead.acceptance_breached", object_id=str(lead.pk)
        ).exists()


def test_the_breach_alert_is_one_email_per_manager_listing_every_breached_lead(
    actors, berlin, rep_a, manager
):
    first = friday_booking(actors, rep_a, manager)
    with time_machine.travel(datetime(2027, 1, 8, 15, 0, tzinfo=BERLIN), tick=False):
        second = book(actors, rep=rep_a, email="sam@other.test", score=87)
    run(actors, lifecycle.scan_acceptance_breaches, now=datetime(2027, 1, 12, 16, tzinfo=BERLIN))
    with tenant_context(actors.tenant_a):
        alerts = list(OutboxMessage.objects.filter(key__startswith="lead-breach:"))
    # The admin (owner) and the manager: one email each, both leads in it.
    assert sorted(m.recipient for m in alerts) == sorted(
        [actors.owner.user.email, manager.user.email]
    )
    text = alerts[0].payload["text"]
    assert f"lead {first.pk}" in text and f"lead {second.pk}" in text
    assert "Riley Rep" in text and "Buyer Inc" in text
    # No score (a lead id may contain its digits; a score would be shown as a word), no address.
    assert not re.search(r"\b87\b", text) and "sam@other.test" not in text


def test_a_second_scan_breaches_nothing_again_and_sends_nothing_new(actors, berlin, rep_a, manager):
    friday_booking(actors, rep_a, manager)
    tuesday = datetime(2027, 1, 12, 16, tzinfo=BERLIN)
    run(actors, lifecycle.scan_acceptance_breaches, now=tuesday)
    again = run(actors, lifecycle.scan_acceptance_breaches, now=tuesday + timedelta(minutes=15))
    assert again.breached == []
    with tenant_context(actors.tenant_a):
        assert OutboxMessage.objects.filter(key__startswith="lead-breach:").count() == 2


def test_a_late_acceptance_is_accepted_and_keeps_the_breach(actors, berlin, rep_a, manager):
    lead = friday_booking(actors, rep_a, manager)
    tuesday = datetime(2027, 1, 12, 16, tzinfo=BERLIN)
    run(actors, lifecycle.scan_acceptance_breaches, now=tuesday)
    lead = stored(actors, lead)
    with time_machine.travel(datetime(2027, 1, 13, 9, tzinfo=BERLIN), tick=False):
        run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    found = stored(actors, lead)
    assert found.stage == "accepted" and found.breached_at == tuesday
    with tenant_context(actors.tenant_a):
        audit = AuditEvent.objects.get(action="lead.accepted", object_id=str(lead.pk))
    assert audit.after["late"] is True


def test_the_breach_scan_sees_only_the_current_tenant(actors, berlin, rep_a, manager):
    friday_booking(actors, rep_a, manager)
    with tenant_context(actors.tenant_b):
        scan = lifecycle.scan_acceptance_breaches(now=datetime(2027, 2, 1, tzinfo=BERLIN))
    assert scan.breached == []


def test_the_breach_scan_is_one_query_set_whatever_the_number_of_leads(
    actors, berlin, rep_a, manager, django_assert_max_num_queries
):
    with time_machine.travel(datetime(2027, 1, 8, 15, 0, tzinfo=BERLIN), tick=False):
        for n in range(6):
            book(actors, rep=rep_a, email=f"p{n}@buyer.test")
    with tenant_context(actors.tenant_a), django_assert_max_num_queries(20):
        scan = lifecycle.scan_acceptance_breaches(now=datetime(2027, 1, 12, 16, tzinfo=BERLIN))
    assert len(scan.breached) == 6


# --- Reject ---------------------------------------------------------------------------


def test_not_a_lead_closes_it_as_rejected_and_sends_the_person_to_nurture(actors, lead, rep_a):
    run(
        actors,
        lifecycle.reject_lead,
        lead=lead,
        kind="not_a_lead",
        reason="student project",
        by=rep_a.principal,
    )
    found = stored(actors, lead)
    assert (found.stage, found.reject_kind, found.reject_reason) == (
        "rejected",
        "not_a_lead",
        "student project",
    )
    assert found.closed_at is not None
    assert inquiry_of(actors, lead).stage == "nurture"


def test_not_a_lead_needs_a_reason(actors, lead, rep_a):
    error = refused(
        actors, lifecycle.reject_lead, lead=lead, kind="not_a_lead", reason=" ", by=rep_a.principal
    )
    assert (error.field, error.code) == ("reason", "required")
    assert stored(actors, lead).stage == "awaiting_acceptance"


def test_a_reject_reason_over_200_characters_is_refused(actors, lead, rep_a):
    error = refused(
        actors,
        lifecycle.reject_lead,
        lead=lead,
        kind="not_a_lead",
        reason="x" * 201,
        by=rep_a.principal,
    )
    assert (error.field, error.code) == ("reason", "too_long")


def test_an_unknown_reject_kind_is_refused_naming_kind(actors, lead, rep_a):
    error = refused(
        actors, lifecycle.reject_lead, lead=lead, kind="spam", reason="x", by=rep_a.principal
    )
    assert error.field == "kind"


def test_cannot_serve_hands_the_lead_back_with_no_owner_awaiting_acceptance(actors, lead, rep_a):
    run(
        actors,
        lifecycle.reject_lead,
        lead=lead,
        kind="cannot_serve",
        reason="outside my region",
        by=rep_a.principal,
    )
    found = stored(actors, lead)
    assert found.stage == "awaiting_acceptance"
    assert (found.rep_id, found.partner_id, found.acceptance_due_at) == (None, None, None)
    assert (found.reject_kind, found.reject_reason) == ("cannot_serve", "outside my region")
    assert inquiry_of(actors, lead).stage == "lead"
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="lead.rejected", object_id=str(lead.pk)).exists()


def test_a_manager_reassigns_a_cannot_serve_lead_and_the_new_owner_accepts(
    actors, lead, rep_a, other_rep, manager
):
    from leads.services.ownership import change_owner

    run(actors, lifecycle.reject_lead, lead=lead, kind="cannot_serve", by=rep_a.principal)
    lead = stored(actors, lead)
    run(actors, change_owner, lead=lead, rep=other_rep.user, by=manager.principal)
    run(actors, lifecycle.accept_lead, lead=stored(actors, lead), by=other_rep.principal)
    assert stored(actors, lead).stage == "accepted"


def test_an_accepted_lead_cannot_be_rejected(actors, lead, rep_a):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    for kind in ("not_a_lead", "cannot_serve"):
        error = refused(
            actors, lifecycle.reject_lead, lead=lead, kind=kind, reason="x", by=rep_a.principal
        )
        assert error.code == "accepted_already"
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_another_rep_may_not_reject_the_lead(actors, lead, other_rep):
    error = refused(
        actors,
        lifecycle.reject_lead,
        lead=lead,
        kind="not_a_lead",
        reason="x",
        by=other_rep.principal,
    )
    assert error.code == "not_owner"


# --- Qualify --------------------------------------------------------------------------

BANT = {
    "budget": "50k EUR",
    "authority": "VP signs",
    "need": "fleet tracking",
    "timeline": "Q3",
}


def test_qualifying_an_accepted_lead_makes_it_sql_with_the_four_fields(actors, lead, rep_a):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    run(actors, lifecycle.qualify_lead, lead=lead, by=rep_a.principal, **BANT)
    found = stored(actors, lead)
    assert found.stage == "sql" and found.qualified_at is not None
    assert (found.budget, found.authority, found.need, found.timeline) == tuple(BANT.values())
    assert lead_moves(actors, lead)[-1] == ("accepted", "sql")


@pytest.mark.parametrize("missing", ["budget", "authority", "need", "timeline"])
def test_qualifying_without_a_field_is_refused_naming_it(actors, lead, rep_a, missing):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    error = refused(
        actors,
        lifecycle.qualify_lead,
        lead=lead,
        by=rep_a.principal,
        **{**BANT, missing: "  "},
    )
    assert (error.field, error.code) == (missing, "required")
    assert stored(actors, lead).stage == "accepted"


def test_a_need_over_500_characters_is_refused(actors, lead, rep_a):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    error = refused(
        actors, lifecycle.qualify_lead, lead=lead, by=rep_a.principal, **{**BANT, "need": "n" * 501}
    )
    assert (error.field, error.code) == ("need", "too_long")


def test_a_lead_awaiting_acceptance_cannot_be_qualified(actors, lead, rep_a):
    error = refused(actors, lifecycle.qualify_lead, lead=lead, by=rep_a.principal, **BANT)
    assert error.code == "not_accepted" and not error.conflict


def test_qualifying_twice_is_a_conflict(actors, lead, rep_a):
    run(actors, lifecycle.accept_lead, lead=lead, by=rep_a.principal)
    run(actors, lifecycle.qualify_lead, lead=lead, by=rep_a.principal, **BANT)
    error = refused(actors, lifecycle.qualify_lead, lead=lead, by=rep_a.principal, **BANT)
    assert (error.code, error.conflict) == ("already_qualified", True)


# --- Next step ------------------------------------------------------------------------


def test_the_owner_sets_and_clears_the_next_step(actors, lead, rep_a):
    tomorrow = timezone.localdate() + timedelta(days=1)
    run(actors, lifecycle.set_next_step, lead=lead, on=tomorrow, action="Call", by=rep_a.principal)
    assert (stored(actors, lead).next_step_on, stored(actors, lead).next_step) == (tomorrow, "Call")
    run(actors, lifecycle.set_next_step, lead=lead, on=None, action="", by=rep_a.principal)
    assert (stored(actors, lead).next_step_on, stored(actors, lead).next_step) == (None, "")


@pytest.mark.parametrize(
    ("on", "action", "field", "code"),
    [
        (date(2000, 1, 1), "Call", "on", "past"),
        (None, "Call", "on", "required"),
        ("tomorrow", "", "action", "required"),
        ("tomorrow", "x" * 201, "action", "too_long"),
    ],
)
def test_a_bad_next_step_is_refused(actors, lead, rep_a, on, action, field, code):
    if on == "tomorrow":
        on = timezone.localdate() + timedelta(days=1)
    error = refused(
        actors, lifecycle.set_next_step, lead=lead, on=on, action=action, by=rep_a.principal
    )
    assert (error.field, error.code) == (field, code)
    assert stored(actors, lead).next_step == ""


def test_a_next_step_on_a_closed_lead_is_a_conflict(actors, lead, rep_a):
    later = timezone.localdate() + timedelta(days=20)
    run(actors, close_lead, lead=lead, stage="postponed", postponed_until=later, by=rep_a.principal)
    error = refused(
        actors, lifecycle.set_next_step, lead=lead, on=later, action="Call", by=rep_a.principal
    )
    assert error.conflict


# --- Postponed leads coming back ------------------------------------------------------


def postpone(actors, lead, rep_a, days=10):
    until = timezone.localdate() + timedelta(days=days)
    run(actors, close_lead, lead=lead, stage="postponed", postponed_until=until, by=rep_a.principal)
    return until


def test_a_postponed_lead_comes_back_accepted_on_its_date(actors, lead, rep_a):
    until = postpone(actors, lead, rep_a)
    returned = run(actors, lifecycle.return_postponed_leads, today=until)
    assert returned.to_owner == [lead.pk]
    found = stored(actors, lead)
    assert (found.stage, found.postponed_until, found.closed_at) == ("accepted", None, None)
    assert found.assigned_at > found.created_at
    assert lead_moves(actors, lead)[-1] == ("postponed", "accepted")


def test_a_postponed_lead_stays_postponed_before_its_date(actors, lead, rep_a):
    until = postpone(actors, lead, rep_a)
    returned = run(actors, lifecycle.return_postponed_leads, today=until - timedelta(days=1))
    assert returned.to_owner == [] and stored(actors, lead).stage == "postponed"


def test_returning_postponed_leads_twice_moves_nothing_the_second_time(actors, lead, rep_a):
    until = postpone(actors, lead, rep_a)
    run(actors, lifecycle.return_postponed_leads, today=until)
    again = run(actors, lifecycle.return_postponed_leads, today=until)
    assert again.to_owner == [] and len(lead_moves(actors, lead)) == 2


def test_with_postponed_to_nurture_the_person_goes_to_nurture_and_the_lead_stays(
    actors, lead, rep_a
):
    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(tenant=actors.tenant_a, postponed_to_nurture=True)
    until = postpone(actors, lead, rep_a)
    returned = run(actors, lifecycle.return_postponed_leads, today=until)
    assert returned.to_nurture == [lead.pk]
    found = stored(actors, lead)
    assert (found.stage, found.postponed_until) == ("postponed", None)
    assert inquiry_of(actors, lead).stage == "nurture"


def test_a_person_booked_again_keeps_their_new_lead_and_the_old_stays_postponed(
    actors, lead, rep_a
):
    until = postpone(actors, lead, rep_a)
    # Their new open lead (made directly: how a person got back into booking is not the point).
    with tenant_context(actors.tenant_a):
        from tests.factories import LeadFactory

        old = Lead.objects.get(pk=lead.pk)
        new = LeadFactory(tenant=actors.tenant_a, inquiry=old.inquiry, stage="accepted")
    returned = run(actors, lifecycle.return_postponed_leads, today=until)
    assert returned.left == [lead.pk] and returned.to_owner == []
    assert stored(actors, lead).stage == "postponed"
    assert stored(actors, new).stage == "accepted"


# --- The beat's tasks -----------------------------------------------------------------


def test_the_breach_task_runs_in_its_tenant_only(actors, rep_a):
    from leads.tasks import scan_acceptance_breaches_of_tenant

    lead = book(actors, rep=rep_a)
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(
            acceptance_due_at=timezone.now() - timedelta(minutes=1)
        )
    assert scan_acceptance_breaches_of_tenant(tenant_id=actors.tenant_b.pk) == 0
    assert stored(actors, lead).breached_at is None
    assert scan_acceptance_breaches_of_tenant(tenant_id=actors.tenant_a.pk) == 1
    assert stored(actors, lead).breached_at is not None


def test_the_postponement_task_brings_back_leads_whose_date_passed(actors, lead, rep_a):
    from leads.tasks import return_postponed_leads_of_tenant

    postpone(actors, lead, rep_a)
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(
            postponed_until=timezone.localdate() - timedelta(days=1)
        )
    assert return_postponed_leads_of_tenant(tenant_id=actors.tenant_a.pk) == 1
    assert stored(actors, lead).stage == "accepted"


def test_the_beat_runs_both_scans(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"leads.tasks.scan_acceptance_breaches", "leads.tasks.return_postponed_leads"} <= tasks
