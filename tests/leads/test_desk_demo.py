"""The qualifier's desk in the demo (`manage.py seed_demo`): a queue with tasks, worked MQLs."""

from io import StringIO

from django.core.management import call_command

from inquiries.demo import acting_member
from inquiries.models import InquiryNote, SavedView
from inquiries.selectors.desk import open_tasks
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leads.models import Touch


def test_the_demo_qualifier_has_worked_mqls_tasks_and_a_shared_view(db, small_demo):
    call_command("seed_demo", stdout=StringIO())
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        qualifier = acting_member(acme, "qualifier@acme.example")
        due = list(open_tasks(due="today", assignee_id=qualifier.user.pk, tz=qualifier.timezone))
        touches = Touch.objects.filter(lead__isnull=True, user=qualifier.user).count()
        notes = InquiryNote.objects.filter(author=qualifier.user).count()
        shared = SavedView.objects.filter(shared=True, name="Untouched MQLs").exists()
    assert len(due) >= 2 and touches >= 4 and notes == 3 and shared
