"""Every HTML page of the app, at phone and desktop width, with realistic data.

For each page (as the role that can see it): at 390 px nothing scrolls
sideways, at 1,280 px the top bar is one row, axe-core finds no serious or
critical accessibility violation, and a screenshot of both widths is saved
under ``test-output/screenshots/`` for a person to look at.

Not visited, because they are not pages: the htmx fragments a page polls
(``…/progress/``, ``…/dry-run/progress/``, ``…/rescore-progress/``), the CSV
downloads, and the POST-only actions (their result pages are visited).

``EVERY_PAGE_ONLY=inbox,inquiry`` visits only the pages named, while working on them.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inquiries.models import Activity, DisqualifyReason, Inquiry, SavedView, SuggestJob
from inquiries.selectors.inbox import Selection
from inquiries.services import definitions as definition_services
from inquiries.services import imports as import_services
from inquiries.services import triage
from inquiries.services.custom_fields import define_custom_field
from leadflow.outbox import services as outbox_services
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.tenancy import invitation_links
from leadflow.tenancy import services as tenancy_services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import PartnerKind, Role, UserToken
from leadflow.tenancy.principal import Principal
from leads.services import booking as appointment_services
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import Actor, make_actor, transactional_databases
from tests.factories import (
    ActivityFactory,
    CampaignFactory,
    InquiryFactory,
    InvitationFactory,
    LeadDefinitionFactory,
    MembershipFactory,
    PartnerFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}

PEOPLE = [
    ("Amelia", "Okonkwo-Richardson", "VP Operations", "Northbridge Precision Manufacturing"),
    ("Ben", "Hartley", "Director of Operations", "Hartley Fabrication"),
    ("Carmen", "Villanueva", "Plant Manager", "Villanueva Metalworks S.A."),
    ("Dmitri", "Sokolov", "Head of Engineering", "Volga Robotics"),
    ("Eun-ji", "Park", "Procurement Lead", "Seoul Automation Co."),
    ("Fatima", "Al-Sayed", "COO", "Gulf Industrial Systems"),
    ("Gregor", "Lindqvist", "Production Engineer", "Nordic Welding AB"),
    ("Hannah", "Schmidt", "Maintenance Supervisor", "Schmidt & Söhne GmbH"),
]


@dataclass
class App:
    """The tenant, its people and one row of everything a page shows."""

    tenant: object
    admin: Actor
    marketer: Actor
    qualifier: Actor
    manager: Actor
    rep: Actor
    partner_user: Actor
    outsider_email: str
    ids: dict[str, int] = field(default_factory=dict)
    invitation_token: str = ""


def person(tenant, role: str, name: str, email: str, **kwargs) -> Actor:
    return make_actor(tenant, role, user__full_name=name, user__email=email, **kwargs)


def build_app(imports_root: Path) -> App:
    tenant = TenantFactory(slug="acme-pages", name="Acme Robotics", timezone="Europe/Berlin")
    northwind = PartnerFactory(
        tenant=tenant,
        name="Northwind Dealers",
        kind=PartnerKind.DEALER,
        contact_email="sales@northwind.example",
    )
    PartnerFactory(tenant=tenant, name="Contoso Value-Added Resellers", kind=PartnerKind.VAR)
    app = App(
        tenant=tenant,
        admin=person(tenant, Role.ADMIN, "Dana Whitfield", "dana.whitfield@acme.example"),
        marketer=person(tenant, Role.MARKETER, "Marco Reyes", "marco.reyes@acme.example"),
        qualifier=person(tenant, Role.QUALIFIER, "Quinn Albright", "quinn@acme.example"),
        manager=person(tenant, Role.MANAGER, "Morgan Ellis", "morgan.ellis@acme.example"),
        rep=person(tenant, Role.REP, "Riley Chen", "riley.chen@acme.example"),
        partner_user=person(
            tenant,
            Role.REP,
            "Nora Lindqvist",
            "nora@northwind.example",
            partner=northwind,
        ),
        outsider_email=UserFactory(
            email="no.tenant@elsewhere.example", full_name="Olive Outsider"
        ).email,
    )
    second_manager = person(tenant, Role.MANAGER, "Sam Okafor", "sam.okafor@acme.example")
    # The admin also works for a second tenant: the widest top bar has the switcher.
    MembershipFactory(
        tenant=TenantFactory(slug="globex-pages", name="Globex Industrial"),
        user=app.admin.user,
        role=Role.MANAGER,
    )
    system = Principal.system(tenant, "tests")
    now = timezone.now()
    campaign = CampaignFactory(
        tenant=tenant, name="Spring trade show 2026 — Hanover", spend=Decimal("18500")
    )
    CampaignFactory(tenant=tenant, name="Predictive maintenance webinar series", spend=0)
    CampaignFactory(
        tenant=tenant, name="Autumn print ads", spend=Decimal("6200.5"), archived_at=now
    )
    active = LeadDefinitionFactory(
        tenant=tenant, version=1, name="Agreed Q1 2026", activated_at=now - timedelta(days=40)
    )

    inquiries = []
    for n in range(24):
        first, last, title, company = PEOPLE[n % len(PEOPLE)]
        created = now - timedelta(days=n * 3, hours=n)
        inquiry = InquiryFactory(
            tenant=tenant,
            first_name=first,
            last_name=f"{last}{'' if n < len(PEOPLE) else f' {n}'}",
            email=f"{first.lower()}.{last.lower()}{n}@{company.split()[0].lower()}.example",
            title=title,
            company=company,
            phone="+49 30 1234567" if n == 0 else "",
            score=90 - n * 3,
            fit_score=50,
            engagement_score=max(0, 40 - n * 3),
            created_at=created,
            campaign=campaign if n % 2 else None,
            definition=active,
            scored_at=created,
            score_breakdown=[
                {
                    "rule": "Title is VP Operations or Director of Operations",
                    "kind": "fit",
                    "points": 30,
                },
                {"rule": "Company size 200–999 employees", "kind": "fit", "points": 20},
                {
                    "rule": "Attended a webinar (decays 10%/week)",
                    "kind": "engagement",
                    "points": 15,
                },
            ],
        )
        inquiries.append(inquiry)
        ActivityFactory(tenant=tenant, inquiry=inquiry, kind="webinar", occurred_at=created)
    detailed = inquiries[0]
    with tenant_context(tenant):
        Activity.objects.create(
            tenant=tenant,
            inquiry=detailed,
            kind="page_visit",
            occurred_at=now - timedelta(hours=2),
            details={
                "url": "https://www.acme-robotics.example/products/robotic-welding-cells/"
                "xl-2000-dual-station?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
                "referrer": "https://www.searchengine.example/search?q=robotic+welding+cell",
            },
        )
        Inquiry.objects.filter(pk=inquiries[1].pk).update(assigned_to=app.qualifier.user)
        Inquiry.objects.filter(pk=inquiries[2].pk).update(assigned_to=app.marketer.user)
        reason = DisqualifyReason.objects.create(tenant=tenant, label="Student or job seeker")
        triage.disqualify_inquiries(
            selection=Selection(ids=(inquiries[5].pk,)), reason=reason, by=system
        )
        SavedView.objects.create(
            tenant=tenant, user=app.qualifier.user, name="Hot this week", query="sort=score"
        )
        lead = appointment_services.book_appointment(
            inquiry=inquiries[3],
            starts_at=now + timedelta(days=3, hours=2),
            duration_minutes=45,
            rep=app.rep.user,
            location="https://meet.example/acme/volga-robotics-demo",
            by=app.qualifier.principal,
        )
        # The same person twice (a possible duplicate): same name and company.
        twin = InquiryFactory(
            tenant=tenant,
            first_name=detailed.first_name,
            last_name=detailed.last_name,
            email="a.okonkwo@gmail.example",
            company=detailed.company,
            title="Vice President, Operations",
            created_at=now - timedelta(days=1),
        )
        draft = definition_services.create_draft(
            values={"name": "Spring review — stricter fit for the welding line"},
            by=app.marketer.principal,
        )
        definition_services.sign_definition(
            definition=draft, side="marketing", by=app.manager.principal
        )
        job = triage.start_bulk_job(
            action="assign",
            selection=Selection(query="stage=inquiry"),
            values={"assignee": app.qualifier.user},
            by=app.manager.principal,
        )
        triage.run_bulk_job(job=job)
        tenancy_services.suspend_partner(
            partner=PartnerFactory(tenant=tenant, name="Initech Agents", kind=PartnerKind.AGENT),
            by=system,
        )
        member_token = _tokens(app, now)
        _failed_messages(now)
        invitation = InvitationFactory(
            tenant=tenant,
            email="harper.nguyen@northwind.example",
            role=Role.REP,
            partner=northwind,
            invited_by=app.admin.user,
        )
        InvitationFactory(
            tenant=tenant,
            email="jordan.blake@acme.example",
            role=Role.QUALIFIER,
            invited_by=app.admin.user,
            expires_at=now - timedelta(days=2),
        )
        tenancy_services.deactivate_member(
            membership=second_manager.membership, by=app.admin.principal
        )
        done_import = _import(app, imports_root, "trade-show-hanover-2026.csv", run=True)
        mapping_import = _import(app, imports_root, "webinar-attendees-march.csv", run=False)
        campaign_import = _campaign_import(app, imports_root)
        crm_import = _crm_import(app)
    app.ids.update(crm_import=crm_import.pk)
    with tenant_context(tenant):
        # Issue 24's follow-ups: a choice field's own page, a suggestion being fitted.
        region = define_custom_field(
            key="sales_region",
            label="Sales region",
            kind="choice",
            choices=["North", "South", "East", "West"],
            by=system,
        )
        fitting = SuggestJob.objects.create(
            tenant=tenant,
            created_by=app.marketer.user,
            status="running",
            step="Choosing the penalty by cross-validation",
            percent=40,
        )
    app.ids.update(choice_field=region.pk, suggest_job=fitting.pk)
    app.ids.update(
        detailed=detailed.pk,
        assigned=inquiries[1].pk,
        lead_inquiry=inquiries[3].pk,
        lead=lead.pk,
        disqualified=inquiries[5].pk,
        twin=twin.pk,
        active=active.pk,
        draft=draft.pk,
        bulk_job=job.pk,
        partner=northwind.pk,
        done_import=done_import.pk,
        mapping_import=mapping_import.pk,
        campaign_import=campaign_import.pk,
        campaign=campaign.pk,
        second_manager=second_manager.user.pk,
        member_token=member_token.pk,
        member=app.partner_user.membership.pk,
    )
    app.invitation_token = invitation_links.token(invitation)
    _routing(app, northwind)
    _webhooks(app, northwind)
    _nurture(app)
    return app


def _nurture(app: App) -> None:
    """The demo's nurture program with its people, and one contact's unsubscribe link (issue 19)."""
    from nurture import links
    from nurture.demo import DEMO_PROGRAM, seed_demo_nurture
    from nurture.models import NurtureProgram
    from nurture.services.consent import contact_consent

    seed_demo_nurture(tenant=app.tenant)
    with tenant_context(app.tenant):
        program = NurtureProgram.objects.get(name=DEMO_PROGRAM)
        first = program.enrollments.select_related("inquiry").first()
        token = contact_consent(first.inquiry).token if first else "none"
        step = program.steps.order_by("position").first()
    app.ids.update(
        nurture_inquiry=first.inquiry_id if first else 1,
        nurture_confirm=links.confirm_token(tenant_slug=app.tenant.slug, contact_token=token),
        nurture_program=program.pk,
        nurture_step=step.pk,
        nurture_unsubscribe=links.unsubscribe_token(
            tenant_slug=app.tenant.slug, contact_token=token
        ),
    )


def _webhooks(app: App, partner) -> None:
    """The demo's webhook endpoint of the partner, with its delivery log (issue 18)."""
    from leadflow.outbox.endpoints.demo import seed_demo_webhooks
    from leadflow.outbox.models import WebhookEndpoint

    seed_demo_webhooks(tenant=app.tenant, partner_name=partner.name)
    with tenant_context(app.tenant):
        app.ids.update(webhook_endpoint=WebhookEndpoint.objects.get(partner_id=partner.pk).pk)


