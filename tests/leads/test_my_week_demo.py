"""The demo rep's week (`manage.py seed_demo`): My week shows something of every kind."""

from io import StringIO

from django.core.management import call_command

from inquiries.demo import acting_member
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leads.models import Lead, Touch
from leads.selectors.my_week import my_week


def test_the_demo_rep_has_a_week_to_report_on(db):
    call_command("seed_demo", stdout=StringIO())
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        rep = acting_member(acme, "rep@acme.example")
        week = my_week(rep)
        stages = set(Lead.objects.filter(rep_id=rep.user.pk).values_list("stage", flat=True))
        kinds = set(Touch.objects.values_list("kind", flat=True))
    assert len(week.awaiting) == 2
    assert len(week.to_report) >= 4 and week.reported_count >= 4
    assert week.reported_count < week.owed
    assert len(week.late) == 1
    assert {"won", "lost", "postponed", "accepted", "sql"} <= stages
    assert {"call", "email", "meeting"} <= kinds
    assert any(lead.next_step for lead in week.to_report)
