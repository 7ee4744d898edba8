"""The partner portal in the browser's pages: a partner user's My week and lead page.

A partner user (a membership with a partner) sees its own partner's leads
only — another partner's lead and another tenant's are 404s on every page —
an offer without the buyer's contact details until it is accepted, and times
in its own zone.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role, User
from leads.models import Lead, Touch, WeeklyUpdate
from tests.conftest import make_actor
from tests.factories import (
    AppointmentFactory,
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
)

# Wednesday 30 December 2026, noon UTC; the tenant runs on UTC.
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
MEETING = datetime(2027, 1, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def northwind(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def nora(actors, northwind):
    return make_actor(actors.tenant_a, Role.REP, partner=northwind, user__full_name="Nora L")


def as_(client, actor):
    client.force_login(actor.user)
    return client


def lead_for(tenant, partner, stage="accepted", first_name="Dana", **kwargs):
    inquiry = InquiryFactory(
        tenant=tenant,
        stage="lead",
        first_name=first_name,
        last_name="Okafor",
        email=f"{first_name.lower()}@freight.example",
        phone="+49 30 1234",
        company="Freight Co",
        interest="Fleet tracking for 120 trucks",
    )
    profile = {
        "first_name": first_name,
        "last_name": "Okafor",
        "email": inquiry.email,
        "phone": inquiry.phone,
        "company": "Freight Co",
        "interest": "Fleet tracking for 120 trucks",
    }
    return LeadFactory(
        tenant=tenant,
        inquiry=inquiry,
        appointment=AppointmentFactory(tenant=tenant, inquiry=inquiry, starts_at=MEETING),
        partner=partner,
        stage=stage,
        profile=profile,
        assigned_at=NOW - timedelta(days=10),
        accepted_at=None if stage == "awaiting_acceptance" else NOW - timedelta(days=9),
        **kwargs,
    )


def stored(tenant, lead) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get(pk=lead.pk)


# --- Visibility: the own partner's leads only ------------------------------------------


def test_my_week_lists_the_own_partners_leads_only(client, actors, northwind, nora):
    lead_for(actors.tenant_a, northwind, first_name="Ours")
    lead_for(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a), first_name="Theirs")
    page = as_(client, nora).get("/leads/week/").content.decode()
    assert "Ours Okafor" in page and "Theirs Okafor" not in page


def test_the_lead_page_opens_for_the_own_partners_lead(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind)
    page = as_(client, nora).get(f"/leads/{lead.pk}/").content.decode()
    assert "Dana Okafor" in page and "dana@freight.example" in page
    assert 'data-testid="lead-weekly-update"' in page and 'data-testid="lead-touch"' in page


@pytest.mark.parametrize(
    "path",
    ["/leads/{pk}/", "/leads/{pk}/week-update/", "/leads/{pk}/touches/new/"],
)
def test_another_partners_lead_is_a_404_on_every_page(client, actors, nora, path):
    theirs = lead_for(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a))
    client = as_(client, nora)
    url = path.format(pk=theirs.pk)
    if path == "/leads/{pk}/":
        assert client.get(url).status_code == 404
    response = client.post(url, {"action": "accept", "status": "progress", "kind": "call"})
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert not WeeklyUpdate.objects.exists() and not Touch.objects.exists()


def test_a_rep_lead_of_the_tenant_is_a_404_for_a_partner_user(client, actors, nora):
    rep = make_actor(actors.tenant_a, Role.REP)
    lead = lead_for(actors.tenant_a, None, rep=rep.user)
    assert as_(client, nora).get(f"/leads/{lead.pk}/").status_code == 404


def test_another_tenants_lead_is_a_404(client, actors, nora):
    theirs = lead_for(actors.tenant_b, PartnerFactory(tenant=actors.tenant_b))
    client = as_(client, nora)
    assert client.get(f"/leads/{theirs.pk}/").status_code == 404
    assert (
        client.post(f"/leads/{theirs.pk}/week-update/", {"status": "progress"}).status_code == 404
    )


# --- Offers: contacts hidden until accepted ---------------------------------------------


def test_an_offer_hides_the_buyers_contact_details_on_my_week(client, actors, northwind, nora):
    lead_for(actors.tenant_a, northwind, stage="awaiting_acceptance")
    page = as_(client, nora).get("/leads/week/").content.decode()
    assert "Freight Co" in page and "Fleet tracking" in page
    for secret in ("Dana", "Okafor", "dana@freight.example", "+49 30 1234"):
        assert secret not in page


def test_an_offer_hides_the_buyers_contact_details_on_the_lead_page(
    client, actors, northwind, nora
):
    lead = lead_for(actors.tenant_a, northwind, stage="awaiting_acceptance")
    page = as_(client, nora).get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="contact-hidden"' in page and "Freight Co" in page
    for secret in ("Dana", "Okafor", "dana@freight.example", "+49 30 1234"):
        assert secret not in page
    assert 'data-testid="action-accept"' in page and 'data-testid="action-reject"' in page


def test_accepting_from_my_week_reveals_the_contact_details(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind, stage="awaiting_acceptance")
    client = as_(client, nora)
    response = client.post(f"/leads/{lead.pk}/", {"action": "accept", "next": "/leads/week/"})
    assert response.status_code == 302 and response["Location"] == "/leads/week/"
    assert stored(actors.tenant_a, lead).stage == "accepted"
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Dana Okafor" in page and "dana@freight.example" in page


def test_the_tenants_manager_sees_an_offers_contact_details(client, actors, northwind):
    lead = lead_for(actors.tenant_a, northwind, stage="awaiting_acceptance")
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    assert "dana@freight.example" in as_(client, manager).get(f"/leads/{lead.pk}/").content.decode()


def test_rejecting_an_offer_goes_back_to_my_week(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind, stage="awaiting_acceptance")
    response = as_(client, nora).post(
        f"/leads/{lead.pk}/",
        {"action": "reject", "reject-kind": "cannot_serve", "reject-reason": "out of region"},
    )
    assert response.status_code == 302 and response["Location"] == "/leads/week/"
    assert stored(actors.tenant_a, lead).partner_id is None


# --- The partner's work --------------------------------------------------------------------


def test_a_weekly_update_from_my_week_is_the_partners(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind)
    response = as_(client, nora).post(
        f"/leads/{lead.pk}/week-update/", {"status": "progress", "note": "Quote sent."}
    )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        update = WeeklyUpdate.objects.get(lead=lead)
    assert update.partner_id == northwind.pk and update.user_id == nora.user.pk


def test_a_touch_from_the_lead_page_is_the_partners(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind)
    response = as_(client, nora).post(
        f"/leads/{lead.pk}/touches/new/", {"kind": "call", "outcome": "reached", "note": "Hi"}
    )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        assert Touch.objects.get(lead=lead).partner_id == northwind.pk


def test_a_next_step_is_saved_by_the_partner_user(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind)
    as_(client, nora).post(
        f"/leads/{lead.pk}/",
        {"action": "next_step", "next_step-on": "2027-01-05", "next_step-action": "Site visit"},
    )
    assert stored(actors.tenant_a, lead).next_step == "Site visit"


def test_times_are_shown_in_the_partner_users_own_zone(client, actors, northwind, nora):
    User.objects.filter(pk=nora.user.pk).update(timezone="Asia/Tokyo")
    lead = lead_for(actors.tenant_a, northwind)
    page = as_(client, nora).get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="meeting"' in page
    meeting = page[page.index('data-testid="meeting"') :][:300]
    assert "5 Jan 2027 00:00" in meeting and "Asia/Tokyo" in meeting


def test_a_partner_user_gets_no_members_only_links(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind)
    page = as_(client, nora).get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="ics-download"' not in page and "/inquiries/" not in page


# --- Compliance: the partner's standing under the reporting rule --------------------------

W51 = datetime(2026, 12, 14, tzinfo=UTC).date()
W52 = datetime(2026, 12, 21, tzinfo=UTC).date()


def lagging(tenant, partner, count=2):
    """``count`` accepted leads reported for 2026-W51 but not for W52, the last closed week."""
    from tests.factories import WeeklyUpdateFactory

    leads = []
    for n in range(count):
        lead = lead_for(tenant, partner, first_name=f"Lag{n}")
        Lead.objects.filter(pk=lead.pk).update(assigned_at=NOW - timedelta(days=20))
        WeeklyUpdateFactory(tenant=tenant, lead=lead, week=W51, partner=partner)
        leads.append(lead)
    return leads


def test_a_lagging_partner_reads_its_warning_on_my_week(client, actors, northwind, nora):
    with tenant_context(actors.tenant_a):
        lagging(actors.tenant_a, northwind)
    page = as_(client, nora).get("/leads/week/").content.decode()
    assert 'data-testid="compliance"' in page
    assert "2 updates missing — report by Friday or new leads pause." in page


def test_a_lagging_partner_reads_its_warning_on_its_start_page(client, actors, northwind, nora):
    with tenant_context(actors.tenant_a):
        lagging(actors.tenant_a, northwind, count=1)
    page = as_(client, nora).get("/").content.decode()
    tile = page[page.index('data-testid="tile-leads.partner_compliance"') :]
    assert "update missing — report by Friday or new leads pause." in tile[:800]
    assert 'href="/leads/week/"' in page and 'href="/partner/keys/"' in page


def test_a_compliant_partner_gets_no_warning(client, actors, northwind, nora):
    from tests.factories import WeeklyUpdateFactory

    lead = lead_for(actors.tenant_a, northwind)
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=lead, week=W52, partner=northwind)
    client = as_(client, nora)
    assert 'data-testid="compliance"' not in client.get("/leads/week/").content.decode()
    assert "tile-leads.partner_compliance" not in client.get("/").content.decode()


def test_the_start_page_names_no_buyer_of_an_offer(client, actors, northwind, nora):
    lead = lead_for(actors.tenant_a, northwind, stage="awaiting_acceptance")
    page = as_(client, nora).get("/").content.decode()
    assert "Dana" not in page and "Okafor" not in page
    assert "A buyer at Freight Co" in page and f'href="/leads/{lead.pk}/"' in page


def test_the_start_page_names_the_buyer_once_the_partner_accepted(client, actors, northwind, nora):
    lead_for(actors.tenant_a, northwind, stage="accepted")
    page = as_(client, nora).get("/").content.decode()
    assert "Dana Okafor" in page


def test_the_managers_page_shows_the_lagging_partners_state(client, actors, northwind):
    with tenant_context(actors.tenant_a):
        lagging(actors.tenant_a, northwind)
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    page = as_(client, manager).get("/partners/overview/").content.decode()
    row = page[page.index(f'data-partner="{northwind.pk}"') :]
    assert "Warned" in row[: row.index("</tr>")] and "2026-W52" in row[: row.index("</tr>")]