def _routing(app: App, partner) -> None:
    """A team of a rep and a partner, and a rule sending German-speaking machinery to it."""
    from leads.services import teams as routing_services

    with tenant_context(app.tenant):
        team = routing_services.save_team(
            team=None,
            name="DACH",
            members=[(app.rep.membership, 2), (partner, None)],
            by=app.admin.principal,
        )
        rule = routing_services.create_rule(
            name="DACH machinery",
            team=team,
            countries=["DE", "AT", "CH"],
            industries=["Machinery"],
            size_min=50,
            by=app.admin.principal,
        )
    app.ids.update(routing_team=team.pk, routing_rule=rule.pk)


def _failed_messages(now) -> None:
    """Webhooks to an endpoint with no known secret and a refused email: the failed messages."""
    endpoint = "https://crm.northbridge-precision.example/hooks/leadflow/v2/events?source=acme"
    for n, event in enumerate(("lead.accepted", "lead.won", "appointment.booked")):
        outbox_services.enqueue(
            kind="webhook",
            key=f"webhook:crm:{event}:{n}",
            recipient=endpoint,
            payload={"type": event, "data": {}},
            cause=("webhook-endpoint", "crm"),
        )
    email = outbox_services.enqueue(
        kind="email",
        key="appointment:1:confirmation:buyer",
        recipient="amelia.okonkwo-richardson@northbridge-precision-manufacturing.example",
        payload={"subject": "Your appointment", "text": "See you on Tuesday."},
        cause=("appointment", 1),
    )
    outbox_services.dispatch_due()
    OutboxMessage.objects.filter(pk=email.pk).update(
        state=OutboxState.FAILED,
        failed_at=now - timedelta(hours=2),
        last_error="the mail server answered 550: 5.1.1 Recipient address rejected: "
        "user unknown in virtual mailbox table",
    )


