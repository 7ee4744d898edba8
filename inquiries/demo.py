"""The demo's marketing data: the signed definition, campaigns, reasons and inquiries.

Everything goes through the services a person's clicks would call — the
template definition drafted, signed by a manager for marketing and an admin
for sales, and activated; campaigns with their spend; the tenant's
disqualify reasons; responses captured (scored at once by the active
definition, so each lands in the MQL queue or in nurture), later activities
recorded, some inquiries assigned and some disqualified with a reason (the
appointments that make a few of them leads are booked by ``leads/demo.py``).
The random choices come from a fixed seed, so every fresh database gets the
same people.

One thing a service cannot do is turn the clock back: a capture is received
*now*. The responses are captured with the time they happened (spread over
the last 90 days), and afterwards each inquiry's ``created_at`` is set to its
first response's time, in one statement, so "new this week" and the inbox's
"newest first" read as a real tenant would.

Idempotent: a tenant that already has an active (or any) definition keeps it,
campaigns and reasons are added only when missing by name, and the inquiries
are seeded only into a tenant that has none.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Min, OuterRef, Subquery
from django.utils import timezone

from inquiries.models import (
    Activity,
    ActivityKind,
    Campaign,
    Consent,
    DisqualifyReason,
    Inquiry,
    LeadDefinition,
    SignOffSide,
    Source,
    Stage,
)
from inquiries.selectors.inbox import Selection
from inquiries.services import campaigns, capture, definitions, rescoring, triage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Tenant
from leadflow.tenancy.principal import Principal

DEMO_RANDOM_SEED = 20261206
DEMO_DAYS = 90
# Per tenant: a few hundred people, small enough to seed in seconds on SQLite.
DEMO_PEOPLE = {"acme": 200, "globex": 150}

DISQUALIFY_REASONS = [
    "Student or job seeker",
    "Competitor",
    "No budget",
    "Outside our sales regions",
    "Duplicate",
    "Spam or fake details",
    "Consultant or researcher, no project",
]

# name, source, spend, starts (days ago), ends (days ago; None: running)
CAMPAIGNS = {
    "acme": [
        ("Automate 2026 booth", Source.EVENT, "18500.00", 80, 77),
        ("Cobot ROI webinar", Source.WEBINAR, "4200.00", 60, 58),
        ("Palletizing buyer's guide", Source.DOWNLOAD, "3150.00", 90, None),
        ("Search ads: collaborative robots", Source.WEB_FORM, "9800.00", 90, None),
        ("Northwind co-marketing", Source.PARTNER_REFERRAL, "2500.00", 75, None),
    ],
    "globex": [
        ("Hannover Messe stand", Source.EVENT, "24000.00", 85, 80),
        ("Predictive maintenance webinar", Source.WEBINAR, "3600.00", 45, 44),
        ("Retrofit whitepaper", Source.DOWNLOAD, "2200.00", 90, None),
        ("LinkedIn ads DACH", Source.WEB_FORM, "7400.00", 70, None),
    ],
}

# fmt: off
FIRST_NAMES = [
    "Alex", "Anna", "Ben", "Carla", "Daniel", "Elena", "Farid", "Grace", "Hannah", "Igor",
    "Julia", "Karim", "Laura", "Mateo", "Nina", "Oliver", "Priya", "Rafael", "Sara", "Tomás",
    "Uma", "Victor", "Wen", "Yusuf", "Zoe", "Amir", "Bianca", "Chloe", "David", "Emma", "Finn",
    "Gabriel", "Helena", "Ines", "Jonas", "Kenji", "Lea", "Marta", "Noah", "Olga", "Pedro",
    "Rosa", "Stefan", "Tara", "Lukas", "Mia", "Paul", "Sophie", "Jan", "Ava", "Ethan", "Isabel",
    "Omar", "Leila", "Marco", "Ruth", "Sven", "Ingrid",
]
LAST_NAMES = [
    "Adams", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ivanova",
    "Jensen", "Kowalski", "Larsen", "Meyer", "Novak", "Okafor", "Patel", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Urban", "Vargas", "Weber", "Xu", "Young", "Zimmermann", "Andersson",
    "Becker", "Costa", "Dalton", "Engel", "Ferreira", "Gruber", "Huang", "Iqbal", "Jovanovic",
    "Kaiser", "Lindberg", "Moreau", "Nakamura", "Olsen", "Peters", "Richter", "Santos",
    "Thompson", "Vogel", "Walsh", "Keller",
]
# fmt: on

# company, email domain, size, industry, country
COMPANIES = {
    "acme": [
        ("Midwest Packaging Co", "midwestpack.com", 420, "manufacturing", "US"),
        ("Lakeside Foods", "lakesidefoods.com", 1200, "manufacturing", "US"),
        ("Prairie Logistics", "prairielogistics.com", 650, "logistics", "US"),
        ("Northstar Medical Devices", "northstarmed.com", 310, "healthcare", "US"),
        ("Great Lakes Metalworks", "glmetal.com", 180, "manufacturing", "US"),
        ("Cascade Fulfillment", "cascadefulfil.com", 2400, "logistics", "US"),
        ("Maple Leaf Plastics", "mapleleafplastics.ca", 140, "manufacturing", "CA"),
        ("Ontario Pharma Packaging", "ontpharma.ca", 520, "healthcare", "CA"),
        ("Thames Precision", "thamesprecision.co.uk", 95, "manufacturing", "GB"),
        ("Brightwater Retail", "brightwater-retail.com", 8000, "retail", "US"),
        ("Sunbelt Beverages", "sunbeltbev.com", 900, "food and beverage", "US"),
        ("Keystone Auto Parts", "keystoneauto.com", 3100, "automotive", "US"),
        ("Tiny Robotics Lab", "tinyrobolab.io", 12, "education", "US"),
        ("Orbit Consulting", "orbitconsult.com", 25, "consulting", "US"),
        ("Southern Cold Chain", "southerncold.com", 460, "logistics", "US"),
        ("Apex Labs", "apexlabs.mx", 210, "healthcare", "MX"),
        ("Rivera Cartons", "riveracartons.com.br", 380, "manufacturing", "BR"),
        ("Coastal Electronics", "coastalelec.com", 720, "electronics", "US"),
    ],
    "globex": [
        ("Rheinmetall Komponenten", "rk-komponenten.de", 850, "manufacturing", "DE"),
        ("Bayern Logistik", "bayernlogistik.de", 1400, "logistics", "DE"),
        ("Klinikum Süd Technik", "ks-technik.de", 600, "healthcare", "DE"),
        ("Schwarzwald Feinmechanik", "sw-feinmechanik.de", 160, "manufacturing", "DE"),
        ("Alpen Pharma", "alpenpharma.at", 420, "healthcare", "AT"),
        ("Zürich Präzision", "zh-praezision.ch", 230, "manufacturing", "CH"),
        ("Hamburg Hafenlogistik", "hh-hafenlogistik.de", 2900, "logistics", "DE"),
        ("Midlands Engineering", "midlandseng.co.uk", 540, "manufacturing", "GB"),
        ("Lyon Emballage", "lyon-emballage.fr", 310, "manufacturing", "FR"),
        ("Polska Automatyka", "polska-automatyka.pl", 190, "manufacturing", "PL"),
        ("Nordic Cold Storage", "nordiccold.se", 700, "logistics", "SE"),
        ("Uni Stuttgart Robotik", "uni-stuttgart-robotik.de", 40, "education", "DE"),
        ("Berlin Startup Hub", "bsh.berlin", 8, "consulting", "DE"),
        ("Wiener Getränke", "wiener-getraenke.at", 980, "food and beverage", "AT"),
    ],
}
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "gmx.de")

# title, weight: most responders are not decision-makers.
TITLES = [
    ("VP Operations", 4),
    ("VP Manufacturing", 3),
    ("Chief Operating Officer", 2),
    ("Director of Engineering", 5),
    ("Director, Supply Chain", 4),
    ("Plant Manager", 8),
    ("Operations Manager", 8),
    ("Automation Engineer", 12),
    ("Maintenance Technician", 8),
    ("Procurement Specialist", 6),
    ("Production Supervisor", 7),
    ("Process Engineer", 8),
    ("Warehouse Manager", 5),
    ("Student", 3),
    ("Research Assistant", 2),
]
INTERESTS = [
    ("Request a demo", 3),
    ("Pricing for a palletizing cell", 2),
    ("Cobot for machine tending", 3),
    ("ROI calculator", 2),
    ("Retrofit of an existing line", 2),
    ("Whitepaper only", 4),
    ("Career opportunities", 1),
    ("", 3),
]
TIMELINES = [("now", 1), ("0-3m", 3), ("3-6m", 3), ("6-12m", 3), ("12m+", 2), ("unknown", 4)]
LATER_ACTIVITIES = [
    (ActivityKind.PAGE_VISIT, 8),
    (ActivityKind.EMAIL_CLICK, 6),
    (ActivityKind.DOWNLOAD, 3),
    (ActivityKind.WEBINAR, 2),
    (ActivityKind.FORM_FILL, 2),
    (ActivityKind.CHAT, 1),
]
# A response without a campaign came through one of these doors.
ORGANIC_SOURCES = [(Source.WEB_FORM, 5), (Source.CHAT, 2), (Source.EMAIL, 1), (Source.API, 1)]


@dataclass
class DemoMarketing:
    """What was seeded into one tenant (all zero for a tenant seeded before)."""

    tenant: Tenant
    campaigns: int = 0
    reasons: int = 0
    definition_version: int | None = None
    inquiries: int = 0


def _weighted(rng: random.Random, choices):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights)[0]


def acting_member(tenant: Tenant, email: str) -> Principal:
    """The demo person as the pages would see them acting."""
    membership = Membership.objects.select_related("user", "partner").get(user__email=email)
    return Principal(
        tenant=tenant,
        role=membership.role,
        via="session",
        user=membership.user,
        membership=membership,
        partner=membership.partner,
    )


def seed_demo_marketing(*, tenant: Tenant) -> DemoMarketing:
    """Seed one demo tenant's definition, campaigns, reasons and (once) its inquiries."""
    seeded = DemoMarketing(tenant=tenant)
    with tenant_context(tenant):
        slug = tenant.slug
        manager = acting_member(tenant, f"manager@{slug}.example")
        admin = acting_member(tenant, f"admin@{slug}.example")
        seeded.reasons = _seed_reasons(admin)
        seeded.campaigns = _seed_campaigns(slug, acting_member(tenant, f"marketer@{slug}.example"))
        seeded.definition_version = _seed_definition(manager=manager, admin=admin)
        if not Inquiry.objects.exists():
            with transaction.atomic():
                seeded.inquiries = _seed_inquiries(tenant)
    return seeded


