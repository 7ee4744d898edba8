"""Demo data of issue 24: the tenant's country, and a CRM export waiting at the value step."""

from __future__ import annotations

import csv
import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile

from inquiries.demo import acting_member
from inquiries.models import ImportJob
from inquiries.services import imports, phones
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal

FILE_NAME = "crm-leads-export-2026.csv"


def _export(rows: int = 300, seed: int = 24) -> bytes:
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        ["Lead Number", "Lead Source", "Converted", "TotalVisits", "Country", "Specialization"]
    )
    for n in range(rows):
        writer.writerow(
            [
                660000 + 7 * n,
                rng.choice(["Google", "Olark Chat", "Reference", "Direct Traffic", "Chat widget"]),
                rng.choice(["0", "0", "1"]),
                rng.choice(["0", "2", "4", "7", "12"]),
                rng.choice(["Germany", "DE", "Austria", "Switzerland", "UK", "Select"]),
                rng.choice(["Finance Management", "IT Projects", "Select", "Peru"]),
            ]
        )
    return buffer.getvalue().encode()


def seed_demo_onboarding(*, tenant: Tenant) -> bool:
    """Set the tenant's country (phones) and leave a mapped CRM export at its value step, once."""
    if not tenant.country:
        _set_country(tenant, "DE")
    with tenant_context(tenant):
        if ImportJob.objects.filter(file_name=FILE_NAME).exists():
            return False
        marketer = acting_member(tenant, f"marketer@{tenant.slug}.example")
        job = imports.analyse_upload(
            file=SimpleUploadedFile(FILE_NAME, _export()), file_name=FILE_NAME, by=marketer
        )
        imports.set_mapping(
            job=job, mapping=job.mapping, placeholders=list(job.placeholders), by=marketer
        )
    return True


def _set_country(tenant: Tenant, country: str) -> None:
    """Set the country as an admin would, and run its phone job now: the lead settings page
    then shows the numbers it found shared (the demo's capture data has a few)."""
    with tenant_context(tenant):
        job = phones.set_tenant_country(country=country, by=Principal.system(tenant, "demo"))
        if job is not None:
            phones.run_phone_job(job=job)
    tenant.country = country