def _tokens(app: App, now):
    """Named API tokens, used and unused, one revoked; returns a member's to revoke."""
    system = Principal.system(app.tenant, "tests")
    named = {}
    for actor, name, used in (
        (app.admin, "Laptop — curl scripts", timedelta(minutes=12)),
        (app.admin, "Old CI runner", None),
        (app.marketer, "Zapier — weekly campaign export", timedelta(days=2)),
        (app.qualifier, "Calendar sync", None),
    ):
        token = tenancy_services.issue_user_token(
            membership=actor.membership, name=name, by=system
        ).credential
        if used:
            UserToken.objects.filter(pk=token.pk).update(last_used_at=now - used)
        named[name] = token
    tenancy_services.revoke_user_token(token=named["Old CI runner"], by=system)
    return named["Zapier — weekly campaign export"]


IMPORT_HEADER = "Email,First Name,Last Name,Company,Employees,Webinar\r\n"


def _import(app: App, imports_root: Path, name: str, *, run: bool):
    rows = "".join(
        f"visitor{n}@fleet{n}.example,Sam,Visitor {n},Fleet {n} Logistics,{50 + n},2026-03-02\r\n"
        for n in range(12)
    )
    rows += "broken@fleet.example,Bo,Broken,Broken Ltd,many,\r\n"
    upload = SimpleUploadedFile(name, (IMPORT_HEADER + rows).encode())
    by = app.marketer.principal
    job = import_services.analyse_upload(file=upload, file_name=name, by=by)
    if not run:
        return job
    job = import_services.set_mapping(
        job=job, mapping=import_services.suggest_mapping(job.headers), placeholders=[], by=by
    )
    job = import_services.start_import(job=job, by=by)
    return import_services.run_import_job(job=job)


