"""The Monday digest of missing weekly updates: when it goes out, to whom, and only once."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from leads.services.digests import queue_missing_update_digests
from leads.services.updates import mark_reported
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, WeeklyUpdateFactory

BERLIN = ZoneInfo("Europe/Berlin")
# 2026-W50: Monday 7 December (winter time, UTC+1).
MONDAY = date(2026, 12, 7)


def report_week(tenant, lead, week, **fields):
    """An update for ``week``, keeping the lead's weeks as ``record_weekly_update`` does."""
    with tenant_context(tenant), transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        update = WeeklyUpdateFactory(tenant=tenant, lead=lead, week=week, **fields)
        last, mask = mark_reported(locked.last_update_week, locked.reported_weeks, week)
        Lead.objects.filter(pk=lead.pk).update(last_update_week=last, reported_weeks=mask)
    return update


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def berlin(actors):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    return actors.tenant_a


@pytest.fixture
def rep(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep").membership.user


def owing(tenant, week: date, **fields):
    """An accepted lead assigned two weeks before ``week``: it owes ``week``'s update."""
    fields.setdefault(
        "inquiry",
        InquiryFactory(tenant=tenant, first_name="Pat", last_name="Buyer", company="Buyer Inc"),
    )
    return LeadFactory(
        tenant=tenant, stage="accepted", assigned_at=at(week, 9) - timedelta(weeks=2), **fields
    )


def run(tenant, moment: datetime) -> int:
    with time_machine.travel(moment, tick=False), tenant_context(tenant):
        return queue_missing_update_digests()


def digests(tenant) -> list[OutboxMessage]:
    with tenant_context(tenant):
        return list(OutboxMessage.objects.filter(key__startswith="digest:missing:").order_by("id"))


def test_the_digest_goes_out_at_monday_seven_in_the_tenants_zone(berlin, rep):
    lead = owing(berlin, MONDAY, rep=rep)
    assert run(berlin, at(MONDAY, 7)) == 1
    [message] = digests(berlin)
    assert message.recipient == rep.email
    assert message.key == f"digest:missing:2026-W50:rep:{rep.pk}"
    assert "Hello Riley Rep" in message.payload["text"]
    assert f"/leads/{lead.pk}/" in message.payload["text"]


def test_nothing_goes_out_on_monday_before_seven_local_time(berlin, rep):
    # 06:59 in Berlin is 05:59 UTC: a UTC clock would be too early as well, but 07:00 UTC
    # is 08:00 here — the check must read Berlin's clock, which the next test pins.
    owing(berlin, MONDAY, rep=rep)
    assert run(berlin, at(MONDAY, 6, 59)) == 0
    assert digests(berlin) == []


def test_seven_in_berlin_is_early_morning_utc_and_still_sends(berlin, rep):
    owing(berlin, MONDAY, rep=rep)
    # 07:30 Berlin is 06:30 UTC: before seven on a UTC clock.
    assert run(berlin, at(MONDAY, 7, 30)) == 1


def test_the_sunday_before_still_reads_last_week_so_nothing_goes_out(berlin, rep):
    # The lead reported last week; this week's update is what it will owe from Monday.
    lead = owing(berlin, MONDAY, rep=rep)
    for back in (1, 2):  # W49 and W48: nothing late either
        report_week(tenant=berlin, lead=lead, week=MONDAY - timedelta(weeks=back))
    assert run(berlin, at(MONDAY - timedelta(days=1), 23, 30)) == 0
    assert digests(berlin) == []


@pytest.mark.parametrize(
    "monday",
    [date(2026, 3, 30), date(2026, 10, 26)],
    ids=["after-spring-forward", "after-fall-back"],
)
def test_the_dst_weeks_send_at_seven_local_not_before(berlin, rep, monday):
    owing(berlin, monday, rep=rep)
    assert run(berlin, at(monday, 6, 59)) == 0
    assert run(berlin, at(monday, 7)) == 1
    assert [m.key for m in digests(berlin)] == [
        f"digest:missing:{monday:%G}-W{monday:%V}:rep:{rep.pk}"
    ]


def test_a_late_beat_later_in_the_week_still_sends(berlin, rep):
    owing(berlin, MONDAY, rep=rep)
    assert run(berlin, at(MONDAY + timedelta(days=2), 15)) == 1


def test_a_second_run_the_same_week_sends_nothing_more(berlin, rep):
    owing(berlin, MONDAY, rep=rep)
    assert run(berlin, at(MONDAY, 7)) == 1
    assert run(berlin, at(MONDAY, 8)) == 0
    assert run(berlin, at(MONDAY + timedelta(days=3), 8)) == 0
    assert len(digests(berlin)) == 1


def test_the_next_week_sends_a_new_digest(berlin, rep):
    owing(berlin, MONDAY, rep=rep)
    run(berlin, at(MONDAY, 7))
    assert run(berlin, at(MONDAY + timedelta(weeks=1), 7)) == 1
    assert len(digests(berlin)) == 2


def test_three_missing_leads_make_one_email_listing_all_three(berlin, rep):
    leads = [
        owing(
            berlin,
            MONDAY,
            rep=rep,
            inquiry=InquiryFactory(tenant=berlin, first_name=name, last_name="B", company=co),
        )
        for name, co in [("Ann", "Acme"), ("Ben", "Bolt"), ("Cy", "")]
    ]
    assert run(berlin, at(MONDAY, 7)) == 1
    [message] = digests(berlin)
    text = message.payload["text"]
    assert "3 leads still need this week's update (2026-W50)" in text
    assert "- Ann B (Acme)" in text and "- Ben B (Bolt)" in text and "- Cy B:" in text
    assert all(f"/leads/{lead.pk}/" in text for lead in leads)


def test_a_buyer_without_a_name_is_named_as_the_inquiry_names_them(berlin, rep):
    people = [
        {"first_name": " ", "last_name": "", "email": "ed@example.com", "company": "Edge"},
        {"first_name": "", "last_name": "", "email": "", "external_id": "crm-77", "company": ""},
    ]
    for fields in people:
        owing(berlin, MONDAY, rep=rep, inquiry=InquiryFactory(tenant=berlin, **fields))
    run(berlin, at(MONDAY, 7))
    text = digests(berlin)[0].payload["text"]
    assert "- ed@example.com (Edge):" in text and "- crm-77:" in text


def test_the_link_uses_the_site_url(berlin, rep, settings):
    settings.SITE_URL = "https://leads.example.test"
    lead = owing(berlin, MONDAY, rep=rep)
    run(berlin, at(MONDAY, 7))
    assert f"https://leads.example.test/leads/{lead.pk}/" in digests(berlin)[0].payload["text"]


def test_the_email_shows_no_score_and_no_internal_notes(berlin, rep):
    lead = owing(berlin, MONDAY, rep=rep, score=87, next_step="Internal: CFO is hesitant")
    WeeklyUpdateFactory(
        tenant=berlin, lead=lead, week=MONDAY - timedelta(weeks=1), note="Secret margin talk"
    )
    run(berlin, at(MONDAY, 7))
    payload = digests(berlin)[0].payload
    blob = payload["subject"] + payload["text"]
    # The score as a word: a lead id or link may contain the digits (/leads/287/).
    assert not re.search(r"\b87\b", blob) and "CFO" not in blob and "Secret" not in blob


def test_a_partners_leads_go_to_its_contact_email(berlin, rep):
    partner = PartnerFactory(tenant=berlin, name="Dealer One", contact_email="leads@dealer.test")
    owing(berlin, MONDAY, partner=partner, rep=rep)
    assert run(berlin, at(MONDAY, 7)) == 1
    [message] = digests(berlin)
    assert message.recipient == "leads@dealer.test"
    assert message.key == f"digest:missing:2026-W50:partner:{partner.pk}"
    assert "Hello Dealer One" in message.payload["text"]


def test_a_partner_without_a_contact_email_is_skipped(berlin, rep):
    partner = PartnerFactory(tenant=berlin, contact_email="")
    owing(berlin, MONDAY, partner=partner)
    owing(berlin, MONDAY, rep=rep, inquiry=InquiryFactory(tenant=berlin))
    assert run(berlin, at(MONDAY, 7)) == 1
    assert [m.recipient for m in digests(berlin)] == [rep.email]


def test_a_rep_who_left_the_team_gets_nothing(berlin):
    actor = make_actor(berlin, Role.REP)
    owing(berlin, MONDAY, rep=actor.membership.user)
    with tenant_context(berlin):
        type(actor.membership).objects.filter(pk=actor.membership.pk).update(is_active=False)
    assert run(berlin, at(MONDAY, 7)) == 0
    assert digests(berlin) == []


def test_an_owner_with_every_update_in_gets_nothing(berlin, rep, actors):
    other = make_actor(berlin, Role.REP).membership.user
    done = owing(berlin, MONDAY, rep=rep)
    for back in (0, 1, 2):  # this week's, and the two weeks it owed before
        report_week(tenant=berlin, lead=done, week=MONDAY - timedelta(weeks=back))
    owing(berlin, MONDAY, rep=other, inquiry=InquiryFactory(tenant=berlin))
    assert run(berlin, at(MONDAY, 7)) == 1
    assert [m.recipient for m in digests(berlin)] == [other.email]


def test_another_tenants_leads_never_appear(berlin, rep, actors):
    mine = owing(berlin, MONDAY, rep=rep)
    outsider_rep = make_actor(actors.tenant_b, Role.REP).membership.user
    theirs = owing(
        actors.tenant_b,
        MONDAY,
        rep=outsider_rep,
        inquiry=InquiryFactory(tenant=actors.tenant_b, first_name="Other", company="Elsewhere"),
    )
    assert run(berlin, at(MONDAY, 7)) == 1
    [message] = digests(berlin)
    assert f"/leads/{mine.pk}/" in message.payload["text"]
    assert f"/leads/{theirs.pk}/" not in message.payload["text"]
    assert "Elsewhere" not in message.payload["text"]
    assert digests(actors.tenant_b) == []


def _queries_of_a_run(tenant, owners: int, leads_each: int, partner=None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _n in range(owners):
        rep = make_actor(tenant, Role.REP).membership.user
        for _m in range(leads_each):
            owing(tenant, MONDAY, rep=rep, inquiry=InquiryFactory(tenant=tenant))
    for _m in range(leads_each if partner is not None else 0):
        owing(tenant, MONDAY, partner=partner, inquiry=InquiryFactory(tenant=tenant))
    with (
        time_machine.travel(at(MONDAY, 7), tick=False),
        tenant_context(tenant),
        CaptureQueriesContext(connection) as queries,
    ):
        assert queue_missing_update_digests() == owners + (partner is not None)
    return len(queries)


def test_the_query_count_does_not_grow_with_owners(berlin):
    # The tenant, the digest's one query, the sent keys, the partners' webhook endpoints and
    # one INSERT of every email (in a savepoint): the same for one owner as for six.
    assert _queries_of_a_run(berlin, owners=6, leads_each=1) == 6


def test_the_query_count_does_not_grow_with_leads_or_recipients(berlin, actors):
    partner = PartnerFactory(tenant=berlin, contact_email="dealer@example.com")
    few = _queries_of_a_run(berlin, owners=1, leads_each=1, partner=partner)
    with tenant_context(berlin):
        Lead.objects.all().delete()
        OutboxMessage.objects.all().delete()
    many = _queries_of_a_run(berlin, owners=5, leads_each=30, partner=partner)
    assert many == few


def test_every_email_is_written_in_one_insert(berlin, rep):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = make_actor(berlin, Role.REP).membership.user
    owing(berlin, MONDAY, rep=rep)
    owing(berlin, MONDAY, rep=other, inquiry=InquiryFactory(tenant=berlin))
    with (
        time_machine.travel(at(MONDAY, 7), tick=False),
        tenant_context(berlin),
        CaptureQueriesContext(connection) as queries,
    ):
        assert queue_missing_update_digests() == 2
    inserts = [q["sql"] for q in queries if "INSERT INTO" in q["sql"]]
    assert len(inserts) == 1 and "outbox" in inserts[0]
    assert sorted(m.recipient for m in digests(berlin)) == sorted([rep.email, other.email])


def test_the_beat_runs_the_digest_hourly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["queue-missing-update-digests"]
    assert entry["task"] == "leads.tasks.queue_missing_update_digests"
    assert entry["schedule"] == timedelta(hours=1)


def test_the_tenant_task_queues_the_digest(berlin, rep):
    from leads.tasks import queue_missing_update_digests_of_tenant

    owing(berlin, MONDAY, rep=rep)
    with time_machine.travel(at(MONDAY, 7), tick=False):
        assert queue_missing_update_digests_of_tenant(tenant_id=berlin.pk) == 1
