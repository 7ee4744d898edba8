"""A dealer's integration that retries: 50 concurrent POSTs with one Idempotency-Key write once."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from leads.models import Touch
from tests.conftest import transactional_databases
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, TenantFactory

RACERS = 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_fifty_concurrent_touches_with_one_key_log_one_touch():
    tenant = TenantFactory(slug="dealer-race")
    partner = PartnerFactory(tenant=tenant, name="Northwind")
    with tenant_context(tenant):
        lead = LeadFactory(
            tenant=tenant,
            inquiry=InquiryFactory(tenant=tenant, stage="lead"),
            partner=partner,
            stage="accepted",
            assigned_at=timezone.now() - timedelta(days=3),
        )
        secret = services.issue_api_key(
            name="dealer CRM", partner=partner, by=Principal.system(tenant, "tests")
        ).secret
    start = threading.Barrier(RACERS)
    statuses: list[int] = []

    def worker():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
            start.wait()
            # A touch has no natural uniqueness: only the key stops 50 retries making 50.
            response = client.post(
                f"/api/v1/leads/{lead.pk}/touches/",
                {"kind": "call", "outcome": "no_answer", "note": "retried"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="dealer-crm-touch-1",
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with tenant_context(tenant):
        assert Touch.objects.filter(lead_id=lead.pk).count() == 1
    assert len(statuses) == RACERS
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
