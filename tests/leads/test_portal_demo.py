"""The demo's partners (`manage.py seed_demo`): Northwind reports, Contoso is about to be paused."""

from io import StringIO

from django.core.management import call_command

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Partner, Tenant
from leads.demo import DEMO_SECOND_PARTNER
from leads.selectors.compliance import COMPLIANT, WARNED, partner_compliance


def test_the_demo_has_a_compliant_partner_and_one_about_to_be_suspended(db, small_demo):
    call_command("seed_demo", stdout=StringIO())
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        northwind = Partner.objects.get(name="Northwind Dealers")
        contoso = Partner.objects.get(name=DEMO_SECOND_PARTNER)
        standing = partner_compliance([northwind.pk, contoso.pk])
    assert standing[northwind.pk].state == COMPLIANT
    assert standing[contoso.pk].state == WARNED
    assert len(standing[contoso.pk].missing_weeks) == 1
    assert len(standing[contoso.pk].missing_leads) == 3
