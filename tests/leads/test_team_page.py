"""The manager's page of the team's leads (``/leads/team/``): filters, counts, reassign, reopen."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import Lead
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, TouchFactory

URL = "/leads/team/"


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def rep_b(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Robin Rep")


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def lead_of(actors, rep=None, stage="accepted", name="Pat Buyer", **fields) -> Lead:
    first, last = name.split(" ")
    return LeadFactory(
        tenant=actors.tenant_a,
        stage=stage,
        rep=rep.user if rep is not None else None,
        assigned_at=timezone.now() - timedelta(days=30),
        profile={"first_name": first, "last_name": last, "company": "Buyer Inc"},
        **fields,
    )


def stored(actors, lead) -> Lead:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk)


def test_a_manager_sees_every_lead_with_buyer_company_and_owner_by_name(actors, manager, rep_a):
    lead_of(actors, rep_a, name="Pat Buyer")
    response = client_of(manager).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pat Buyer" in html and "Buyer Inc" in html and "Riley Rep" in html


def test_an_admin_opens_the_page_too(actors):
    assert client_of(actors.owner).get(URL).status_code == 200


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_get_403(actors, role):
    assert client_of(make_actor(actors.tenant_a, role)).get(URL).status_code == 403


def test_a_partners_user_gets_403(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    someone = make_actor(actors.tenant_a, Role.REP, partner=partner)
    assert client_of(someone).get(URL).status_code == 403


def test_another_tenants_leads_are_not_listed(actors, manager):
    LeadFactory(tenant=actors.tenant_b, profile={"first_name": "Foreign", "last_name": "Buyer"})
    assert "Foreign" not in client_of(manager).get(URL).content.decode()


def test_the_counts_say_how_many_are_missing_breached_stale_and_no_show(actors, manager, rep_a):
    lead_of(actors, rep_a)  # missing and stale
    lead_of(actors, rep_a, stage="awaiting_acceptance", breached_at=timezone.now())
    lead_of(actors, rep_a, stage="no_show")
    counts = client_of(manager).get(URL).context["counts"]
    # the breached lead is open and 30 days untouched too: stale
    shown = [counts[name].value for name in ("missing", "breached", "stale", "no_show", "total")]
    assert shown == [1, 1, 2, 1, 3]


def test_the_missing_filter_lists_only_the_leads_without_this_weeks_update(actors, manager, rep_a):
    lead_of(actors, rep_a, name="Missing Person")
    lead_of(actors, rep_a, stage="won", name="Won Person")
    html = client_of(manager).get(URL, {"missing": "on"}).content.decode()
    assert "Missing Person" in html and "Won Person" not in html


def test_the_owner_filter_takes_a_rep_a_partner_or_no_owner(actors, manager, rep_a, rep_b):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    lead_of(actors, rep_a, name="Riley's Lead")
    lead_of(actors, rep_b, name="Robin's Lead")
    lead_of(actors, partner=partner, name="Partner's Lead")
    lead_of(actors, name="Nobody's Lead")
    client = client_of(manager)

    def shown(owner):
        return [row["buyer"] for row in client.get(URL, {"owner": owner}).context["rows"]]

    assert shown(f"rep:{rep_b.user.pk}") == ["Robin's Lead"]
    assert shown(f"partner:{partner.pk}") == ["Partner's Lead"]
    assert shown("unassigned") == ["Nobody's Lead"]


def test_a_bad_owner_filter_says_so_and_shows_every_lead(actors, manager, rep_a):
    lead_of(actors, rep_a)
    response = client_of(manager).get(URL, {"owner": "someone"})
    assert response.status_code == 200
    assert "Showing every lead" in response.content.decode()
    assert len(response.context["rows"]) == 1


def test_an_empty_list_explains_itself(actors, manager):
    html = client_of(manager).get(URL).content.decode()
    assert "No leads yet" in html
    assert "No lead matches" in client_of(manager).get(URL, {"stale": "on"}).content.decode()


def test_rows_show_touches_and_link_to_the_lead(actors, manager, rep_a):
    lead = lead_of(actors, rep_a)
    for _ in range(3):
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    response = client_of(manager).get(URL)
    assert response.context["rows"][0]["lead"].touch_count == 3
    assert f'href="/leads/{lead.pk}/"' in response.content.decode()


def test_pages_keep_their_filters(actors, manager, rep_a):
    for _ in range(51):
        lead_of(actors, rep_a)
    html = client_of(manager).get(URL, {"missing": "on"}).content.decode()
    assert "missing=on&amp;page=2" in html


@pytest.mark.parametrize("rows", [3, 60])
def test_the_page_costs_the_same_queries_whatever_the_rows(
    actors, manager, rep_a, django_assert_num_queries, rows
):
    partner = PartnerFactory(tenant=actors.tenant_a)
    for number in range(rows):
        if number % 2:
            lead_of(actors, rep_a)
        else:
            lead_of(actors, partner=partner)
    client = client_of(manager)
    client.get(URL)
    # session, user, memberships, counts (with the total), page, reps, partners
    with django_assert_num_queries(7):
        client.get(URL, {"missing": "on"})


# --- reassign --------------------------------------------------------------------------


def reassign(client, ids, owner, follow=True):
    return client.post(
        "/leads/team/reassign/",
        {"ids": [str(pk) for pk in ids], "owner": owner, "next": "/leads/team/?missing=on"},
        follow=follow,
    )


def test_a_manager_reassigns_two_leads_and_is_told(actors, manager, rep_a, rep_b):
    one, two = lead_of(actors, rep_a), lead_of(actors, rep_a)
    response = reassign(client_of(manager), [one.pk, two.pk], f"rep:{rep_b.user.pk}")
    assert response.redirect_chain[-1][0] == "/leads/team/?missing=on"
    assert "2 leads reassigned to Robin Rep." in response.content.decode()
    assert {stored(actors, one).rep_id, stored(actors, two).rep_id} == {rep_b.user.pk}


def test_a_manager_gives_leads_to_a_partner(actors, manager, rep_a):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    lead = lead_of(actors, rep_a)
    reassign(client_of(manager), [lead.pk], f"partner:{partner.pk}")
    assert (stored(actors, lead).rep_id, stored(actors, lead).partner_id) == (None, partner.pk)


def test_a_closed_lead_in_the_selection_changes_nothing_and_says_why(actors, manager, rep_a, rep_b):
    open_lead, closed = lead_of(actors, rep_a), lead_of(actors, rep_a, stage="won")
    response = reassign(client_of(manager), [open_lead.pk, closed.pk], f"rep:{rep_b.user.pk}")
    assert "Nothing was reassigned" in response.content.decode()
    assert stored(actors, open_lead).rep_id == rep_a.user.pk


@pytest.mark.parametrize("owner", ["", "rep:abc", "rep:999999", "partner:999999"])
def test_a_missing_or_unknown_owner_changes_nothing(actors, manager, rep_a, owner):
    lead = lead_of(actors, rep_a)
    response = reassign(client_of(manager), [lead.pk], owner)
    assert "Nothing was reassigned" in response.content.decode()
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_no_selection_is_refused(actors, manager, rep_b):
    response = reassign(client_of(manager), [], f"rep:{rep_b.user.pk}")
    assert "Choose at least one lead" in response.content.decode()


def test_another_tenants_lead_cannot_be_reassigned(actors, manager, rep_b):
    foreign = LeadFactory(tenant=actors.tenant_b, stage="accepted")
    response = reassign(client_of(manager), [foreign.pk], f"rep:{rep_b.user.pk}")
    assert "No such lead" in response.content.decode()
    with tenant_context(actors.tenant_b):
        assert Lead.objects.get(pk=foreign.pk).rep_id is None


def test_a_rep_may_not_reassign(actors, rep_a, rep_b):
    lead = lead_of(actors, rep_a)
    assert reassign(client_of(rep_a), [lead.pk], f"rep:{rep_b.user.pk}").status_code == 403
    assert stored(actors, lead).rep_id == rep_a.user.pk


def test_the_return_address_stays_on_the_page(actors, manager, rep_a, rep_b):
    lead = lead_of(actors, rep_a)
    response = client_of(manager).post(
        "/leads/team/reassign/",
        {"ids": [lead.pk], "owner": f"rep:{rep_b.user.pk}", "next": "https://evil.example/"},
    )
    assert response["Location"] == "/leads/team/"


# --- reopen ----------------------------------------------------------------------------


def test_a_manager_reopens_a_closed_lead(actors, manager, rep_a):
    lead = lead_of(actors, rep_a, stage="lost", lost_reason="no budget")
    response = client_of(manager).post(f"/leads/team/{lead.pk}/reopen/", follow=True)
    assert "is open again" in response.content.decode()
    assert stored(actors, lead).stage == "accepted"
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="lead.reopened").count() == 1


def test_reopening_an_open_lead_says_why_and_changes_nothing(actors, manager, rep_a):
    lead = lead_of(actors, rep_a)
    response = client_of(manager).post(f"/leads/team/{lead.pk}/reopen/", follow=True)
    assert "was not reopened" in response.content.decode()
    assert stored(actors, lead).stage == "accepted"


def test_another_tenants_lead_is_404_on_reopen(actors, manager):
    foreign = LeadFactory(
        tenant=actors.tenant_b, stage="won", inquiry=InquiryFactory(tenant=actors.tenant_b)
    )
    assert client_of(manager).post(f"/leads/team/{foreign.pk}/reopen/").status_code == 404


def test_a_rep_may_not_reopen(actors, rep_a):
    lead = lead_of(actors, rep_a, stage="lost")
    assert client_of(rep_a).post(f"/leads/team/{lead.pk}/reopen/").status_code == 403


def test_closed_rows_offer_reopen_and_open_rows_a_checkbox(actors, manager, rep_a):
    open_lead, closed = lead_of(actors, rep_a), lead_of(actors, rep_a, stage="won")
    html = client_of(manager).get(URL).content.decode()
    assert f'name="ids" value="{open_lead.pk}"' in html
    assert f'name="ids" value="{closed.pk}"' not in html
    assert f"/leads/team/{closed.pk}/reopen/" in html


def test_the_managers_nav_and_start_tile_lead_to_the_page(actors, manager):
    html = client_of(manager).get("/").content.decode()
    assert 'href="/leads/team/"' in html
    assert "/leads/team/?stage=awaiting_acceptance" in html


def test_counts_stop_at_the_cap_and_say_so(actors, manager, rep_a, monkeypatch):
    from leads.selectors import team

    monkeypatch.setattr(team, "COUNT_CAP", 2)
    for _ in range(3):
        lead_of(actors, rep_a)
    response = client_of(manager).get(URL)
    assert str(response.context["counts"]["missing"]) == "2+"
    assert "2+ leads" in response.content.decode()


@pytest.mark.parametrize("owner", ["rep:99999999999999999999", "rep:²"])
def test_an_owner_id_past_the_column_or_not_ascii_is_refused(actors, manager, owner):
    response = client_of(manager).get(URL, {"owner": owner})
    assert "Showing every lead" in response.content.decode()


def test_a_lead_id_past_the_column_is_refused(actors, manager, rep_b):
    response = client_of(manager).post(
        "/leads/team/reassign/",
        {"ids": ["99999999999999999999"], "owner": f"rep:{rep_b.user.pk}"},
        follow=True,
    )
    assert "Choose leads from the list" in response.content.decode()
