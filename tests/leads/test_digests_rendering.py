"""The digest's emails as PostgreSQL renders them (one ``INSERT … SELECT``) are the emails
Python renders (``_text``, the SQLite path), character for character."""

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from leads.services import digests
from leads.services.updates import mark_reported
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, WeeklyUpdateFactory

BERLIN = ZoneInfo("Europe/Berlin")
# 2026-W50: Monday 7 December.
MONDAY = date(2026, 12, 7)

# Names a template must not mangle: quotes, markup, ampersands, SQL and format characters,
# accents, other scripts, an emoji, and a name of whitespace only (Python's, not only ASCII's).
TRICKY = [
    {"first_name": "O'Brien", "last_name": '"Dan"', "company": "Smith & Sons"},
    {"first_name": "<script>alert(1)</script>", "last_name": "", "company": "<b>Bold</b>"},
    {"first_name": "Zoë", "last_name": "Ångström", "company": "Müller GmbH"},
    {"first_name": "李", "last_name": "小龙 🐉", "company": "東京 KK"},
    {"first_name": "100%", "last_name": "%s %(x)s \\n", "company": "{braces}"},
    {"first_name": "\u00a0", "last_name": "\u3000", "email": "nbsp@example.com", "company": ""},
    {"first_name": "", "last_name": "", "email": "", "external_id": "crm-'7", "company": "'"},
]


NUMBERS = itertools.count()


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.name = "Acme & <Co> \"Sales\" 'EU'"
    actors.tenant_a.save()
    return actors.tenant_a


def lead_of(tenant, weeks_ago: int, fields, **owner):
    """An accepted lead assigned ``weeks_ago`` weeks before Monday, never reported (a buyer's
    email or external id made unique with a number in front)."""
    n = next(NUMBERS)
    fields = {
        k: f"{n}.{v}" if k in ("email", "external_id") and v else v for k, v in fields.items()
    }
    assigned = at(MONDAY, 9) - timedelta(weeks=weeks_ago)
    return LeadFactory(
        tenant=tenant,
        stage="accepted",
        assigned_at=assigned,
        accepted_at=assigned,
        inquiry=InquiryFactory(tenant=tenant, **fields),
        **owner,
    )


def report_this_week(tenant, lead) -> None:
    """This week's update, keeping the lead's weeks as ``record_weekly_update`` does."""
    with tenant_context(tenant), transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        WeeklyUpdateFactory(tenant=tenant, lead=lead, week=MONDAY)
        last, mask = mark_reported(locked.last_update_week, locked.reported_weeks, MONDAY)
        Lead.objects.filter(pk=lead.pk).update(last_update_week=last, reported_weeks=mask)


def payloads_of(tenant, queue) -> dict[str, dict]:
    """The digests ``queue`` writes at Monday 07:00, by key, rolled back afterwards."""
    with (
        time_machine.travel(at(MONDAY, 7), tick=False),
        tenant_context(tenant),
        transaction.atomic(),
    ):
        queue()
        found = {
            m.key: m.payload
            for m in OutboxMessage.objects.filter(key__startswith="digest:missing:")
        }
        transaction.set_rollback(True)
    return found


def rendered_in_python(tenant, monkeypatch) -> dict[str, dict]:
    """The Python path's emails, its rows from the Python fallback (buyers named by
    ``Inquiry.display_name``), not from the PostgreSQL query."""
    monkeypatch.setattr(digests, "_owner_rows", digests._owner_rows_in_python)
    label = "2026-W50"
    try:
        return payloads_of(
            tenant,
            lambda: digests._queue_rendered_in_python(tenant.name, MONDAY, BERLIN, label),
        )
    finally:
        monkeypatch.undo()


def test_tricky_names_are_written_as_python_writes_them(berlin, monkeypatch, settings):
    settings.SITE_URL = "https://leads.example.test"
    rep = make_actor(berlin, Role.REP, user__full_name="Renée <Rep> & Co").membership.user
    for n, fields in enumerate(TRICKY):
        lead_of(berlin, 1 + n % 4, fields, rep=rep)  # this week missing, 0-3 late weeks
    partner = PartnerFactory(tenant=berlin, name='Dealer "One" & <Two>', contact_email="d@x.test")
    lead_of(berlin, 3, TRICKY[0], partner=partner)
    python = rendered_in_python(berlin, monkeypatch)
    sql = payloads_of(berlin, digests.queue_missing_update_digests)
    assert len(sql) == 2
    assert sql == python
    text = sql[f"digest:missing:2026-W50:rep:{rep.pk}"]["text"]
    assert "- <script>alert(1)</script> (<b>Bold</b>): https://leads.example.test/leads/" in text
    assert ".nbsp@example.com: " in text and "Hello Renée <Rep> & Co," in text


def test_a_long_list_with_late_weeks_is_written_as_python_writes_it(berlin, monkeypatch):
    rep = make_actor(berlin, Role.REP).membership.user
    other = make_actor(berlin, Role.REP).membership.user
    # 20 leads missing this week (0-8 late weeks), 10 reported this week but late before.
    for n in range(30):
        lead = lead_of(berlin, 1 + n % 9, TRICKY[n % len(TRICKY)], rep=rep)
        if n >= 20:
            report_this_week(berlin, lead)
    # Only leads with late weeks: this week's line says every lead has its update.
    for n in range(3):
        report_this_week(berlin, lead_of(berlin, 2 + n, TRICKY[n], rep=other))
    python = rendered_in_python(berlin, monkeypatch)
    sql = payloads_of(berlin, digests.queue_missing_update_digests)
    assert len(sql) == 2
    assert sql == python
    text = sql[f"digest:missing:2026-W50:rep:{rep.pk}"]["text"]
    assert "20 leads still need" in text and "And 5 more — see My week: /leads/week/" in text
    assert (
        "Every lead has this week's update"
        in sql[f"digest:missing:2026-W50:rep:{other.pk}"]["text"]
    )
