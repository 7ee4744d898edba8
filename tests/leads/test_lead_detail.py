"""``/leads/<id>/``: who sees it, what it shows, and every action through the page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Appointment, Lead
from leads.services import lifecycle
from leads.services.closing import close_lead
from tests.conftest import make_actor
from tests.factories import PartnerFactory, TouchFactory
from tests.leads.conftest import book_for


@pytest.fixture
def lead(actors, rep_a):
    return book_for(
        actors,
        rep_a,
        first_name="Dana",
        last_name="Okafor",
        company="Freight Co",
        email="dana@freight.example",
        phone="+49 30 1234",
    )


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


def as_(client, actor):
    client.force_login(actor.user)
    return client


def url(lead) -> str:
    return f"/leads/{lead.pk}/"


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def test_the_rep_sees_buyer_owner_stage_due_and_timeline(client, actors, lead, rep_a):
    response = as_(client, rep_a).get(url(lead))
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Dana Okafor", "Freight Co", "dana@freight.example", "+49 30 1234", "Riley Rep"):
        assert text in page
    assert "Awaiting acceptance" in page and 'data-testid="lead-timeline"' in page
    assert "0 of 8" in page
    assert 'data-testid="action-accept"' in page and 'data-testid="action-reject"' in page


def test_another_reps_lead_is_a_404(client, actors, lead):
    other = make_actor(actors.tenant_a, Role.REP)
    assert as_(client, other).get(url(lead)).status_code == 404
    assert as_(client, other).post(url(lead), {"action": "accept"}).status_code == 404
    assert stored(actors, lead).stage == "awaiting_acceptance"


def test_another_tenants_lead_is_a_404(client, actors, lead):
    assert as_(client, actors.outsider).get(url(lead)).status_code == 404
    assert as_(client, actors.outsider).post(url(lead), {"action": "accept"}).status_code == 404


def test_a_partner_user_may_not_open_the_members_page(client, actors, lead):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    assert as_(client, partner_user).get(url(lead)).status_code in (403, 404)


def test_a_marketer_sees_the_lead_but_no_owner_actions(client, actors, lead):
    page = as_(client, actors.teammate).get(url(lead)).content.decode()
    assert 'data-testid="lead-name"' in page and 'data-testid="action-accept"' not in page
    assert 'data-testid="ics-download"' in page


def test_a_marketer_posting_accept_changes_nothing(client, actors, lead):
    response = as_(client, actors.teammate).post(url(lead), {"action": "accept"})
    assert response.status_code == 409
    assert stored(actors, lead).stage == "awaiting_acceptance"


def test_the_rep_accepts_then_qualifies_from_the_page(client, actors, lead, rep_a):
    client = as_(client, rep_a)
    response = client.post(url(lead), {"action": "accept"})
    assert response.status_code == 302
    assert stored(actors, lead).stage == "accepted"
    response = client.post(
        url(lead),
        {
            "action": "qualify",
            "qualify-budget": "50k",
            "qualify-authority": "VP",
            "qualify-need": "Tracking",
            "qualify-timeline": "Q3",
        },
    )
    assert response.status_code == 302
    assert stored(actors, lead).stage == "sql"
    page = client.get(url(lead)).content.decode()
    assert 'data-testid="lead-sql"' in page and "Riley Rep qualified the lead (SQL)" in page


def test_a_qualify_without_need_shows_the_error_and_changes_nothing(client, actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    response = as_(client, rep_a).post(
        url(lead),
        {
            "action": "qualify",
            "qualify-budget": "50k",
            "qualify-authority": "VP",
            "qualify-timeline": "Q3",
        },
    )
    assert response.status_code == 400
    assert "field-error" in response.content.decode()
    assert stored(actors, lead).stage == "accepted"


def test_not_a_lead_without_reason_shows_the_services_refusal(client, actors, lead, rep_a):
    response = as_(client, rep_a).post(url(lead), {"action": "reject", "reject-kind": "not_a_lead"})
    assert response.status_code == 400
    assert "Say why this is not a lead" in response.content.decode()
    assert stored(actors, lead).stage == "awaiting_acceptance"


def test_cannot_serve_hands_it_back_and_the_rep_loses_sight_of_it(client, actors, lead, rep_a):
    response = as_(client, rep_a).post(
        url(lead), {"action": "reject", "reject-kind": "cannot_serve", "reject-reason": "region"}
    )
    assert response.status_code == 302
    assert stored(actors, lead).rep_id is None


def test_won_needs_a_value_and_with_one_closes_the_lead(client, actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    client = as_(client, rep_a)
    assert client.post(url(lead), {"action": "won"}).status_code == 400
    assert stored(actors, lead).stage == "accepted"
    response = client.post(url(lead), {"action": "won", "won-value": "12500"})
    assert response.status_code == 302
    assert stored(actors, lead).stage == "won"


def test_lost_below_the_touch_minimum_is_refused_on_the_reason(client, actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    response = as_(client, rep_a).post(
        url(lead), {"action": "lost", "lost-lost_reason": "no budget"}
    )
    assert response.status_code == 400
    assert "Fewer than 8 touches" in response.content.decode()
    assert stored(actors, lead).stage == "accepted"


def test_a_lead_given_up_at_the_cliff_is_flagged(client, actors, lead, rep_a, manager):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    for _ in range(2):
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    client = as_(client, rep_a)
    client.post(url(lead), {"action": "lost", "lost-lost_reason": "buyer declined"})
    page = client.get(url(lead)).content.decode()
    assert 'data-testid="touch-flag"' in page and "2 of 8" in page


def test_postponing_needs_a_future_date(client, actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
    today = timezone.localdate().isoformat()
    response = as_(client, rep_a).post(
        url(lead), {"action": "postponed", "postponed-postponed_until": today}
    )
    assert response.status_code == 400 and stored(actors, lead).stage == "accepted"


def test_only_a_manager_is_offered_and_may_reopen(client, actors, lead, rep_a, manager):
    with tenant_context(actors.tenant_a):
        lifecycle.accept_lead(lead=lead, by=rep_a.principal)
        close_lead(lead=lead, stage="lost", lost_reason="buyer declined", by=rep_a.principal)
    rep_page = as_(client, rep_a).get(url(lead)).content.decode()
    assert 'data-testid="action-reopen"' not in rep_page
    assert as_(client, rep_a).post(url(lead), {"action": "reopen"}).status_code == 409
    response = as_(client, manager).post(url(lead), {"action": "reopen", "reopen-reason": "oops"})
    assert response.status_code == 302 and stored(actors, lead).stage == "accepted"


def test_the_next_step_is_saved_and_shown(client, actors, lead, rep_a):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    client = as_(client, rep_a)
    response = client.post(
        url(lead),
        {"action": "next_step", "next_step-on": tomorrow, "next_step-action": "Send pricing"},
    )
    assert response.status_code == 302
    assert 'data-testid="next-step"' in client.get(url(lead)).content.decode()


def test_an_unknown_action_changes_nothing(client, actors, lead, rep_a):
    response = as_(client, rep_a).post(url(lead), {"action": "delete"})
    assert response.status_code == 302 and stored(actors, lead).stage == "awaiting_acceptance"


def test_the_breach_badge_shows_once_the_window_lapsed(client, actors, lead, rep_a):
    with tenant_context(actors.tenant_a):
        lifecycle.scan_acceptance_breaches(now=timezone.now() + timedelta(days=10))
    assert 'data-testid="breached"' in as_(client, rep_a).get(url(lead)).content.decode()


def test_the_page_takes_the_same_queries_for_1_and_30_touches(
    client, actors, lead, rep_a, django_assert_max_num_queries
):
    client = as_(client, rep_a)
    TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    client.get(url(lead))
    with django_assert_max_num_queries(25) as few:
        client.get(url(lead))
    for _ in range(29):
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url(lead))


def test_the_reps_start_page_links_each_lead_awaiting_them_to_its_page(client, actors, lead, rep_a):
    page = as_(client, rep_a).get("/").content.decode()
    assert f'href="/leads/{lead.pk}/"' in page


def test_the_rep_downloads_their_leads_meeting_as_a_calendar_file(client, actors, lead, rep_a):
    response = as_(client, rep_a).get(f"/leads/{lead.pk}/appointment.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    with tenant_context(actors.tenant_a):
        assert str(events[0]["UID"]) == Appointment.objects.get(pk=lead.appointment_id).uid


def test_another_reps_and_another_tenants_meeting_file_is_a_404(client, actors, lead):
    other = make_actor(actors.tenant_a, Role.REP)
    assert as_(client, other).get(f"/leads/{lead.pk}/appointment.ics").status_code == 404
    outsider = as_(client, actors.outsider).get(f"/leads/{lead.pk}/appointment.ics")
    assert outsider.status_code == 404
