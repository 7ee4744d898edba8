"""The demo (`manage.py seed_demo`) sets the country through the service: a finished phone job."""

from io import StringIO

from django.core.management import call_command

from inquiries.models import PhoneJob
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant


def test_the_demo_tenant_has_a_country_and_a_finished_phone_job(db, monkeypatch, small_demo):
    monkeypatch.setattr("inquiries.tasks.run_phone_job_task.delay", lambda **kwargs: None)
    call_command("seed_demo", stdout=StringIO())
    acme = Tenant.objects.get(slug="acme")
    assert acme.country == "DE"
    with tenant_context(acme):
        job = PhoneJob.objects.get()
    assert (job.status, job.region) == ("done", "DE") and job.done > 0