def _campaign_import(app: App, imports_root: Path):
    """An import whose dry run found campaigns that do not exist yet."""
    rows = "".join(
        f"buyer{n}@expo{n}.example,{name}\r\n"
        for n, name in enumerate(
            ["Hanover Messe 2026 — hall 17 booth", "LinkedIn retargeting Q2", "Spring trade show"]
        )
    )
    upload = SimpleUploadedFile("expo-leads.csv", ("Email,Campaign\r\n" + rows).encode())
    by = app.marketer.principal
    job = import_services.analyse_upload(file=upload, file_name="expo-leads.csv", by=by)
    job = import_services.set_mapping(
        job=job, mapping=import_services.suggest_mapping(job.headers), placeholders=[], by=by
    )
    job = import_services.request_dry_run(job=job, by=by)
    return import_services.run_dry_run(job=job)


def _crm_import(app: App):
    """A real CRM export mapped by the suggestion: its value step lists sources and countries."""
    path = Path(__file__).parent.parent / "inquiries" / "data" / "crm_export.csv"
    by = app.marketer.principal
    upload = SimpleUploadedFile("crm-export.csv", path.read_bytes())
    job = import_services.analyse_upload(file=upload, file_name="crm-export.csv", by=by)
    return import_services.set_mapping(job=job, mapping=job.mapping, placeholders=["Select"], by=by)


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    who: str  # an App attribute, "anonymous" or "outsider"
    status: int = 200
    # Parts of a page that are not LeadFlow's markup, left out of the axe check (say why).
    axe_exclude: tuple[str, ...] = ()


# The weekly report's last week (UTC's; any past week is a valid page).
LAST_WEEK = (timezone.now() - timedelta(weeks=1)).strftime("%G-W%V")