@transaction.atomic
def _seed_reasons(admin: Principal) -> int:
    known = {label.lower() for label in DisqualifyReason.objects.values_list("label", flat=True)}
    added = 0
    for label in DISQUALIFY_REASONS:
        if label.lower() not in known:
            triage.add_disqualify_reason(label=label, by=admin)
            added += 1
    return added


@transaction.atomic
def _seed_campaigns(slug: str, marketer: Principal) -> int:
    known = {name.lower() for name in Campaign.objects.values_list("name", flat=True)}
    today = timezone.localdate(timezone=ZoneInfo(marketer.tenant.timezone))
    added = 0
    for name, source, spend, starts, ends in CAMPAIGNS.get(slug, []):
        if name.lower() in known:
            continue
        campaigns.create_campaign(
            name=name,
            source=source,
            spend=Decimal(spend),
            starts_on=today - timedelta(days=starts),
            ends_on=today - timedelta(days=ends) if ends is not None else None,
            by=marketer,
        )
        added += 1
    return added


def _seed_definition(*, manager: Principal, admin: Principal) -> int | None:
    """The articles' template, signed for marketing by the manager and for sales by the admin."""
    if LeadDefinition.objects.exists():
        return None
    with transaction.atomic():
        draft = definitions.create_draft(
            values={"notes": "Agreed at the demo's kick-off: the articles' starting point."},
            by=manager,
        )
        definitions.sign_definition(definition=draft, side=SignOffSide.MARKETING, by=manager)
        definitions.sign_definition(definition=draft, side=SignOffSide.SALES, by=admin)
        job = definitions.activate_definition(definition=draft, by=admin)
    # Nothing to rescore yet; run the job here so the page shows it finished.
    rescoring.run_rescore_job(job=job)
    return draft.version


