"""Campaigns: the page (spend, results, cost per lead; create, change, archive) and the API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inquiries.models import Campaign, Inquiry
from inquiries.selectors.campaigns import campaign_results
from inquiries.selectors.inquiries import campaign_choices, campaign_list
from inquiries.services.campaigns import (
    archive_campaign,
    change_campaign,
    create_campaign,
    create_missing_campaigns,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor
from tests.factories import CampaignFactory, InquiryFactory, PartnerFactory


def logged_in(client, actor):
    client.force_login(actor.user)
    return client


def audit_actions(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(
            AuditEvent.objects.filter(action__startswith="campaign.")
            .order_by("id")
            .values_list("action", flat=True)
        )


def stored(tenant, pk: int) -> Campaign:
    with tenant_context(tenant):
        return Campaign.objects.get(pk=pk)


@pytest.fixture
def webinar(actors) -> Campaign:
    return CampaignFactory(tenant=actors.tenant_a, name="Q4 Webinar", spend=Decimal("2000.00"))


@pytest.fixture
def results(actors, webinar):
    """The webinar brought 4 inquiries: 1 new, 1 MQL, 2 leads (1 in nurture elsewhere)."""
    for stage in ("inquiry", "mql", "lead", "lead"):
        InquiryFactory(tenant=actors.tenant_a, campaign=webinar, stage=stage)
    other = CampaignFactory(tenant=actors.tenant_a, name="Trade show")
    InquiryFactory(tenant=actors.tenant_a, campaign=other, stage="nurture")
    return webinar


# --- Services ---------------------------------------------------------------------------


def test_a_campaign_name_is_unique_in_any_letter_case(actors, webinar):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        create_campaign(name="q4 webinar", by=actors.teammate.principal)
    assert (refused.value.field, refused.value.code) == ("name", "duplicate")


def test_changing_a_campaign_saves_only_what_changed_and_audits_it(actors, webinar):
    with tenant_context(actors.tenant_a):
        change_campaign(
            campaign=webinar,
            changes={"spend": Decimal("2500.50"), "name": "Q4 Webinar"},
            by=actors.teammate.principal,
        )
        event = AuditEvent.objects.get(action="campaign.changed")
    assert stored(actors.tenant_a, webinar.pk).spend == Decimal("2500.50")
    assert (event.before, event.after) == ({"spend": "2000.00"}, {"spend": "2500.50"})


def test_renaming_to_another_campaigns_name_changes_nothing(actors, webinar):
    CampaignFactory(tenant=actors.tenant_a, name="Trade show")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        change_campaign(
            campaign=webinar,
            changes={"name": "TRADE SHOW", "spend": Decimal(1)},
            by=actors.teammate.principal,
        )
    assert refused.value.code == "duplicate"
    assert (stored(actors.tenant_a, webinar.pk).name, webinar.spend) == ("Q4 Webinar", 2000)


def test_a_negative_spend_is_refused(actors, webinar):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        change_campaign(
            campaign=webinar, changes={"spend": Decimal("-1")}, by=actors.teammate.principal
        )
    assert (refused.value.field, refused.value.code) == ("spend", "negative")


def test_an_archived_campaign_leaves_the_pickers_but_stays_in_the_list(actors, webinar):
    with tenant_context(actors.tenant_a):
        archive_campaign(campaign=webinar, archived=True, by=actors.teammate.principal)
        assert webinar not in campaign_choices()
        assert webinar in campaign_list()
        archive_campaign(campaign=webinar, archived=False, by=actors.teammate.principal)
        assert webinar in campaign_choices()
    assert audit_actions(actors.tenant_a) == ["campaign.archived", "campaign.restored"]


def test_creating_missing_campaigns_skips_existing_and_archived_names(actors, webinar):
    CampaignFactory(tenant=actors.tenant_a, name="Old fair", archived_at="2026-01-01T00:00Z")
    with tenant_context(actors.tenant_a):
        made = create_missing_campaigns(
            names=["q4 webinar", "Spring Ads", "spring ads", "old FAIR", " "],
            by=actors.teammate.principal,
        )
        again = create_missing_campaigns(names=["Spring Ads"], by=actors.teammate.principal)
    assert [c.name for c in made] == ["Spring Ads"]
    assert again == []
    assert audit_actions(actors.tenant_a) == ["campaign.created"]


# --- What each campaign produced --------------------------------------------------------


def test_results_count_inquiries_mqls_and_leads_per_campaign(actors, results):
    with tenant_context(actors.tenant_a):
        (row,) = campaign_results([results])
    assert (row.inquiries, row.mqls, row.leads) == (4, 3, 2)
    assert (row.cost_per_inquiry, row.cost_per_lead) == (Decimal("500.00"), Decimal("1000.00"))


def test_a_campaign_without_leads_has_no_cost_per_lead(actors, webinar):
    with tenant_context(actors.tenant_a):
        (row,) = campaign_results([webinar])
    assert (row.inquiries, row.cost_per_inquiry, row.cost_per_lead) == (0, None, None)


# --- The page ---------------------------------------------------------------------------


def test_the_page_shows_spend_results_and_cost_per_lead_in_the_tenants_currency(
    client, actors, results
):
    actors.tenant_a.currency = "EUR"
    actors.tenant_a.save(update_fields=["currency"])
    page = logged_in(client, actors.teammate).get("/inquiries/campaigns/").content.decode()
    assert "EUR\u00a02,000.00" in page  # spend
    assert 'data-testid="campaign-cost-per-lead">EUR\u00a01,000.00<' in page
    assert 'data-testid="campaign-leads">2<' in page
    assert 'data-testid="campaign-mqls">3<' in page


def test_the_empty_page_says_what_a_campaign_is_for(client, actors):
    page = logged_in(client, actors.teammate).get("/inquiries/campaigns/").content.decode()
    assert 'data-testid="campaigns-empty"' in page
    assert "A campaign is a marketing effort" in page


def test_the_page_lists_no_campaign_of_another_tenant(client, actors, webinar):
    CampaignFactory(tenant=actors.tenant_b, name="Other tenant's fair")
    page = logged_in(client, actors.teammate).get("/inquiries/campaigns/").content.decode()
    assert "Q4 Webinar" in page
    assert "Other tenant" not in page


def test_the_list_is_paginated(client, actors):
    for n in range(27):
        CampaignFactory(tenant=actors.tenant_a, name=f"Campaign {n:02}")
    page = logged_in(client, actors.teammate)
    first = page.get("/inquiries/campaigns/").content.decode()
    second = page.get("/inquiries/campaigns/?page=2").content.decode()
    assert first.count('data-testid="campaign-row"') == 25
    assert second.count('data-testid="campaign-row"') == 2
    assert "Page 2 of 2" in second


@pytest.mark.parametrize("rows", [1, 12])
def test_the_page_query_count_does_not_grow_with_campaigns(
    client, actors, django_assert_num_queries, rows
):
    for n in range(rows):
        campaign = CampaignFactory(tenant=actors.tenant_a, name=f"Campaign {n}")
        InquiryFactory(tenant=actors.tenant_a, campaign=campaign, stage="lead")
    page = logged_in(client, actors.teammate)
    page.get("/inquiries/campaigns/")
    # session, user, memberships, the count, the page of campaigns, the grouped results
    with django_assert_num_queries(6):
        assert page.get("/inquiries/campaigns/").status_code == 200


def test_creating_a_campaign_on_the_page(client, actors):
    response = logged_in(client, actors.teammate).post(
        "/inquiries/campaigns/new/",
        {"name": "Spring Ads", "source": "web_form", "spend": "1200.50", "starts_on": ""},
    )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        campaign = Campaign.objects.get()
    assert (campaign.name, campaign.source, campaign.spend) == (
        "Spring Ads",
        "web_form",
        Decimal("1200.50"),
    )
    assert audit_actions(actors.tenant_a) == ["campaign.created"]


def test_a_duplicate_name_is_shown_on_the_form(client, actors, webinar):
    response = logged_in(client, actors.teammate).post(
        "/inquiries/campaigns/new/", {"name": "Q4 WEBINAR", "source": "other", "spend": "1"}
    )
    assert response.status_code == 400
    assert "A campaign &#x27;Q4 WEBINAR&#x27; already exists." in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert Campaign.objects.count() == 1


def test_a_negative_spend_is_shown_on_the_form(client, actors, webinar):
    response = logged_in(client, actors.teammate).post(
        f"/inquiries/campaigns/{webinar.pk}/",
        {"name": "Q4 Webinar", "source": "other", "spend": "-5"},
    )
    assert response.status_code == 400
    assert "Spend cannot be negative." in response.content.decode()
    assert stored(actors.tenant_a, webinar.pk).spend == 2000


def test_editing_a_campaign_on_the_page(client, actors, webinar):
    page = logged_in(client, actors.teammate)
    assert 'value="Q4 Webinar"' in page.get(f"/inquiries/campaigns/{webinar.pk}/").content.decode()
    response = page.post(
        f"/inquiries/campaigns/{webinar.pk}/",
        {"name": "Q4 Webinar series", "source": "webinar", "spend": "2400", "ends_on": ""},
    )
    assert response.status_code == 302
    campaign = stored(actors.tenant_a, webinar.pk)
    assert (campaign.name, campaign.source, campaign.spend) == (
        "Q4 Webinar series",
        "webinar",
        Decimal("2400"),
    )


def test_archiving_on_the_page_moves_the_campaign_to_the_archive(client, actors, webinar):
    page = logged_in(client, actors.teammate)
    assert page.post(f"/inquiries/campaigns/{webinar.pk}/archive/", {"archived": "1"}).status_code
    assert stored(actors.tenant_a, webinar.pk).archived_at is not None
    row = 'data-testid="campaign-row"'
    assert row not in page.get("/inquiries/campaigns/").content.decode()
    assert row in page.get("/inquiries/campaigns/?archived=1").content.decode()
    page.post(f"/inquiries/campaigns/{webinar.pk}/archive/", {"archived": "0"})
    assert stored(actors.tenant_a, webinar.pk).archived_at is None


def test_the_bulk_campaign_picker_offers_no_archived_campaign(client, actors, webinar):
    CampaignFactory(tenant=actors.tenant_a, name="Old fair", archived_at="2026-01-01T00:00Z")
    InquiryFactory(tenant=actors.tenant_a)
    page = logged_in(client, actors.teammate).get("/inquiries/").content.decode()
    picker = page[page.index('data-bulk-select="add_to_campaign"') :]
    picker = picker[: picker.index("</select>")]
    assert "Q4 Webinar" in picker
    assert "Old fair" not in picker


def test_the_qualifier_reads_the_page_without_changing_anything(client, actors, webinar):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    page = logged_in(client, qualifier)
    content = page.get("/inquiries/campaigns/").content.decode()
    assert "Q4 Webinar" in content
    assert 'data-testid="campaign-new-link"' not in content
    assert "Archive" not in content.split('data-testid="campaign-table"')[1]
    assert page.get("/inquiries/campaigns/new/").status_code == 403


@pytest.mark.parametrize("who", ["rep", "partner"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/inquiries/campaigns/"),
        ("get", "/inquiries/campaigns/new/"),
        ("get", "/inquiries/campaigns/{pk}/"),
        ("post", "/inquiries/campaigns/{pk}/archive/"),
    ],
)
def test_reps_and_partners_may_not_open_the_pages(client, actors, webinar, who, method, path):
    partner = PartnerFactory(tenant=actors.tenant_a) if who == "partner" else None
    rep = make_actor(actors.tenant_a, Role.REP, partner=partner)
    response = getattr(logged_in(client, rep), method)(
        path.format(pk=webinar.pk), {"archived": "1"}
    )
    assert response.status_code == 403
    assert stored(actors.tenant_a, webinar.pk).archived_at is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/inquiries/campaigns/{pk}/"),
        ("post", "/inquiries/campaigns/{pk}/"),
        ("post", "/inquiries/campaigns/{pk}/archive/"),
    ],
)
def test_another_tenants_campaign_is_404_on_every_page(client, actors, webinar, method, path):
    response = getattr(logged_in(client, actors.outsider), method)(
        path.format(pk=webinar.pk),
        {"archived": "1", "name": "Taken over", "source": "other", "spend": "0"},
    )
    assert response.status_code == 404
    campaign = stored(actors.tenant_a, webinar.pk)
    assert (campaign.name, campaign.archived_at) == ("Q4 Webinar", None)


def test_the_menu_shows_campaigns_to_marketing_roles_only(client, actors):
    link = b'href="/inquiries/campaigns/"'
    assert link in logged_in(client, actors.teammate).get("/").content
    assert link not in logged_in(client, make_actor(actors.tenant_a, Role.REP)).get("/").content


# --- The API ----------------------------------------------------------------------------


def test_patch_changes_a_campaigns_spend(actors, webinar):
    response = actors.teammate.api().patch(
        f"/api/v1/campaigns/{webinar.pk}/", {"spend": "2500.00"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["spend"] == "2500.00"
    assert audit_actions(actors.tenant_a) == ["campaign.changed"]


def test_patch_archives_and_the_list_leaves_it_out_unless_asked(actors, webinar):
    api = actors.teammate.api()
    archived = api.patch(f"/api/v1/campaigns/{webinar.pk}/", {"archived": True}, format="json")
    assert archived.json()["archived_at"] is not None
    assert api.get("/api/v1/campaigns/").json()["results"] == []
    listed = api.get("/api/v1/campaigns/?archived=true").json()["results"]
    assert [c["name"] for c in listed] == ["Q4 Webinar"]
    assert api.get(f"/api/v1/campaigns/{webinar.pk}/").status_code == 200
    restored = api.patch(f"/api/v1/campaigns/{webinar.pk}/", {"archived": False}, format="json")
    assert restored.json()["archived_at"] is None


def test_the_list_refuses_an_archived_filter_that_is_not_true_or_false(actors, webinar):
    response = actors.teammate.api().get("/api/v1/campaigns/?archived=-58800")
    assert response.status_code == 400
    assert "archived" in response.json()["errors"]


def test_patch_to_a_taken_name_is_a_400_on_the_name(actors, webinar):
    CampaignFactory(tenant=actors.tenant_a, name="Trade show")
    response = actors.teammate.api().patch(
        f"/api/v1/campaigns/{webinar.pk}/", {"name": "trade show"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_a_qualifier_may_not_patch_a_campaign(actors, webinar):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    response = qualifier.api().patch(
        f"/api/v1/campaigns/{webinar.pk}/", {"archived": True}, format="json"
    )
    assert response.status_code == 403


def test_patch_of_another_tenants_campaign_is_404(actors, webinar):
    response = actors.outsider.api().patch(
        f"/api/v1/campaigns/{webinar.pk}/", {"archived": True}, format="json"
    )
    assert response.status_code == 404
    assert stored(actors.tenant_a, webinar.pk).archived_at is None


def test_the_api_bulk_action_refuses_an_archived_campaign(actors, webinar):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        archive_campaign(campaign=webinar, archived=True, by=actors.teammate.principal)
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/",
        {"action": "add_to_campaign", "ids": [inquiry.pk], "campaign": webinar.pk},
        format="json",
    )
    assert response.status_code == 400
    with tenant_context(actors.tenant_a):
        assert Inquiry.objects.get(pk=inquiry.pk).campaign_id is None
