"""The demo's leads: a few appointments booked for the top of the MQL queue.

Through the booking service a qualifier's click calls: the qualifier books
the best-scored MQLs for the tenant's rep, and (where a partner referred
people) a couple of the partner's referrals for the partner. Runs after the
marketing demo (``inquiries/demo.py``), only into a tenant whose inquiries it
just seeded; the random choices come from a fixed seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from inquiries.demo import DEMO_RANDOM_SEED, acting_member
from inquiries.models import Inquiry, Stage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leads.services.booking import book_appointment

DEMO_LEADS = 6  # booked by the qualifier for the tenant's rep
DEMO_PARTNER_LEADS = 2  # a partner's referrals booked for the partner (Acme only)


def seed_demo_leads(*, tenant: Tenant) -> int:
    """Book the demo tenant's appointments (its inquiries were just seeded); how many."""
    with tenant_context(tenant), transaction.atomic():
        return _book(tenant)


def _book(tenant: Tenant) -> int:
    slug = tenant.slug
    rng = random.Random(f"{DEMO_RANDOM_SEED}-{slug}-leads")
    now = timezone.now()
    tz = ZoneInfo(tenant.timezone)
    qualifier = acting_member(tenant, f"qualifier@{slug}.example")
    rep = acting_member(tenant, f"rep@{slug}.example")
    mqls = list(
        Inquiry.objects.filter(stage=Stage.MQL, partner__isnull=True).order_by("-score", "id")
    )
    booked = 0
    # At most half the queue is booked: the rest waits for the qualifier.
    for day, inquiry in enumerate(mqls[: min(DEMO_LEADS, len(mqls) // 2)], start=1):
        book_appointment(
            inquiry=inquiry,
            starts_at=_working_hour(now, day, tz, rng),
            rep=rep.user,
            location="Video call",
            notes="Decision-maker confirmed; wants to see the ROI figures.",
            message_to_buyer="Looking forward to our call.",
            by=qualifier,
        )
        booked += 1
    referrals = Inquiry.objects.filter(stage=Stage.MQL, partner__isnull=False).order_by(
        "-score", "id"
    )
    for day, inquiry in enumerate(referrals[:DEMO_PARTNER_LEADS], start=2):
        book_appointment(
            inquiry=inquiry,
            starts_at=_working_hour(now, day, tz, rng),
            location="On site",
            by=qualifier,
        )
        booked += 1
    return booked


def _working_hour(now: datetime, days_ahead: int, tz: ZoneInfo, rng: random.Random) -> datetime:
    local = (now + timedelta(days=days_ahead)).astimezone(tz)
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.replace(hour=rng.choice((9, 10, 11, 14, 15)), minute=0, second=0, microsecond=0)