def _seed_inquiries(tenant: Tenant) -> int:
    slug = tenant.slug
    rng = random.Random(f"{DEMO_RANDOM_SEED}-{slug}")
    now = timezone.now()
    marketer = acting_member(tenant, f"marketer@{slug}.example")
    qualifier = acting_member(tenant, f"qualifier@{slug}.example")
    partner_user = Membership.objects.filter(partner__isnull=False).values_list(
        "user__email", flat=True
    )
    referrer = acting_member(tenant, partner_user[0]) if partner_user else None
    tenant_campaigns = list(Campaign.objects.order_by("id"))
    reasons = {r.label: r for r in DisqualifyReason.objects.filter(active=True)}
    companies = COMPANIES.get(slug, COMPANIES["acme"])
    used_emails: set[str] = set()
    to_disqualify: dict[str, list[int]] = {}
    referrals: list[int] = []
    captured: list[Inquiry] = []

    for number in range(DEMO_PEOPLE.get(slug, 150)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company, domain, size, industry, country = rng.choice(companies)
        title = _weighted(rng, TITLES)
        free_mail = rng.random() < 0.12
        email = f"{_mailbox(first, last)}@{rng.choice(FREE_MAIL) if free_mail else domain}"
        if email in used_emails:
            email = email.replace("@", f"{number}@")
        used_emails.add(email)
        campaign = rng.choice(tenant_campaigns) if rng.random() < 0.7 else None
        by_partner = (
            referrer is not None and campaign is not None and campaign.source == "partner_referral"
        )
        source = campaign.source if campaign else _weighted(rng, ORGANIC_SOURCES)
        first_seen = now - timedelta(days=rng.uniform(0.2, DEMO_DAYS))
        profile = {
            "first_name": first.title(),
            "last_name": last,
            "email": email,
            "title": title,
            "company": company,
            "company_size": int(size * rng.uniform(0.8, 1.2)),
            "industry": industry,
            "country": country,
            "interest": _weighted(rng, INTERESTS),
            "timeline": _weighted(rng, TIMELINES),
        }
        if rng.random() < 0.4:
            profile["phone"] = f"+1 555 01{number % 100:02d} {rng.randint(1000, 9999)}"
        result = capture.capture_inquiry(
            profile=profile,
            source=source,
            campaign=campaign,
            consent=Consent.OPTED_IN if rng.random() < 0.6 else Consent.UNKNOWN,
            occurred_at=first_seen,
            by=referrer if by_partner else marketer,
        )
        inquiry = result.inquiry
        captured.append(inquiry)
        # Engaged people come back: page visits, email clicks, a webinar, up to now.
        moments = sorted(
            first_seen + (now - first_seen) * rng.random() for _ in range(rng.choice((0, 1, 1, 3)))
        )
        for moment in moments:
            capture.record_activity(
                inquiry=inquiry,
                kind=_weighted(rng, LATER_ACTIVITIES),
                occurred_at=moment,
                by=marketer,
            )
        reason = _reason_for(rng, title, company, free_mail, industry, country)
        if reason in reasons:
            to_disqualify.setdefault(reason, []).append(inquiry.pk)
        elif by_partner:
            referrals.append(inquiry.pk)

    _seed_duplicates(rng, companies, marketer, now)
    for label, ids in to_disqualify.items():
        triage.disqualify_inquiries(
            selection=Selection(ids=tuple(ids)), reason=reasons[label], by=qualifier
        )
    mqls = list(
        Inquiry.objects.filter(stage=Stage.MQL).exclude(pk__in=referrals).order_by("-score", "id")
    )
    # The qualifier works half the MQL queue; the rest waits to be picked up.
    if mqls:
        triage.assign_inquiries(
            selection=Selection(ids=tuple(i.pk for i in mqls[::2])),
            assignee=qualifier.user,
            by=qualifier,
        )
    _backdate_arrival()
    return Inquiry.objects.count()


def _reason_for(rng, title, company, free_mail, industry, country) -> str | None:
    """Why a qualifier would disqualify this person, if they would."""
    if title in ("Student", "Research Assistant") or industry == "education":
        return "Student or job seeker" if rng.random() < 0.8 else None
    if industry == "consulting":
        return "Consultant or researcher, no project" if rng.random() < 0.7 else None
    if country not in ("US", "CA", "GB", "DE", "AT", "CH", "FR", "PL", "SE") and rng.random() < 0.6:
        return "Outside our sales regions"
    roll = rng.random()
    if roll < 0.02:
        return "Competitor"
    if roll < 0.05 and free_mail:
        return "Spam or fake details"
    if roll < 0.08:
        return "No budget"
    return None


def _mailbox(first: str, last: str, dot: str = ".") -> str:
    """``tomas.walsh`` for Tomás Walsh: the ASCII local part a mail provider would give them.

    The demo captures through the service, which trusts its callers' validation,
    so an address like ``tomás.walsh@`` would be stored though every door refuses it.
    """
    parts = []
    for name in (first, last):
        folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        parts.append(re.sub(r"[^a-z0-9-]+", "", folded.lower()))
    return dot.join(parts)


def _seed_duplicates(rng: random.Random, companies, marketer: Principal, now: datetime) -> None:
    """Three people who wrote in twice under another address: pairs for /inquiries/duplicates/."""
    for first, last in (("Jordan", "Blake"), ("Katrin", "Vossberg"), ("Samuel", "Okoro")):
        company, domain, size, industry, country = rng.choice(companies)
        for email in (
            f"{_mailbox(first, last)}@{domain}",
            f"{_mailbox(first[0], last, '')}@{domain}",
        ):
            capture.capture_inquiry(
                profile={
                    "first_name": first,
                    "last_name": last,
                    "email": email.lower(),
                    "title": "Operations Manager",
                    "company": company,
                    "company_size": size,
                    "industry": industry,
                    "country": country,
                },
                source=Source.WEB_FORM,
                occurred_at=now - timedelta(days=rng.uniform(1, 20)),
                by=marketer,
            )


def _backdate_arrival() -> None:
    """Each inquiry arrived when its first response happened (see the module docstring)."""
    first_response = (
        Activity.objects.filter(inquiry=OuterRef("pk"))
        .order_by()
        .values("inquiry")
        .annotate(first=Min("occurred_at"))
        .values("first")
    )
    Inquiry.objects.update(created_at=Subquery(first_response))
