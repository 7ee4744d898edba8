"""The triage inbox page: filters through htmx, counts, keyset pages, bulk actions, saved views."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from inquiries.models import DisqualifyReason, Inquiry, SavedView
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor
from tests.factories import CampaignFactory, InquiryFactory, PartnerFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


@pytest.fixture
def outsider_client(client, actors):
    client.force_login(actors.outsider.user)
    return client


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def reason(actors):
    with tenant_context(actors.tenant_a):
        return DisqualifyReason.objects.create(tenant=actors.tenant_a, label="Student")


@pytest.fixture
def people(actors):
    now = timezone.now()
    return {
        "dana": InquiryFactory(
            tenant=actors.tenant_a,
            first_name="Dana",
            last_name="Okafor",
            company="Freight Co",
            score=80,
            stage="mql",
            created_at=now - timedelta(days=2),
        ),
        "lee": InquiryFactory(
            tenant=actors.tenant_a,
            first_name="Lee",
            last_name="Park",
            company="Acme",
            score=20,
            stage="inquiry",
            created_at=now - timedelta(days=1),
        ),
        "sam": InquiryFactory(
            tenant=actors.tenant_a,
            first_name="Sam",
            last_name="Stone",
            company="Stone Ltd",
            score=50,
            stage="lead",
            created_at=now - timedelta(days=3),
        ),
    }


def reload(tenant, pk) -> Inquiry:
    with tenant_context(tenant):
        return Inquiry.objects.get(pk=pk)


def test_the_inbox_is_newest_first_with_stage_counts(marketer_client, people):
    content = marketer_client.get("/inquiries/").content.decode()
    assert content.index("Lee Park") < content.index("Dana Okafor") < content.index("Sam Stone")
    assert 'data-testid="stage-tab-mql"' in content
    assert 'data-testid="inbox-total">3<' in content


def test_sorting_by_score_puts_the_highest_first(marketer_client, people):
    content = marketer_client.get("/inquiries/?sort=score").content.decode()
    assert content.index("Dana Okafor") < content.index("Sam Stone") < content.index("Lee Park")


def test_a_filter_change_through_htmx_returns_only_the_fragment(marketer_client, people):
    response = marketer_client.get("/inquiries/?stage=mql", **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="inbox"')
    assert "<html" not in content
    assert "Dana Okafor" in content
    assert "Lee Park" not in content


def test_search_finds_by_company_word(marketer_client, people):
    content = marketer_client.get("/inquiries/?q=freig").content.decode()
    assert "Dana Okafor" in content
    assert "Sam Stone" not in content


def test_stage_counts_ignore_the_stage_filter_but_keep_the_others(marketer_client, people):
    content = marketer_client.get("/inquiries/?stage=mql&score_min=30").content.decode()
    mql_tab = content.split('data-testid="stage-tab-mql"')[1].split("</a>")[0]
    lead_tab = content.split('data-testid="stage-tab-lead"')[1].split("</a>")[0]
    inquiry_tab = content.split('data-testid="stage-tab-inquiry"')[1].split("</a>")[0]
    assert ">1<" in mql_tab
    assert ">1<" in lead_tab
    assert ">0<" in inquiry_tab


def test_next_page_continues_by_cursor(marketer_client, actors):
    for _ in range(52):
        InquiryFactory(tenant=actors.tenant_a)
    first = marketer_client.get("/inquiries/").content.decode()
    assert first.count('data-testid="inbox-row"') == 50
    link = first.split('data-testid="next-page"')[0].rsplit('href="?', 1)[1].split('"')[0]
    second = marketer_client.get("/inquiries/?" + link.replace("&amp;", "&")).content.decode()
    assert second.count('data-testid="inbox-row"') == 2
    assert "First page" in second


def test_a_bad_filter_is_shown_above_the_list(marketer_client, people):
    content = marketer_client.get("/inquiries/?score_min=lots").content.decode()
    assert 'data-testid="filter-errors"' in content
    assert "score_min" in content


def test_no_match_says_how_to_loosen_the_filters(marketer_client, people):
    content = marketer_client.get("/inquiries/?q=nobodyhere").content.decode()
    assert "No inquiries match these filters" in content
    assert "clear all filters" in content


def test_an_empty_tenant_says_how_to_capture(marketer_client):
    content = marketer_client.get("/inquiries/").content.decode()
    assert "No inquiries yet" in content
    assert "/f/tenant-a/" in content


def test_merge_and_duplicates_are_linked(marketer_client, people):
    content = marketer_client.get("/inquiries/").content.decode()
    assert 'data-merge-url="/inquiries/merge/"' in content
    assert 'href="/inquiries/duplicates/"' in content


def test_bulk_assign_from_the_page_answers_with_the_fragment_and_a_notice(
    marketer_client, actors, people, qualifier
):
    response = marketer_client.post(
        "/inquiries/bulk/",
        {
            "action": "assign",
            "ids": [people["dana"].pk, people["lee"].pk],
            "assignee": qualifier.user.pk,
            "query": "sort=score",
        },
        **HTMX,
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "2 inquiries assigned." in content
    assert "Quinn Qualifier" in content
    assert reload(actors.tenant_a, people["dana"].pk).assigned_to_id == qualifier.user.pk


def test_bulk_disqualify_on_all_matching_skips_leads(marketer_client, actors, people, reason):
    response = marketer_client.post(
        "/inquiries/bulk/",
        {"action": "disqualify", "all_matching": "1", "reason": reason.pk, "query": "score_min=30"},
        **HTMX,
    )
    assert (
        "1 inquiry disqualified; 1 left as they were (already leads)." in response.content.decode()
    )
    assert reload(actors.tenant_a, people["dana"].pk).stage == "disqualified"
    assert reload(actors.tenant_a, people["sam"].pk).stage == "lead"
    assert reload(actors.tenant_a, people["lee"].pk).stage == "inquiry"
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="inquiry.bulk_disqualified")
    assert event.after["filter"] == "score_min=30"


def test_bulk_nurture_without_htmx_redirects_with_a_message(marketer_client, actors, people):
    response = marketer_client.post(
        "/inquiries/bulk/", {"action": "nurture", "ids": [people["lee"].pk], "query": ""}
    )
    assert response.status_code == 302
    assert reload(actors.tenant_a, people["lee"].pk).stage == "nurture"


def test_bulk_add_to_campaign(marketer_client, actors, people):
    campaign = CampaignFactory(tenant=actors.tenant_a, name="Trade show")
    marketer_client.post(
        "/inquiries/bulk/",
        {"action": "add_to_campaign", "ids": [people["lee"].pk], "campaign": campaign.pk},
        **HTMX,
    )
    assert reload(actors.tenant_a, people["lee"].pk).campaign_id == campaign.pk


def test_a_bulk_action_without_a_selection_shows_the_error_in_the_bulk_bar(
    marketer_client, actors, people
):
    response = marketer_client.post("/inquiries/bulk/", {"action": "nurture"}, **HTMX)
    assert response.status_code == 400
    assert 'data-testid="bulk-errors"' in response.content.decode()
    assert "Select at least one inquiry" in response.content.decode()


def test_disqualifying_only_leads_shows_why(marketer_client, actors, people, reason):
    response = marketer_client.post(
        "/inquiries/bulk/",
        {"action": "disqualify", "ids": [people["sam"].pk], "reason": reason.pk},
        **HTMX,
    )
    assert response.status_code == 409
    assert "already a lead cannot be disqualified" in response.content.decode()


def test_bulk_on_another_tenants_inquiry_is_404(outsider_client, actors, people):
    response = outsider_client.post(
        "/inquiries/bulk/", {"action": "nurture", "ids": [people["lee"].pk]}
    )
    assert response.status_code == 404
    assert reload(actors.tenant_a, people["lee"].pk).stage == "inquiry"


def test_a_saved_view_is_kept_per_user_and_reopens_the_filter(
    marketer_client, client, actors, people
):
    response = marketer_client.post(
        "/inquiries/views/", {"name": "Hot MQLs", "query": "stage=mql&cursor=abc"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/inquiries/?stage=mql"
    content = marketer_client.get("/inquiries/").content.decode()
    assert "Hot MQLs" in content
    client.force_login(actors.owner.user)
    assert "Hot MQLs" not in client.get("/inquiries/").content.decode()


def test_another_users_saved_view_cannot_be_deleted(client, actors):
    with tenant_context(actors.tenant_a):
        view = SavedView.objects.create(tenant=actors.tenant_a, user=actors.owner.user, name="v")
    client.force_login(actors.teammate.user)
    assert client.post(f"/inquiries/views/{view.pk}/delete/").status_code == 404


def test_another_tenants_saved_view_is_404(outsider_client, actors):
    with tenant_context(actors.tenant_a):
        view = SavedView.objects.create(tenant=actors.tenant_a, user=actors.owner.user, name="v")
    assert outsider_client.post(f"/inquiries/views/{view.pk}/delete/").status_code == 404


def test_a_manager_adds_and_retires_a_reason_on_its_page(client, actors):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    client.force_login(manager.user)
    response = client.post("/inquiries/disqualify-reasons/", {"label": "No budget"})
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        reason = DisqualifyReason.objects.get(label="No budget")
    client.post(f"/inquiries/disqualify-reasons/{reason.pk}/", {"active": "0"})
    with tenant_context(actors.tenant_a):
        assert DisqualifyReason.objects.get(pk=reason.pk).active is False
    assert "No budget" in client.get("/inquiries/disqualify-reasons/").content.decode()


def test_a_marketer_reads_reasons_but_may_not_add_them(marketer_client, actors):
    response = marketer_client.post("/inquiries/disqualify-reasons/", {"label": "Nope"})
    assert response.status_code == 400
    assert "Only admins and managers" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not DisqualifyReason.objects.exists()


def test_another_tenants_reason_is_404_on_the_page(outsider_client, reason):
    response = outsider_client.post(f"/inquiries/disqualify-reasons/{reason.pk}/", {"active": "0"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/inquiries/"),
        ("post", "/inquiries/bulk/"),
        ("post", "/inquiries/views/"),
        ("get", "/inquiries/disqualify-reasons/"),
    ],
)
@pytest.mark.parametrize("who", ["rep", "partner"])
def test_reps_and_partner_users_cannot_open_the_inbox(client, actors, method, path, who):
    if who == "rep":
        actor = make_actor(actors.tenant_a, Role.REP)
    else:
        actor = make_actor(
            actors.tenant_a, Role.REP, partner=PartnerFactory(tenant=actors.tenant_a)
        )
    client.force_login(actor.user)
    assert getattr(client, method)(path).status_code == 403


@pytest.mark.parametrize("rows", [1, 20])
@pytest.mark.parametrize(
    "query", [{}, {"sort": "score", "stage": "inquiry", "q": "pat", "score_min": "0"}]
)
def test_inbox_query_count_does_not_grow_with_rows(
    marketer_client, actors, reason, django_assert_num_queries, rows, query
):
    campaign = CampaignFactory(tenant=actors.tenant_a)
    for _ in range(rows):
        InquiryFactory(tenant=actors.tenant_a, campaign=campaign, assigned_to=actors.owner.user)
    url = "/inquiries/?" + urlencode(query)
    marketer_client.get(url)
    # session, user, memberships; counts (one statement), page; campaigns, custom fields,
    # reasons, members, saved views (own and shared), partners
    with django_assert_num_queries(11):
        response = marketer_client.get(url)
    assert response.content.decode().count('data-testid="inbox-row"') == rows
