"""The demo (`manage.py seed_demo`): this quarter's targets for the demo rep and partners."""

from io import StringIO

from django.core.management import call_command

from leadflow.lib import times
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leads.models import Target
from leads.selectors.targets import current_quarter


def test_the_demo_has_this_quarters_targets_for_the_rep_and_the_partner(db, small_demo):
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # a second start keeps one target per owner
    acme = Tenant.objects.get(slug="acme")
    quarter = current_quarter(times.zone(acme.timezone))
    with tenant_context(acme):
        targets = list(
            Target.objects.filter(year=quarter.year, quarter=quarter.number).select_related(
                "rep", "partner"
            )
        )
    names = sorted(t.rep.email if t.rep else t.partner.name for t in targets)
    assert "rep@acme.example" in names
    assert any(t.partner_id for t in targets)
    assert len(names) == len(set(names))
