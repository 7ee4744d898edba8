"""The import's dry run lists the campaigns a file names that do not exist, and creates them."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inquiries.models import Campaign, ImportJob, Inquiry
from inquiries.services import imports
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor
from tests.factories import CampaignFactory

HEADER = ["Email", "Campaign"]
MAPPING = {"Email": {"to": "field", "field": "email"}, "Campaign": {"to": "campaign"}}
ROWS = [
    ["a@x.example", "Q4 Webinar"],
    ["b@x.example", "q4 webinar"],
    ["c@x.example", "Trade Show"],
    ["d@x.example", "Known"],
    ["e@x.example", "Old fair"],
    ["f@x.example", ""],
]


def upload(actor, rows=ROWS) -> ImportJob:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([HEADER, *rows])
    file = SimpleUploadedFile("people.csv", buffer.getvalue().encode())
    with tenant_context(actor.tenant):
        job = imports.analyse_upload(file=file, file_name="people.csv", by=actor.principal)
        return imports.set_mapping(job=job, mapping=MAPPING, placeholders=[], by=actor.principal)


def dry_run(actor, job) -> ImportJob:
    """Ask for the dry run, then do the worker's side of it here."""
    with tenant_context(actor.tenant):
        job.refresh_from_db()
        if not imports.dry_run_busy(job):
            job = imports.request_dry_run(job=job, by=actor.principal)
        return imports.run_dry_run(job=job)


@pytest.fixture
def campaigns(actors):
    CampaignFactory(tenant=actors.tenant_a, name="Known")
    CampaignFactory(tenant=actors.tenant_a, name="Old fair", archived_at="2026-01-01T00:00Z")
    CampaignFactory(tenant=actors.tenant_b, name="Trade Show")  # another tenant's


@pytest.fixture
def job(actors, campaigns) -> ImportJob:
    return dry_run(actors.teammate, upload(actors.teammate))


def names(tenant) -> list[str]:
    with tenant_context(tenant):
        return sorted(Campaign.objects.values_list("name", flat=True))


def logged_in(client, actor):
    client.force_login(actor.user)
    return client


def test_the_dry_run_lists_each_missing_campaign_once_in_its_first_spelling(job):
    assert job.dry_run["missing_campaigns"] == ["Q4 Webinar", "Trade Show"]


def test_an_archived_campaign_is_not_missing_but_says_it_is_archived(job):
    messages = [e["message"] for e in job.dry_run["errors"] if e["value"] == "Old fair"]
    assert messages == [
        "The campaign 'Old fair' is archived; restore it under Campaigns or ignore this column."
    ]


def test_the_dry_run_shows_the_missing_campaigns_with_a_button(client, actors, job):
    page = logged_in(client, actors.teammate).get(f"/inquiries/imports/{job.pk}/").content
    page = page.decode()
    assert page.count('data-testid="missing-campaign"') == 2
    assert "Create these 2 campaigns and check again" in page


def test_a_qualifier_sees_the_missing_campaigns_but_no_button(client, actors, job):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    page = logged_in(client, qualifier).get(f"/inquiries/imports/{job.pk}/").content.decode()
    assert page.count('data-testid="missing-campaign"') == 2
    assert 'data-testid="create-missing-campaigns"' not in page


def test_the_button_creates_them_and_runs_the_dry_run_again(client, actors, job):
    response = logged_in(client, actors.teammate).post(
        f"/inquiries/imports/{job.pk}/campaigns/", follow=True
    )
    assert "Campaigns created: “Q4 Webinar”, “Trade Show”." in response.content.decode()
    assert names(actors.tenant_a) == ["Known", "Old fair", "Q4 Webinar", "Trade Show"]
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="campaign.created").count() == 2
        job.refresh_from_db()
    assert job.dry_run["state"] == "queued"
    job = dry_run(actors.teammate, job)
    assert job.dry_run["missing_campaigns"] == []


def test_after_creating_them_the_rows_are_imported_with_their_campaign(client, actors, job):
    logged_in(client, actors.teammate).post(f"/inquiries/imports/{job.pk}/campaigns/")
    job = dry_run(actors.teammate, job)
    with tenant_context(actors.tenant_a):
        job = imports.start_import(job=job, by=actors.teammate.principal)
        imports.run_import_job(job=job)
        found = dict(Inquiry.objects.values_list("email", "campaign__name"))
    assert found == {
        "a@x.example": "Q4 Webinar",
        "b@x.example": "Q4 Webinar",
        "c@x.example": "Trade Show",
        "d@x.example": "Known",
        "e@x.example": None,
        "f@x.example": None,
    }


def test_pressing_the_button_twice_creates_nothing_more(client, actors, job):
    page = logged_in(client, actors.teammate)
    page.post(f"/inquiries/imports/{job.pk}/campaigns/")
    page.post(f"/inquiries/imports/{job.pk}/campaigns/")
    assert names(actors.tenant_a) == ["Known", "Old fair", "Q4 Webinar", "Trade Show"]


def test_a_qualifier_may_not_create_campaigns(client, actors, job):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    response = logged_in(client, qualifier).post(f"/inquiries/imports/{job.pk}/campaigns/")
    assert response.status_code == 403
    assert names(actors.tenant_a) == ["Known", "Old fair"]


def test_another_tenants_import_is_404(client, actors, job):
    response = logged_in(client, actors.outsider).post(f"/inquiries/imports/{job.pk}/campaigns/")
    assert response.status_code == 404
    assert names(actors.tenant_a) == ["Known", "Old fair"]
    assert names(actors.tenant_b) == ["Trade Show"]