def pages(app: App) -> list[Page]:
    ids = app.ids
    return [
        Page("login", "/login/", "anonymous"),
        Page("public-form", f"/f/{app.tenant.slug}/", "anonymous"),
        Page("not-found", "/no-such-page/", "anonymous", 404),
        Page("no-tenant", "/", "outsider", 403),
        Page("home-partner", "/", "partner_user"),
        Page("settings-partner", "/settings/", "partner_user"),
        Page("forbidden", "/partners/", "qualifier", 403),
        Page("home", "/", "admin"),
        Page("settings", "/settings/", "admin"),
        Page("tokens", "/settings/tokens/", "admin"),
        Page("tokens-marketer", "/settings/tokens/", "marketer"),
        Page("token-revoke", f"/settings/tokens/{ids['member_token']}/revoke/", "admin"),
        Page("partners", "/partners/", "admin"),
        Page("partner", f"/partners/{ids['partner']}/", "admin"),
        Page("members", "/members/", "admin"),
        Page("failed-messages", "/outbox/failed/", "admin"),
        Page("member", f"/members/{ids['member']}/", "admin"),
        Page("invitation", f"/invitations/{app.invitation_token}/", "anonymous"),
        Page("invitation-unknown", "/invitations/lfi_1_no-such-invitation-link/", "anonymous", 404),
        Page("inbox", "/inquiries/", "qualifier"),
        Page("inbox-filtered", "/inquiries/?assigned=me&sort=score", "qualifier"),
        Page("inquiry", f"/inquiries/{ids['detailed']}/", "qualifier"),
        Page("inquiry-lead", f"/inquiries/{ids['lead_inquiry']}/", "qualifier"),
        Page("inquiry-disqualified", f"/inquiries/{ids['disqualified']}/", "qualifier"),
        Page("lead-detail", f"/leads/{ids['lead']}/", "rep"),
        Page("lead-detail-manager", f"/leads/{ids['lead']}/", "manager"),
        Page("bulk-job", f"/inquiries/bulk-jobs/{ids['bulk_job']}/", "manager"),
        Page("disqualify-reasons", "/inquiries/disqualify-reasons/", "manager"),
        Page("duplicates", "/inquiries/duplicates/", "qualifier"),
        Page("custom-fields", "/inquiries/custom-fields/", "marketer"),
        Page(
            "custom-field-choices",
            f"/inquiries/custom-fields/{ids['choice_field']}/choices/",
            "marketer",
        ),
        Page("suggestion", f"/definitions/suggestions/{ids['suggest_job']}/", "marketer"),
        Page("merge", f"/inquiries/merge/?ids={ids['detailed']},{ids['twin']}", "qualifier"),
        Page("imports", "/inquiries/imports/", "marketer"),
        Page("import-new", "/inquiries/imports/new/", "marketer"),
        Page("import-done", f"/inquiries/imports/{ids['done_import']}/", "marketer"),
        Page("import-mapping", f"/inquiries/imports/{ids['mapping_import']}/mapping/", "marketer"),
        Page("import-values", f"/inquiries/imports/{ids['crm_import']}/values/", "marketer"),
        Page(
            "import-missing-campaigns",
            f"/inquiries/imports/{ids['campaign_import']}/",
            "marketer",
        ),
        Page("campaigns", "/inquiries/campaigns/", "marketer"),
        Page("campaigns-qualifier", "/inquiries/campaigns/", "qualifier"),
        Page("campaigns-archived", "/inquiries/campaigns/?archived=1", "marketer"),
        Page("campaign-new", "/inquiries/campaigns/new/", "marketer"),
        Page("campaign-edit", f"/inquiries/campaigns/{ids['campaign']}/", "marketer"),
        Page("definitions", "/definitions/", "marketer"),
        Page("definition-active", f"/definitions/{ids['active']}/", "marketer"),
        Page("definition-draft", f"/definitions/{ids['draft']}/", "manager"),
        Page("what-if", f"/definitions/{ids['draft']}/what-if/", "marketer"),
        Page("team-leads", "/leads/team/", "manager"),
        Page("lead-settings", "/settings/leads/", "manager"),
        Page("my-week", "/leads/week/", "rep"),
        Page("admin", "/admin/", "admin"),
        Page("admin-partners", "/admin/tenancy/partner/", "admin"),
        Page("admin-partner", f"/admin/tenancy/partner/{ids['partner']}/change/", "admin"),
        Page("admin-members", "/admin/tenancy/membership/", "admin"),
        Page("admin-api-keys", "/admin/tenancy/apikey/", "admin"),
        Page("admin-audit", "/admin/tenancy/auditevent/", "admin"),
        # Swagger UI (drf-spectacular-sidecar) renders the operations itself: its colours
        # and nested buttons are upstream's; the page around it is checked.
        Page("api-docs", "/api/docs/", "admin", axe_exclude=("#swagger-ui",)),
        Page("routing", "/settings/routing/", "manager"),
        Page(
            "routing-tester",
            "/settings/routing/?try-country=DE&try-industry=Machinery&try-company_size=120",
            "manager",
        ),
        Page("routing-rule-new", "/settings/routing/rules/new/", "manager"),
        Page("routing-rule", f"/settings/routing/rules/{ids['routing_rule']}/", "manager"),
        Page("routing-team-new", "/settings/routing/teams/new/", "admin"),
        Page("routing-team", f"/settings/routing/teams/{ids['routing_team']}/", "manager"),
        Page("targets", "/settings/targets/", "manager"),
        # The partner portal (issue 17) and the managers' partners overview.
        Page("my-week-partner", "/leads/week/", "partner_user"),
        Page("partner-keys", "/partner/keys/", "partner_user"),
        Page("partners-overview", "/partners/overview/", "manager"),
        Page("partners-overview-admin", "/partners/overview/", "admin"),
        Page("deals-partner", "/deals/", "partner_user"),
        Page("deals", "/deals/", "manager"),
        # Partner webhooks (issue 18): the portal's endpoints and log, the managers' overview.
        Page("partner-webhooks", "/partner/webhooks/", "partner_user"),
        Page("partner-webhook", f"/partner/webhooks/{ids['webhook_endpoint']}/", "partner_user"),
        Page("webhooks-overview", "/webhooks/", "manager"),
        # The Monday report (issue 21): last week (empty or live), and the leads of a figure.
        Page("weekly-report", "/reports/weekly/", "manager"),
        Page("weekly-report-partner", "/reports/weekly/", "partner_user"),
        Page(
            "weekly-report-leads",
            f"/reports/weekly/leads/?week={LAST_WEEK}&scope=tenant&figure=missing",
            "manager",
        ),
        # Manager dashboards (issue 22); a rep and a partner see their own figures.
        Page("reports", "/reports/", "manager"),
        Page("reports-funnel", "/reports/funnel/?include_history=true", "manager"),
        Page("reports-roi", "/reports/roi/", "manager"),
        Page("reports-accountability", "/reports/accountability/", "manager"),
        Page("reports-nurture", "/reports/nurture/", "rep"),
        Page("reports-partner", "/reports/accountability/", "partner_user"),
        Page("reports-rows", "/reports/rows/?metric=funnel.inquiries", "manager"),
        # The qualifier's desk (issue 23).
        Page("queue", "/queue/", "qualifier"),
        Page("inquiry-profile", f"/inquiries/{ids['detailed']}/profile/", "qualifier"),
        Page("rule-builder", f"/definitions/{ids['draft']}/rules/", "marketer"),
        # Nurture (issue 19): programs, a program, settings; a contact's unsubscribe page.
        Page("nurture-programs", "/nurture/", "marketer"),
        Page("nurture-program", f"/nurture/{ids['nurture_program']}/", "marketer"),
        Page("nurture-settings", "/nurture/settings/", "admin"),
        Page("nurture-unsubscribe", f"/u/{ids['nurture_unsubscribe']}/", "anonymous"),
        # The inquiry page as a marketer: the nurture panel's enroll and remove forms.
        Page("nurture-inquiry-panel", f"/inquiries/{ids['nurture_inquiry']}/", "marketer"),
        # The double opt-in's confirmation page (the demo contact has answered: no button).
        Page("nurture-confirm", f"/c/{ids['nurture_confirm']}/", "anonymous"),
        # The program builder (issue 20): new program, a program's steps, an email step's preview.
        Page("nurture-builder-new", "/nurture/builder/new/", "marketer"),
        Page("nurture-builder", f"/nurture/builder/{ids['nurture_program']}/", "marketer"),
        Page(
            "nurture-builder-step",
            f"/nurture/builder/{ids['nurture_program']}/steps/{ids['nurture_step']}/",
            "marketer",
        ),
    ]


