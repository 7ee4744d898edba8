"""The tenant's country on the lead settings page and API: a change starts re-parsing phones."""

from __future__ import annotations

import pytest

from inquiries.models import PhoneJob
from inquiries.services.phones import run_phone_job
from inquiries.tasks import run_phone_job_task
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from tests.factories import InquiryFactory
from tests.leads.test_settings import client_of, form

PAGE = "/settings/leads/"
API = "/api/v1/lead-settings/"


@pytest.fixture
def queued(monkeypatch):
    messages = []
    monkeypatch.setattr(run_phone_job_task, "delay", lambda **kwargs: messages.append(kwargs))
    return messages


@pytest.fixture
def shared(actors):
    with tenant_context(actors.tenant_a):
        InquiryFactory(tenant=actors.tenant_a, phone="030 1234567", phone_normalized="0301234567")
        InquiryFactory(
            tenant=actors.tenant_a, phone="+49 30 1234567", phone_normalized="+49301234567"
        )


def jobs_of(tenant) -> list[PhoneJob]:
    with tenant_context(tenant):
        return list(PhoneJob.objects.all())


def test_the_page_offers_countries_by_name(actors):
    page = client_of(actors.owner).get(PAGE).content.decode()
    assert '<option value="DE">Germany</option>' in page


def test_choosing_a_country_on_the_page_starts_the_job_and_shows_its_progress(
    actors, shared, queued, django_capture_on_commit_callbacks
):
    client = client_of(actors.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE, form(country="DE"), follow=True)
    assert Tenant.objects.get(pk=actors.tenant_a.pk).country == "DE"
    [job] = jobs_of(actors.tenant_a)
    assert queued == [{"job_id": job.pk, "tenant_id": actors.tenant_a.pk}]
    body = response.content.decode()
    assert "being parsed again" in body
    assert 'data-testid="phone-job"' in body and "every 2s" in body


def test_the_page_shows_the_numbers_now_shared_when_done(actors, shared, queued):
    client_of(actors.owner).post(PAGE, form(country="DE"))
    [job] = jobs_of(actors.tenant_a)
    with tenant_context(actors.tenant_a):
        run_phone_job(job=job)
    body = client_of(actors.owner).get(PAGE).content.decode()
    assert "1 number now shared by several inquiries" in body
    assert "every 2s" not in body
    progress = client_of(actors.owner).get(f"{PAGE}phones/{job.pk}/")
    assert progress.status_code == 200 and "+49301234567: 2 inquiries" in progress.content.decode()


def test_saving_the_page_with_the_same_country_starts_nothing(actors, queued):
    client_of(actors.owner).post(PAGE, form(country=""))
    assert jobs_of(actors.tenant_a) == []


def test_an_unknown_country_on_the_page_is_refused(actors, queued):
    response = client_of(actors.owner).post(PAGE, form(country="XX"))
    assert response.status_code == 400
    assert Tenant.objects.get(pk=actors.tenant_a.pk).country == ""


def test_the_api_changes_the_country_and_reports_the_job(actors, shared, queued):
    response = actors.owner.api().patch(API, {"country": "DE"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["country"] == "DE"
    assert body["phone_job"]["status"] == "queued" and body["phone_job"]["total"] == 2


def test_the_api_refuses_an_unknown_country_naming_it(actors, queued):
    response = actors.owner.api().patch(API, {"country": "UK"}, format="json")
    assert response.status_code == 400
    assert "country" in response.json()["errors"]
    assert jobs_of(actors.tenant_a) == []


def test_another_tenants_job_progress_is_a_404(actors, shared, queued):
    client_of(actors.owner).post(PAGE, form(country="DE"))
    [job] = jobs_of(actors.tenant_a)
    assert client_of(actors.outsider).get(f"{PAGE}phones/{job.pk}/").status_code == 404


def test_a_marketer_cannot_see_the_job_progress(actors, shared, queued):
    client_of(actors.owner).post(PAGE, form(country="DE"))
    [job] = jobs_of(actors.tenant_a)
    assert client_of(actors.teammate).get(f"{PAGE}phones/{job.pk}/").status_code in (403, 404)
