"""One person's timeline: every source merged newest first, readable, in constant queries."""

from decimal import Decimal

import pytest
from django.utils import timezone

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.selectors.timeline import money, person_timeline
from leads.services import lifecycle
from leads.services.closing import close_lead
from tests.conftest import make_actor
from tests.factories import TouchFactory, WeeklyUpdateFactory
from tests.leads.conftest import book_for


@pytest.fixture
def lead(actors, rep_a):
    return book_for(
        actors,
        rep_a,
        score=72,
        score_breakdown=[{"rule": "title", "points": 50}, {"rule": "webinar", "points": 22}],
    )


def timeline(actors, lead, principal):
    with tenant_context(actors.tenant_a):
        return person_timeline(inquiry=lead.inquiry, principal=principal)


def texts(entries) -> list[str]:
    return [entry.text for entry in entries]


def test_the_timeline_shows_hand_over_score_booking_and_acceptance(actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    lines = texts(timeline(actors, lead, rep_a.principal))
    assert "Riley Rep accepted the lead" in lines
    assert "Sales received the lead with score 72" in lines
    assert "Handed to sales: the inquiry became a lead" in lines
    assert any(
        line.startswith("Appointment booked for ") and line.endswith(" with Riley Rep")
        for line in lines
    )
    receipt = next(e for e in timeline(actors, lead, rep_a.principal) if e.kind == "lead_created")
    assert receipt.detail == "title +50, webinar +22"


def test_the_timeline_is_newest_first(actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    entries = timeline(actors, lead, rep_a.principal)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    assert entries[0].text == "Riley Rep accepted the lead"


def test_a_touch_reads_who_logged_what_and_the_outcome(actors, lead, rep_a):
    TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user, note="voicemail full")
    entry = next(e for e in timeline(actors, lead, rep_a.principal) if e.kind == "touch")
    assert (entry.text, entry.detail) == ("Riley Rep logged a call — no answer", "voicemail full")


def test_a_late_weekly_update_reads_its_week_and_late(actors, lead, rep_a):
    from datetime import date

    WeeklyUpdateFactory(
        tenant=actors.tenant_a, lead=lead, user=rep_a.user, week=date(2026, 12, 28), late=True
    )
    entry = next(e for e in timeline(actors, lead, rep_a.principal) if e.kind == "update")
    assert entry.text == "Riley Rep reported 2026-W53: progress (late)"


def test_a_won_lead_reads_its_value_in_the_tenants_currency(actors, lead, rep_a):
    actors.tenant_a.currency = "EUR"
    actors.tenant_a.save()
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
        close_lead(lead=lead, stage="won", value="12500", by=rep_a.principal)
    principal = make_actor(actors.tenant_a, Role.MANAGER).principal
    assert "Lead won — €12,500" in texts(timeline(actors, lead, principal))


def test_money_keeps_cents_when_there_are_some():
    assert money(Decimal("99.50"), "CHF") == "CHF 99.50"


def test_times_are_in_the_viewers_time_zone(actors, lead, rep_a):
    rep_a.user.timezone = "Asia/Tokyo"
    rep_a.user.save()
    entries = timeline(actors, lead, rep_a.principal)
    assert all(str(e.at.tzinfo) == "Asia/Tokyo" for e in entries)


def test_another_reps_view_leaves_out_the_lead_and_its_history(actors, lead, rep_a):
    TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    other = make_actor(actors.tenant_a, Role.REP)
    kinds = {e.kind for e in timeline(actors, lead, other.principal)}
    assert kinds.isdisjoint({"touch", "lead_created", "appointment", "lead_stage"})


def test_the_timeline_takes_the_same_queries_for_1_and_30_touches(
    actors, lead, rep_a, django_assert_max_num_queries
):
    TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    with tenant_context(actors.tenant_a), django_assert_max_num_queries(6):
        person_timeline(inquiry=lead.inquiry, principal=rep_a.principal)
    for _ in range(29):
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
        WeeklyUpdateFactory(
            tenant=actors.tenant_a, lead=lead, user=rep_a.user, week=timezone.localdate()
        )
    with tenant_context(actors.tenant_a), django_assert_max_num_queries(6):
        entries = person_timeline(inquiry=lead.inquiry, principal=rep_a.principal)
    assert len([e for e in entries if e.kind == "touch"]) == 30