def email_of(app: App, who: str) -> str | None:
    if who == "anonymous":
        return None
    if who == "outsider":
        return app.outsider_email
    return getattr(app, who).user.email


def sideways_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def top_bar_rows(page) -> int:
    """How many rows the visible items of the top bar take (1 when it fits)."""
    return page.evaluate(
        """() => {
          const bar = document.querySelector("header.topbar nav");
          if (!bar) return 0;
          const tops = new Set();
          for (const item of bar.querySelectorAll(":scope > * , :scope > ul > li")) {
            const box = item.getBoundingClientRect();
            if (box.width && box.height) tops.add(Math.round(box.top + box.height / 2));
          }
          const rows = [...tops].sort((a, b) => a - b);
          let count = 0, last = -100;
          for (const middle of rows) { if (middle - last > 12) count += 1; last = middle; }
          return count;
        }"""
    )


def serious_violations(page, exclude: tuple[str, ...] = ()) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now.

    ``resultTypes: ["violations"]`` runs every rule as before but builds the node
    lists (unique selectors, HTML) only for violations, not for the passes and
    inapplicable results nobody reads: the same violations, in under half the time.
    """
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (exclude) => await axe.run(
             exclude.length ? {exclude: exclude.map((selector) => [selector])} : document,
             {resultTypes: ["violations"]}
           )""",
        list(exclude),
    )
    found = []
    for violation in result["violations"]:
        if violation["impact"] in BLOCKING_IMPACTS:
            targets = [" ".join(node["target"]) for node in violation["nodes"][:5]]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


# Pages on which the phone menu is opened, checked and photographed too.
MENU_OPENED_ON = {"home", "home-partner"}


def menu_problems(page, name: str, screenshot_dir: Path) -> list[str]:
    """Open the phone's Menu: every link of the bar is in it, and it fits the screen."""
    page.get_by_test_id("nav-menu").locator("summary").click()
    menu = page.get_by_test_id("nav-menu").locator("summary + ul")
    # Pico fades the menu in; wait until it is fully shown before measuring and photographing.
    menu.evaluate("(ul) => Promise.all(ul.getAnimations().map((a) => a.finished))")
    problems = []
    if not menu.get_by_role("link", name="Home").is_visible():
        problems.append(f"{name}: the opened menu does not show the links")
    for item in menu.locator("li, li *").all():
        box = item.bounding_box()
        if box and (box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]):
            problems.append(f"{name}: a menu item does not fit the phone: {item.inner_text()!r}")
    page.screenshot(path=str(screenshot_dir / f"page-{name}-390-menu.png"), full_page=True)
    page.get_by_test_id("nav-menu").locator("summary").click()
    return problems


