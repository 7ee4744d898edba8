"""`manage.py seed_demo`: the demo shows the product, through the services, once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Sum

from inquiries import definition_template
from inquiries.models import (
    Activity,
    Campaign,
    DefinitionStatus,
    DisqualifyReason,
    Inquiry,
    LeadDefinition,
    Stage,
)
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Tenant
from leads.models import Lead


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def stages(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        rows = Inquiry.objects.values("stage").annotate(n=Count("id"))
        return {row["stage"]: row["n"] for row in rows}


def totals(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            "inquiries": Inquiry.objects.count(),
            "activities": Activity.objects.count(),
            "campaigns": Campaign.objects.count(),
            "reasons": DisqualifyReason.objects.count(),
            "definitions": LeadDefinition.objects.count(),
            "leads": Lead.objects.count(),
        }


def test_every_demo_tenant_has_mqls_nurture_disqualified_and_leads(db, small_demo):
    seed()
    for tenant in Tenant.objects.all():
        found = stages(tenant)
        assert found.get(Stage.MQL, 0) >= 3, (tenant.slug, found)
        assert found.get(Stage.NURTURE, 0) >= 10, (tenant.slug, found)
        assert found.get(Stage.DISQUALIFIED, 0) >= 2, (tenant.slug, found)
        assert found.get(Stage.LEAD, 0) >= 2, (tenant.slug, found)


def test_full_demo_has_a_few_hundred_inquiries_per_tenant(db):
    seed()
    for tenant in Tenant.objects.all():
        assert 120 <= totals(tenant)["inquiries"] <= 400


def test_disqualified_demo_inquiries_carry_a_reason_from_the_tenants_list(db, small_demo):
    seed()
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        labels = set(DisqualifyReason.objects.values_list("label", flat=True))
        given = set(
            Inquiry.objects.filter(stage=Stage.DISQUALIFIED).values_list(
                "disqualified_reason", flat=True
            )
        )
    assert {"Student or job seeker", "Competitor", "No budget", "Spam or fake details"} <= labels
    assert given and given <= labels


def test_demo_definition_is_the_template_signed_by_two_people_and_active(db, small_demo):
    seed()
    for tenant in Tenant.objects.all():
        with tenant_context(tenant):
            definition = LeadDefinition.objects.get()
            sign_offs = list(definition.sign_offs.all())
            scored = Inquiry.objects.filter(definition=definition).count()
            unscored = Inquiry.objects.filter(definition__isnull=True).count()
        assert definition.status == DefinitionStatus.ACTIVE
        assert definition.fit_rules == definition_template.TEMPLATE_FIT_RULES
        assert definition.mql_threshold == definition_template.TEMPLATE_THRESHOLD
        assert {s.side for s in sign_offs} == {"marketing", "sales"}
        assert len({s.user_id for s in sign_offs}) == 2
        assert scored and not unscored


def test_demo_activities_spread_over_the_last_90_days(db, small_demo):
    seed()
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        days = {
            (Inquiry.objects.get(pk=pk).created_at.date())
            for pk in Inquiry.objects.values_list("pk", flat=True)
        }
        oldest = Activity.objects.order_by("occurred_at").first().occurred_at
        newest = Activity.objects.order_by("-occurred_at").first().occurred_at
    assert (newest - oldest).days >= 60
    assert len(days) >= 30


def test_demo_leads_were_booked_through_the_booking_service(db, small_demo):
    seed()
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        leads = list(Lead.objects.select_related("rep", "partner", "appointment"))
        booked = AuditEvent.objects.filter(action="appointment.booked").count()
    assert leads and booked == len(leads)
    assert {lead.rep.email for lead in leads if lead.rep} == {"rep@acme.example"}
    assert any(lead.partner and lead.partner.name == "Northwind Dealers" for lead in leads)


def test_seeding_twice_adds_nothing(db, small_demo):
    seed()
    first = {t.slug: totals(t) for t in Tenant.objects.all()}
    output = seed()
    assert {t.slug: totals(t) for t in Tenant.objects.all()} == first
    assert "already has its demo data" in output


class Undo(Exception):
    """Raised to roll a seeded database back to before the seed."""


def seeded_people() -> list[tuple]:
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        rows = Inquiry.objects.order_by("email").values_list(
            "email", "company", "title", "stage", "disqualified_reason"
        )
        return list(rows)


def test_seeding_an_empty_database_gives_the_same_people_every_time(db, small_demo):
    with pytest.raises(Undo), transaction.atomic():
        seed()
        first = seeded_people()
        raise Undo
    assert not Tenant.objects.exists()
    seed()
    assert seeded_people() == first


def test_every_demo_email_is_one_the_api_would_accept(db):
    """Names with accents (Tomás) give ASCII addresses, as every door requires."""
    seed()
    for tenant in Tenant.objects.all():
        with tenant_context(tenant):
            emails = list(Inquiry.objects.exclude(email="").values_list("email", flat=True))
        for email in emails:
            validate_email(email)


def test_the_demo_has_sent_messages_and_one_failed_webhook(db, small_demo):
    seed()
    seed()
    for tenant in Tenant.objects.all():
        with tenant_context(tenant):
            demo = OutboxMessage.objects.filter(key__startswith="demo:")
            rows = demo.values("state").annotate(n=Count("id"))
            assert {row["state"]: row["n"] for row in rows} == {"sent": 3, "failed": 1}


def test_the_demo_has_last_weeks_report_and_a_second_seed_adds_none(db, small_demo):
    """``make run`` opens /reports/weekly/ on a snapshot made from the demo's own leads."""
    from reporting.weekly.models import WeeklyReport, WeeklyReportLine
    from reporting.weekly.selectors import last_week

    assert "Weekly report snapshots made" in seed()
    tenant = Tenant.objects.get(slug="acme")
    with tenant_context(tenant):
        reports = list(WeeklyReport.objects.order_by("week"))
        assert len(reports) == 4 and reports[-1].week == last_week(tenant)
        newest = WeeklyReportLine.objects.get(report=reports[-1], scope="tenant")
        assert newest.progressed_count + newest.missing_count > 0
    assert "Weekly report snapshots made" not in seed()
    with tenant_context(tenant):
        assert WeeklyReport.objects.count() == 4


def test_the_demo_fills_the_dashboards(db, small_demo):
    """The demo's rollups are built: the funnel counts every inquiry, each lead has its fact."""
    from reporting.dashboards.models import FunnelRollup, LeadFact

    seed()
    tenant = Tenant.objects.get(slug="acme")
    with tenant_context(tenant):
        assert FunnelRollup.objects.aggregate(n=Sum("inquiries"))["n"] == Inquiry.objects.count()
        assert FunnelRollup.objects.aggregate(n=Sum("leads"))["n"] > 0
        assert LeadFact.objects.count() == Lead.objects.count()
        facts = set(LeadFact.objects.values_list("lead_id", "stage"))
        assert facts == set(Lead.objects.values_list("id", "stage"))
