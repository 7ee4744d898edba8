"""My week: the owner's leads to report, the counter, the late backlog; the page and its posts."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead, WeeklyUpdate
from leads.selectors.my_week import BACKLOG_WEEKS, missing_this_week, my_week
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, TouchFactory, WeeklyUpdateFactory

# Wednesday of 2026-W53 (Monday 28 December), noon UTC; the tenant runs on UTC.
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
W53 = date(2026, 12, 28)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def owned(actors, rep, stage="accepted", assigned=timedelta(days=10), **kwargs):
    inquiry = InquiryFactory(
        tenant=actors.tenant_a,
        stage="lead",
        first_name=kwargs.pop("first_name", "Pat"),
        last_name="Buyer",
        company="Buyer Inc",
        created_at=NOW - timedelta(days=90),
    )
    return LeadFactory(
        tenant=actors.tenant_a,
        inquiry=inquiry,
        rep=rep.user,
        stage=stage,
        assigned_at=NOW - assigned,
        accepted_at=NOW - assigned if stage != "awaiting_acceptance" else None,
        **kwargs,
    )


def week_of(actors, actor):
    with tenant_context(actors.tenant_a):
        return my_week(actor.principal)


def test_leads_split_into_awaiting_to_report_and_reported_with_the_counter(actors, rep_a):
    waiting = owned(actors, rep_a, stage="awaiting_acceptance")
    todo = owned(actors, rep_a)
    done = owned(actors, rep_a, stage="sql")
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=done, week=W53, note="Called")
    week = week_of(actors, rep_a)
    assert [lead.pk for lead in week.awaiting] == [waiting.pk]
    assert [lead.pk for lead in week.to_report] == [todo.pk]
    assert [lead.pk for lead in week.reported] == [done.pk]
    assert (week.reported_count, week.owed, week.label) == (1, 2, "2026-W53")


def test_the_rows_to_report_that_are_owed_are_exactly_missing_update(actors, rep_a):
    for _ in range(3):
        owned(actors, rep_a)
    owned(actors, rep_a, assigned=timedelta(hours=1))  # assigned Wednesday: owed too
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=owned(actors, rep_a), week=W53, note="x")
    week = week_of(actors, rep_a)
    with tenant_context(actors.tenant_a):
        missing = set(missing_this_week(rep_a.principal).values_list("pk", flat=True))
    assert {lead.pk for lead in week.to_report if lead.owes_this_week} == missing
    assert len(missing) == 4


def test_a_lead_assigned_thursday_shows_but_is_not_owed_this_week(actors, rep_a):
    with time_machine.travel(datetime(2026, 12, 31, 12, tzinfo=UTC), tick=False):
        lead = owned(actors, rep_a, assigned=-timedelta(hours=22))  # Thursday 10:00
        week = week_of(actors, rep_a)
    assert [row.pk for row in week.to_report] == [lead.pk]
    assert week.owed == 0 and not week.to_report[0].owes_this_week


def test_a_lead_won_this_week_stays_in_the_reported_rows(actors, rep_a):
    lead = owned(actors, rep_a)
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="won")
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=lead, week=W53, status="won")
    week = week_of(actors, rep_a)
    assert [row.pk for row in week.reported] == [lead.pk] and week.owed == 1


def test_only_the_viewers_own_leads_are_in_their_week(actors, rep_a):
    other = make_actor(actors.tenant_a, Role.REP)
    owned(actors, other)
    assert week_of(actors, rep_a).to_report == []


def test_each_row_has_the_owners_touch_count_and_the_last_update(actors, rep_a):
    lead = owned(actors, rep_a)
    TouchFactory.create_batch(3, tenant=actors.tenant_a, lead=lead, user=rep_a.user)
    WeeklyUpdateFactory(
        tenant=actors.tenant_a, lead=lead, week=W53 - timedelta(weeks=1), note="Sent ROI deck"
    )
    (row,) = week_of(actors, rep_a).to_report
    assert (row.owner_touches, row.last_update_note) == (3, "Sent ROI deck")


def test_the_late_backlog_lists_past_weeks_without_an_update(actors, rep_a):
    lead = owned(actors, rep_a, assigned=timedelta(days=23))  # Monday 7 December
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=lead, week=date(2026, 12, 14))
    (late,) = week_of(actors, rep_a).late
    assert late.weeks == [date(2026, 12, 21), date(2026, 12, 7)]


def test_the_late_backlog_looks_back_at_most_eight_weeks(actors, rep_a):
    owned(actors, rep_a, assigned=timedelta(days=200))
    (late,) = week_of(actors, rep_a).late
    assert len(late.weeks) == BACKLOG_WEEKS


def test_the_late_backlog_skips_weeks_before_the_lead_was_accepted(actors, rep_a):
    lead = owned(actors, rep_a, assigned=timedelta(days=23))
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(accepted_at=datetime(2026, 12, 22, tzinfo=UTC))
    (late,) = week_of(actors, rep_a).late
    assert late.weeks == [date(2026, 12, 21)]


def queries_of_week(actors, rep, count) -> int:
    for _ in range(count):
        lead = owned(actors, rep)
        TouchFactory(tenant=actors.tenant_a, lead=lead, user=rep.user)
    with tenant_context(actors.tenant_a), CaptureQueriesContext(connection) as captured:
        week = my_week(rep.principal)
        assert len(week.to_report) == count
    return len(captured)


def test_my_week_takes_one_query_whatever_the_number_of_leads(actors, rep_a):
    other = make_actor(actors.tenant_a, Role.REP)
    assert queries_of_week(actors, rep_a, 3) == queries_of_week(actors, other, 40) == 1


# The page.


def page(client, actor):
    client.force_login(actor.user)
    return client


def test_the_page_shows_the_counter_the_rows_and_the_awaiting_section(client, actors, rep_a):
    owned(actors, rep_a, first_name="Avery")
    owned(actors, rep_a, stage="awaiting_acceptance", first_name="Blake")
    body = page(client, rep_a).get("/leads/week/").content.decode()
    assert "0</strong> of <strong data-owed>1</strong> reported this week" in body
    assert "(2026-W53)" in body and "Accept these first" in body
    assert "Avery Buyer" in body and "Blake Buyer" in body


def test_the_page_says_when_there_is_nothing_to_report(client, actors, rep_a):
    body = page(client, rep_a).get("/leads/week/").content.decode()
    assert "Nothing to report this week." in body


def test_a_marketer_may_not_open_my_week(client, actors):
    assert page(client, actors.teammate).get("/leads/week/").status_code == 403


def page_queries(client, actors, rep, count) -> int:
    for _ in range(count):
        owned(actors, rep)
    page(client, rep).get("/leads/week/")  # the first request of a login fills caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/leads/week/")
        assert response.status_code == 200
    return len(captured)


def test_the_page_takes_as_many_queries_for_40_leads_as_for_3(client, actors, rep_a):
    other = make_actor(actors.tenant_a, Role.REP)
    assert page_queries(client, actors, rep_a, 3) == page_queries(client, actors, other, 40)


def test_a_row_posted_without_script_reports_and_redirects_with_a_message(client, actors, rep_a):
    lead = owned(actors, rep_a)
    response = page(client, rep_a).post(
        f"/leads/{lead.pk}/week-update/",
        {"status": "progress", "note": "Called", "touch_kind": "call", "touch_outcome": "reached"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/leads/week/"
    assert "Reported on Pat Buyer." in response.content.decode()
    with tenant_context(actors.tenant_a):
        update = WeeklyUpdate.objects.get(lead_id=lead.pk)
    assert update.touch_id is not None and update.week == W53


def test_a_row_posted_by_script_returns_the_reported_row_and_the_counter(client, actors, rep_a):
    lead = owned(actors, rep_a)
    owned(actors, rep_a)
    response = page(client, rep_a).post(
        f"/leads/{lead.pk}/week-update/",
        {"status": "won", "value": "900"},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert response.status_code == 200
    assert f'id="done-{lead.pk}"' in response.content.decode()
    assert (response["X-Week-Reported"], response["X-Week-Owed"]) == ("1", "2")


def test_a_refused_row_by_script_is_a_400_saying_why_and_nothing_is_written(client, actors, rep_a):
    lead = owned(actors, rep_a)
    response = page(client, rep_a).post(
        f"/leads/{lead.pk}/week-update/", {"status": "won"}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 400 and "value" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not WeeklyUpdate.objects.exists()


def test_an_empty_row_without_script_comes_back_with_the_reason(client, actors, rep_a):
    lead = owned(actors, rep_a)
    response = page(client, rep_a).post(
        f"/leads/{lead.pk}/week-update/", {"status": "progress"}, follow=True
    )
    assert "write a note or log a touch" in response.content.decode()


def test_a_late_update_from_the_backlog_names_its_week(client, actors, rep_a):
    lead = owned(actors, rep_a, assigned=timedelta(days=23))
    page(client, rep_a).post(
        f"/leads/{lead.pk}/week-update/", {"status": "progress", "note": "x", "week": "2026-W51"}
    )
    with tenant_context(actors.tenant_a):
        update = WeeklyUpdate.objects.get(lead_id=lead.pk)
    assert (update.week, update.late) == (date(2026, 12, 14), True)


def test_another_reps_lead_is_a_404_on_the_row_post_and_the_touch_post(client, actors, rep_a):
    lead = owned(actors, make_actor(actors.tenant_a, Role.REP))
    browser = page(client, rep_a)
    update = browser.post(f"/leads/{lead.pk}/week-update/", {"status": "progress", "note": "x"})
    touch = browser.post(f"/leads/{lead.pk}/touches/new/", {"kind": "call", "outcome": "reached"})
    assert (update.status_code, touch.status_code) == (404, 404)


def test_another_tenants_lead_is_a_404(client, actors, rep_a):
    lead = owned(actors, rep_a)
    response = page(client, actors.outsider).post(
        f"/leads/{lead.pk}/week-update/", {"status": "progress", "note": "x"}
    )
    assert response.status_code == 404


def test_the_touch_form_logs_a_touch_and_goes_back(client, actors, rep_a):
    lead = owned(actors, rep_a)
    response = page(client, rep_a).post(
        f"/leads/{lead.pk}/touches/new/",
        {"kind": "email", "outcome": "replied", "note": "Sent deck", "next": "/leads/week/"},
    )
    assert response.status_code == 302 and response["Location"] == "/leads/week/"
    with tenant_context(actors.tenant_a):
        from leads.models import Touch

        assert Touch.objects.get(lead_id=lead.pk).note == "Sent deck"


def test_the_update_and_touch_partials_render_for_the_lead_page_with_its_context(actors, rep_a):
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from leads.selectors.settings import lead_settings

    lead = owned(actors, rep_a)
    request = RequestFactory().get(f"/leads/{lead.pk}/")
    with tenant_context(actors.tenant_a):
        context = {"lead": lead, "principal": rep_a.principal, "settings": lead_settings()}
        update = render_to_string("leads/_update_form.html", context, request=request)
        touch = render_to_string("leads/_touch_form.html", context, request=request)
    assert f'action="/leads/{lead.pk}/week-update/"' in update
    assert '<option value="chose a competitor">' in update
    assert f'value="/leads/{lead.pk}/"' in update
    assert f'action="/leads/{lead.pk}/touches/new/"' in touch
    assert f'value="/leads/{lead.pk}/"' in touch  # back to the lead page after logging


def test_missing_now_filters_any_lead_list_by_this_weeks_missing_updates(actors, rep_a):
    from leads.selectors.my_week import missing_now

    missing = owned(actors, rep_a)
    reported = owned(actors, rep_a)
    owned(actors, rep_a, stage="awaiting_acceptance")
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=reported, week=W53, note="x")
    with tenant_context(actors.tenant_a):
        found = missing_now(Lead.objects.all(), principal=actors.owner.principal)
        assert list(found.values_list("pk", flat=True)) == [missing.pk]


def test_a_manager_may_post_an_update_on_a_reps_lead_from_the_lead_page(client, actors, rep_a):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    lead = owned(actors, rep_a)
    response = page(client, manager).post(
        f"/leads/{lead.pk}/week-update/",
        {"status": "progress", "note": "Coached Riley", "next": f"/leads/{lead.pk}/"},
    )
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    with tenant_context(actors.tenant_a):
        assert WeeklyUpdate.objects.get(lead_id=lead.pk).user_id == manager.user.pk


def test_a_marketer_may_not_post_a_touch_on_a_lead(client, actors, rep_a):
    lead = owned(actors, rep_a)
    response = page(client, actors.teammate).post(
        f"/leads/{lead.pk}/touches/new/", {"kind": "call", "outcome": "reached"}
    )
    assert response.status_code == 403