class InFlight:
    """The requests a tab has sent and not yet seen answered (or failed)."""

    def __init__(self, page) -> None:
        self.requests: set[object] = set()
        page.on("request", self.sent)
        page.on("requestfinished", self.answered)
        page.on("requestfailed", self.answered)

    def sent(self, request) -> None:
        self.requests.add(request)

    def answered(self, request) -> None:
        self.requests.discard(request)


# htmx marks the element whose request is in flight, and the swap and settle after it.
HTMX_BUSY = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def settle(page, in_flight: InFlight, timeout: float = 15.0) -> None:
    """The page has loaded, nothing it asked for is still on its way, and htmx has swapped.

    This waits exactly as long as the page is busy. ("networkidle" waited the same,
    then always 500 ms more: two minutes of every run, on about 220 loads.)
    """
    page.wait_for_load_state("load")
    deadline = time.monotonic() + timeout
    while in_flight.requests:
        if time.monotonic() > deadline:
            urls = sorted(request.url for request in in_flight.requests)
            raise AssertionError(f"requests still unanswered after {timeout:.0f} s: {urls}")
        page.wait_for_timeout(20)  # lets Playwright deliver the request events
    page.wait_for_function(HTMX_BUSY, timeout=timeout * 1000)


# The pages are checked in groups, one test each, so that xdist's two workers share
# them (one test of all pages ran for minutes on one worker while the other waited).
# A page's group is the first whose path prefixes its path; the rest are "account".
GROUP_PATHS = {
    "nurture": ("/nurture/", "/u/", "/c/"),
    "imports-campaigns": (
        "/inquiries/imports/",
        "/inquiries/campaigns/",
        "/inquiries/custom-fields/",
        "/definitions/suggestions/",
    ),
    "inquiries": ("/inquiries/", "/queue/"),
    "definitions-leads": ("/definitions/", "/leads/"),
    "admin-routing": ("/admin/", "/api/", "/settings/routing/", "/settings/targets/"),
    "partners": ("/partners/", "/partner/", "/deals/", "/webhooks/"),
    "reports": ("/reports/",),
}
GROUPS = [*GROUP_PATHS, "account"]


def group_of(entry: Page) -> str:
    """The group a page is checked in: every page is in exactly one (``account`` at last)."""
    for group, prefixes in GROUP_PATHS.items():
        if entry.path.startswith(prefixes):
            return group
    return "account"


@pytest.mark.parametrize("group", GROUPS)
def test_every_page_fits_a_phone_keeps_one_top_bar_row_and_passes_axe(
    group, live_server, browser, screenshot_dir, imports_root, settings
):
    app = build_app(imports_root)
    only = set(filter(None, os.environ.get("EVERY_PAGE_ONLY", "").split(",")))
    chosen = [
        entry
        for entry in pages(app)
        if group_of(entry) == group and (not only or entry.name in only)
    ]
    if not chosen:
        pytest.skip(f"EVERY_PAGE_ONLY names no page of the {group} group")
    problems: list[str] = []
    contexts: dict[str, object] = {}
    in_flight: dict[str, InFlight] = {}
    try:
        for entry in chosen:
            if entry.who not in contexts:
                # axe is injected as an inline script, which the app's CSP refuses, rightly.
                context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
                context.set_default_timeout(15_000)
                tab = context.new_page()
                in_flight[entry.who] = InFlight(tab)
                email = email_of(app, entry.who)
                if email:
                    log_in(tab, live_server, email)
                contexts[entry.who] = tab
            tab = contexts[entry.who]
            tab.set_viewport_size(DESKTOP)
            response = tab.goto(live_server.url + entry.path)
            settle(tab, in_flight[entry.who])
            if response.status != entry.status:
                problems.append(f"{entry.name}: HTTP {response.status}, not {entry.status}")
            if tab.query_selector("header.topbar") and top_bar_rows(tab) != 1:
                problems.append(f"{entry.name}: the top bar takes {top_bar_rows(tab)} rows")
            tab.screenshot(path=str(screenshot_dir / f"page-{entry.name}-1280.png"), full_page=True)
            for violation in serious_violations(tab, entry.axe_exclude):
                problems.append(f"{entry.name} at 1280 px: {violation}")

            tab.set_viewport_size(PHONE)
            tab.reload()
            settle(tab, in_flight[entry.who])
            overflow = sideways_overflow(tab)
            if overflow > 0:
                problems.append(f"{entry.name}: scrolls sideways by {overflow} px at 390 px")
            tab.screenshot(path=str(screenshot_dir / f"page-{entry.name}-390.png"), full_page=True)
            if entry.name in MENU_OPENED_ON:
                problems += menu_problems(tab, entry.name, screenshot_dir)
            for violation in serious_violations(tab, entry.axe_exclude):
                problems.append(f"{entry.name} at 390 px: {violation}")
    finally:
        for tab in contexts.values():
            tab.context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


