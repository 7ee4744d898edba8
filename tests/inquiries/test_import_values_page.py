"""The value step of the import wizard, through the Django test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inquiries.models import CustomField, ImportJob
from inquiries.services import imports
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_import_pages import mapping_data

EXPORT = Path(__file__).parent / "data" / "crm_export.csv"


@pytest.fixture(autouse=True)
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


def uploaded(actor) -> ImportJob:
    upload = SimpleUploadedFile("crm_export.csv", EXPORT.read_bytes(), content_type="text/csv")
    with tenant_context(actor.tenant):
        return imports.analyse_upload(file=upload, file_name=upload.name, by=actor.principal)


def columns_mapped(client, job) -> None:
    data = mapping_data(job, Specialization="new")
    n = job.headers.index("Specialization")
    data.update(
        {
            f"c{n}_label": "Specialization",
            f"c{n}_kind": "choice",
            f"c{n}_choices": "Finance Management, Marketing Management, IT Projects",
        }
    )
    response = client.post(f"/inquiries/imports/{job.pk}/mapping/", data)
    assert response.status_code == 302
    assert response["Location"] == f"/inquiries/imports/{job.pk}/values/"


def test_the_values_found_are_listed_with_counts_and_first_guesses(marketer_client, actors):
    job = uploaded(actors.teammate)
    columns_mapped(marketer_client, job)
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/values/").content.decode()
    assert page.count('data-testid="value-column"') == 4  # source, outcome, country, custom
    assert 'data-value="United Arab Emirates"' in page
    assert '<option value="AE" selected>' in page
    assert '<option value="won" selected>Won</option>' in page
    assert "+ New choice “Peru”" in page
    assert 'data-value="Select"' not in page  # a placeholder: empty already


def test_saving_the_values_leads_to_the_dry_run_and_adds_new_choices(marketer_client, actors):
    job = uploaded(actors.teammate)
    columns_mapped(marketer_client, job)
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/values/").content.decode()
    data = {}
    for line in page.splitlines():
        if 'data-testid="value-select"' in line:
            name = line.split('name="')[1].split('"')[0]
            data[name] = "__keep__"
    with tenant_context(actors.tenant_a):
        job.refresh_from_db()
    headers = [h for h in job.headers if h in ("Lead Source", "Converted", "Country")]
    assert headers
    # Map every value by its guess except Peru (a new choice) and Google (web form).
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/values/", data)
    assert response.status_code == 302
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/values/").content.decode()
    peru = page.split('data-value="Peru"')[1].split('name="')[1].split('"')[0]
    google = page.split('data-value="Google"')[1].split('name="')[1].split('"')[0]
    response = marketer_client.post(
        f"/inquiries/imports/{job.pk}/values/", {peru: "+new", google: "web_form"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/inquiries/imports/{job.pk}/"
    with tenant_context(actors.tenant_a):
        job.refresh_from_db()
        assert "Peru" in CustomField.objects.get(key="specialization").choices
    assert job.mapping["Lead Source"]["values"] == {"Google": "web_form"}


def test_a_value_that_is_not_allowed_is_refused_with_a_message(marketer_client, actors):
    job = uploaded(actors.teammate)
    columns_mapped(marketer_client, job)
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/values/").content.decode()
    google = page.split('data-value="Google"')[1].split('name="')[1].split('"')[0]
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/values/", {google: "+new"})
    assert response.status_code == 400
    assert "Choose one of the listed values." in response.content.decode()
    with tenant_context(actors.tenant_a):
        job.refresh_from_db()
    assert "values" not in job.mapping["Lead Source"]
