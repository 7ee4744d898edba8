"""The merge and possible-duplicates pages, through the Django test client."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import Activity, Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor
from tests.factories import ActivityFactory, InquiryFactory, LeadFactory


def ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def pair(actors):
    """Dana twice: an older record with a title, a newer one with a new email, opted out."""
    older = InquiryFactory(
        tenant=actors.tenant_a,
        first_name="Dana",
        last_name="Okafor",
        email="dana@freight.example",
        company="Freight Co",
        title="VP Logistics",
        consent="opted_in",
        created_at=ago(30),
        updated_at=ago(30),
    )
    newer = InquiryFactory(
        tenant=actors.tenant_a,
        first_name="Dana",
        last_name="Okafor",
        email="d.okafor@freight.example",
        company="Freight Co",
        title="",
        consent="opted_out",
        created_at=ago(1),
        updated_at=ago(1),
    )
    ActivityFactory(tenant=actors.tenant_a, inquiry=older, kind="webinar")
    return older, newer


def login(client, actor):
    client.force_login(actor.user)
    return client


def url(*inquiries) -> str:
    return "/inquiries/merge/?ids=" + ",".join(str(i.pk) for i in inquiries)


def written(tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            "inquiries": Inquiry.objects.count(),
            "merged": Activity.objects.filter(kind="merged").count(),
            "audit": AuditEvent.objects.filter(action="inquiry.duplicates_merged").count(),
        }


def test_the_merge_page_shows_each_value_and_highlights_the_winner(client, actors, pair):
    older, newer = pair
    response = login(client, actors.teammate).get(url(older, newer))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="merge-preview"' in html
    title_row = html.split('data-field="title"')[1].split("</tr>")[0]
    assert '<mark data-testid="winner">VP Logistics</mark>' in title_row
    consent_row = html.split('data-field="consent"')[1].split("</tr>")[0]
    assert '<mark data-testid="winner">Opted out</mark>' in consent_row
    # The newest is proposed as the survivor.
    assert f'value="{newer.pk}" checked' in html


def test_confirming_merges_and_goes_to_the_survivor(client, actors, pair):
    older, newer = pair
    response = login(client, actors.teammate).post(url(older, newer), {"survivor": older.pk})
    assert response.status_code == 302
    assert response["Location"] == f"/inquiries/{older.pk}/"
    with tenant_context(actors.tenant_a):
        survivor = Inquiry.objects.get()
    assert (survivor.pk, survivor.email, survivor.consent) == (
        older.pk,
        "d.okafor@freight.example",
        "opted_out",
    )
    assert written(actors.tenant_a) == {"inquiries": 1, "merged": 1, "audit": 1}


def test_keeping_a_non_lead_when_another_is_a_lead_is_refused_on_the_page(client, actors, pair):
    older, newer = pair
    LeadFactory(tenant=actors.tenant_a, inquiry=older)
    with tenant_context(actors.tenant_a):
        Inquiry.objects.filter(pk=older.pk).update(stage="lead")
    before = written(actors.tenant_a)
    response = login(client, actors.teammate).post(url(older, newer), {"survivor": newer.pk})
    assert response.status_code == 400
    assert "keep the lead as the survivor" in response.content.decode()
    assert written(actors.tenant_a) == before


def test_a_single_inquiry_cannot_be_merged(client, actors, pair):
    older, _newer = pair
    response = login(client, actors.teammate).get(url(older))
    assert response.status_code == 400
    assert 'data-testid="merge-error"' in response.content.decode()
    assert 'data-testid="confirm-merge"' not in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_tenants_inquiry_among_the_ids_is_404_and_writes_nothing(
    client, actors, pair, method
):
    older, newer = pair
    foreign = InquiryFactory(tenant=actors.tenant_b)
    before = written(actors.tenant_a), written(actors.tenant_b)
    response = getattr(login(client, actors.teammate), method)(url(older, newer, foreign))
    assert response.status_code == 404
    assert (written(actors.tenant_a), written(actors.tenant_b)) == before


def test_the_outsider_cannot_open_the_merge_of_tenant_a(client, actors, pair):
    before = written(actors.tenant_a)
    response = login(client, actors.outsider).post(url(*pair), {"survivor": pair[0].pk})
    assert response.status_code == 404
    assert written(actors.tenant_a) == before


@pytest.mark.parametrize("path", ["/inquiries/merge/?ids=1,2", "/inquiries/duplicates/"])
def test_reps_may_not_open_the_merge_pages(client, actors, path):
    rep = make_actor(actors.tenant_a, Role.REP)
    assert login(client, rep).get(path).status_code == 403


def test_the_duplicates_page_lists_the_pair_with_a_review_link(client, actors, pair):
    older, newer = pair
    response = login(client, actors.teammate).get("/inquiries/duplicates/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "same name and company" in html
    assert f'href="/inquiries/merge/?ids={older.pk},{newer.pk}"' in html


def test_the_duplicates_page_says_how_many_inquiries_it_compares(client, actors):
    response = login(client, actors.teammate).get("/inquiries/duplicates/")
    assert "The 20,000 newest inquiries are compared." in response.content.decode()


def test_the_duplicates_page_has_an_empty_state(client, actors):
    InquiryFactory(tenant=actors.tenant_a)
    response = login(client, actors.teammate).get("/inquiries/duplicates/")
    assert 'data-testid="duplicates-empty"' in response.content.decode()


def test_the_duplicates_page_shows_no_pairs_of_another_tenant(client, actors, pair):
    response = login(client, actors.outsider).get("/inquiries/duplicates/")
    assert 'data-testid="duplicates-empty"' in response.content.decode()


@pytest.mark.parametrize("rows", [1, 5])
def test_the_duplicates_page_query_count_does_not_grow_with_pairs(
    client, actors, django_assert_num_queries, rows
):
    for word in ["alpha", "bravo", "charlie", "delta", "echo"][:rows]:
        for domain in ("one.example", "two.example"):
            InquiryFactory(
                tenant=actors.tenant_a,
                email=f"{word}@{domain}",
                first_name="Twin",
                last_name=word,
                company=f"{word} Co",
            )
    login(client, actors.teammate)
    with django_assert_num_queries(5):
        response = client.get("/inquiries/duplicates/")
    assert response.content.decode().count("Review merge") == rows


def test_the_navigation_links_to_the_duplicates(client, actors):
    response = login(client, actors.teammate).get("/inquiries/duplicates/")
    assert '<a href="/inquiries/duplicates/">Duplicates</a>' in response.content.decode()