def test_the_page_list_names_every_html_route():
    """A new page must be added to the list above (or to the not-a-page list)."""
    from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve

    def walk(patterns, prefix="", namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), namespace, pattern.name

    # The API is JSON (schemathesis checks it); the admin is Django's own pages, of
    # which the index, a change list of each model and a change form are visited.
    routes = {
        name
        for path, namespace, name in walk(get_resolver().url_patterns)
        if name and namespace not in {"admin", "v1"}
    }
    not_pages = {
        # POST-only actions (their answer is a redirect to a page in the list).
        "logout",
        "switch-tenant",
        "partner-status",
        "member-status",
        "invitation-change",
        "inquiry-bulk",
        "inquiry-bulk-job-cancel",
        "inquiry-saved-view-save",
        "inquiry-saved-view-delete",
        "inquiry-disqualify-reason-change",
        "import-dry-run",
        "import-start",
        "import-cancel",
        "inquiry-book-appointment",
        "lead-appointment-held",
        "lead-appointment-no-show",
        "lead-appointment-reschedule",
        "lead-appointment-cancel",
        "custom-field-public-form",
        "campaign-archive",
        "import-create-campaigns",
        "definition-new",
        "definition-suggest",
        "definition-copy",
        "definition-sign",
        "definition-activate",
        "outbox-retry",
        "lead-team-reassign",
        "lead-team-reopen",
        "my-week-update",
        "lead-log-touch",
        # htmx fragments polled by a page, and downloads.
        "import-progress",
        "import-dry-run-progress",
        "definition-rescore-progress",
        "import-report-csv",
        "inquiry-appointment-ics",
        "lead-appointment-ics",
        # Routing's POST-only actions (each redirects to a routing page).
        "routing-default-team",
        "routing-rule-move",
        "routing-rule-delete",
        "routing-team-delete",
        # The partner portal's POST-only key revocation (redirects to the keys page).
        "partner-key-revoke",
        # Partner webhooks' POST-only actions (each answers a page the webhook test visits:
        # the secret shown once, the test's answer, or a redirect to the endpoint's log).
        "partner-webhook-rotate",
        "partner-webhook-test",
        "partner-webhook-enabled",
        "partner-webhook-delete",
        "partner-webhook-resend",
        # The Monday report's CSV download.
        "weekly-report-csv",
        # The dashboards' CSV downloads (issue 22).
        "report-csv",
        # The qualifier's desk (issue 23): POST-only actions, each back to the inquiry page.
        "inquiry-note",
        "inquiry-assign",
        "inquiry-disqualify",
        "inquiry-requalify",
        "inquiry-task",
        "task-complete",
        "inquiry-log-touch",
        "custom-field-rename",
        "custom-field-delete",
        "custom-field-required",
        # Nurture's POST-only pause/resume (redirects to the program page) and Mailgun's
        # bounce webhook (JSON for the mail provider).
        "nurture-program-pause",
        "nurture-mailgun",
        # The inquiry page's nurture panel: enroll by hand and remove (back to the inquiry page).
        "nurture-inquiry-enroll",
        "nurture-inquiry-remove",
        # The lead settings' phone job progress, polled by the settings page (issue 24).
        "lead-settings-phone-job",
        # The program builder (issue 20): POST-only step actions (back to the builder), the
        # live audience count (an htmx fragment) and the preview frame's email document.
        "nurture-builder-add",
        "nurture-builder-reorder",
        "nurture-builder-move",
        "nurture-builder-delete",
        "nurture-builder-test",
        "nurture-builder-audience",
        "nurture-builder-audience-new",
        "nurture-builder-preview",
        # Tracked links and the open pixel in nurture emails (a redirect and a GIF, no page).
        "nurture-click",
        "nurture-open",
    }
    stand_in = SimpleNamespace(
        ids=defaultdict(lambda: 1),
        tenant=SimpleNamespace(slug="acme"),
        invitation_token="lfi_1_token",
    )
    visited = set()
    for entry in pages(stand_in):
        try:
            match = resolve(urlsplit(entry.path).path)
        except Resolver404:
            continue  # the not-found page
        if match.namespace not in {"admin"}:
            visited.add(match.url_name)
    assert routes - not_pages - visited == set()
    assert visited & not_pages == set()
