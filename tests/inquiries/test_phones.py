"""Phones parsed against the tenant's country: one person whichever way the number is typed."""

from __future__ import annotations

import pytest

from inquiries.models import Inquiry
from inquiries.services.capture import capture_inquiry
from inquiries.services.phones import renormalize_phones
from leadflow.lib.phone import normalize
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory
from tests.inquiries.test_imports import csv_bytes, import_file


@pytest.mark.parametrize(
    ("raw", "region", "normalized"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 30 1234567", "DE", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("+49 (0)30 1234567", "", "+49301234567"),
        ("030 1234567", "", "0301234567"),  # no country: its digits, as before
        ("(555) 010-2000", "US", "+15550102000"),
        ("+1 (555) 010-2000", "", "+15550102000"),
        ("12", "DE", ""),
        ("call me", "DE", ""),
    ],
)
def test_numbers_are_parsed_in_the_tenants_country(raw, region, normalized):
    assert normalize(raw, region) == normalized


def test_a_local_and_an_international_spelling_are_one_person(actors):
    tenant = actors.owner.tenant
    tenant.country = "DE"
    tenant.save(update_fields=["country"])
    with tenant_context(tenant):
        first = capture_inquiry(profile={"phone": "030 1234567"}, by=actors.owner.principal)
        second = capture_inquiry(profile={"phone": "+49 30 1234567"}, by=actors.owner.principal)
        assert first.inquiry.pk == second.inquiry.pk
        assert Inquiry.objects.count() == 1
    job = import_file(
        actors.owner,
        csv_bytes([["", "Kim", "", "0049-30-1234567", "", "", "", ""]]),
    )
    assert (job.new_count, job.merged_count) == (0, 1)


def test_renormalising_reveals_the_duplicates_digits_hid(actors):
    tenant = actors.owner.tenant
    with tenant_context(tenant):
        a = InquiryFactory(tenant=tenant, phone="030 1234567", phone_normalized="0301234567")
        b = InquiryFactory(tenant=tenant, phone="+49 30 1234567", phone_normalized="+49301234567")
        InquiryFactory(tenant=tenant, phone="+49 89 7654321", phone_normalized="+49897654321")
    tenant.country = "DE"
    tenant.save(update_fields=["country"])
    with tenant_context(tenant):
        report = renormalize_phones(by=actors.owner.principal)
        assert (report.checked, report.changed) == (3, 1)
        assert report.duplicates == {"+49301234567": [a.pk, b.pk]}
        again = renormalize_phones(by=actors.owner.principal)
    assert again.changed == 0
