"""In the browser: duplicates on evidence, a merge that keeps every address, an import's rename."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from inquiries.models import Inquiry
from inquiries.services import imports
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def people(tenant):
    """Dana twice (two addresses), J. Smith twice, and three numbered addresses of strangers."""
    week_ago = timezone.now() - timedelta(days=7)
    for email, first, last, company in [
        ("ref1@dealercust.example", "Lena", "Voss", "Voss Metall"),
        ("ref2@dealercust.example", "Omar", "Haddad", "Haddad Fabrication"),
        ("ref3@dealercust.example", "Ines", "Moreau", "Atelier Moreau"),
        ("j.smith@acme.example", "J", "Smith", "Acme"),
        ("john.smith@acme.example", "John", "Smith", "Acme Inc"),
    ]:
        InquiryFactory(
            tenant=tenant,
            email=email,
            first_name=first,
            last_name=last,
            company=company,
            company_domain=email.partition("@")[2],
        )
    InquiryFactory(
        tenant=tenant,
        first_name="Dana",
        last_name="Okafor",
        email="dana@freight.example",
        company="Freight Co",
        created_at=week_ago,
        updated_at=week_ago,
    )
    InquiryFactory(
        tenant=tenant,
        first_name="Dana",
        last_name="Okafor",
        email="d.okafor@freight.example",
        company="Freight Co",
    )


def import_rename(tenant, actor, settings, tmp_path):
    """A file in which Dana's address comes twice, the second time as "Danielle"."""
    settings.IMPORTS_ROOT = tmp_path / "imports"
    content = (
        b"Email,First Name,Last Name\r\n"
        b"dana@freight.example,Dana,Okafor\r\n"
        b"dana@freight.example,Danielle,Okafor\r\n"
    )
    mapping = {
        "Email": {"to": "field", "field": "email"},
        "First Name": {"to": "field", "field": "first_name"},
        "Last Name": {"to": "field", "field": "last_name"},
    }
    with tenant_context(tenant):
        job = imports.analyse_upload(
            file=SimpleUploadedFile("trade-show.csv", content),
            file_name="trade-show.csv",
            by=actor.principal,
        )
        job = imports.set_mapping(job=job, mapping=mapping, placeholders=[], by=actor.principal)
        job = imports.start_import(job=job, by=actor.principal)
        imports.run_import_job(job=job)


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_duplicates_merge_and_the_kept_addresses_on_desktop_and_phone(
    live_server, page, screenshot, settings, tmp_path
):
    tenant = TenantFactory(slug="emails-browser", name="Freight Buyers")
    qualifier = make_actor(tenant, Role.QUALIFIER)
    people(tenant)
    log_in(page, live_server, qualifier.user.email)

    page.goto(f"{live_server.url}/inquiries/duplicates/")
    pairs = page.get_by_test_id("duplicate-pairs")
    expect(pairs.locator("tbody tr")).to_have_count(2)
    expect(pairs).to_contain_text("similar email at the same company")
    expect(pairs).not_to_contain_text("dealercust.example")
    screenshot("duplicates-desktop")
    page.set_viewport_size(PHONE)
    screenshot("duplicates-phone")
    assert fits_the_width(page)
    page.set_viewport_size(DESKTOP)

    pairs.locator("tr", has_text="dana@freight.example").get_by_role(
        "button", name="Review merge"
    ).click()
    expect(page.get_by_test_id("kept-emails")).to_have_text("dana@freight.example")
    screenshot("merge-preview-desktop")
    page.set_viewport_size(PHONE)
    screenshot("merge-preview-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_test_id("confirm-merge").click()
    expect(page.get_by_role("status")).to_contain_text("Merged 2 inquiries")
    expect(page.get_by_test_id("additional-emails")).to_contain_text("dana@freight.example")

    # The old address comes back in an import, twice, the second time renamed.
    import_rename(tenant, qualifier, settings, tmp_path)
    with tenant_context(tenant):
        dana = Inquiry.objects.get(email="d.okafor@freight.example")
    assert dana.first_name == "Danielle"
    page.goto(f"{live_server.url}/inquiries/{dana.pk}/")
    expect(page.get_by_test_id("inquiry-name")).to_have_text("Danielle Okafor")
    expect(page.get_by_test_id("value-changes")).to_contain_text(
        "First name: “Dana” → “Danielle” (row 3 of trade-show.csv"
    )
    screenshot("inquiry-desktop")
    page.set_viewport_size(PHONE)
    expect(page.get_by_test_id("additional-emails")).to_be_visible()
    screenshot("inquiry-phone")

    page.goto(f"{live_server.url}/inquiries/?q=dana%40freight.example")
    expect(page.get_by_role("link", name="Danielle Okafor")).to_be_visible()
