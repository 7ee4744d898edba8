"""`/api/v1/inquiries/{id}/touches/` and `/timeline/`: the qualifier's contacts and history."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from inquiries.models import DisqualifyReason
from inquiries.services.capture import update_profile
from inquiries.services.desk import add_note, assign_inquiry, disqualify_inquiry
from inquiries.services.reminders import create_task
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Touch
from leads.selectors.desk import inquiry_timeline
from leads.services.booking import book_appointment
from tests.conftest import make_actor
from tests.factories import ActivityFactory, InquiryFactory, TouchFactory


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def mql(actors):
    return InquiryFactory(
        tenant=actors.tenant_a, stage="mql", created_at=timezone.now() - timedelta(days=3)
    )


def test_a_qualifier_logs_a_touch_with_no_lead_and_sees_the_count_against_the_minimum(
    actors, qualifier, mql
):
    response = qualifier.api().post(
        f"/api/v1/inquiries/{mql.pk}/touches/",
        {"kind": "call", "outcome": "left_message", "note": "Voicemail."},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["lead"], body["inquiry"], body["user"]) == (None, mql.pk, qualifier.user.email)
    assert (body["touches_so_far"], body["touch_minimum"]) == (1, 8)


def test_touches_of_the_person_are_listed_newest_first(actors, qualifier, mql):
    old = TouchFactory(tenant=actors.tenant_a, inquiry=mql, at=timezone.now() - timedelta(days=1))
    new = TouchFactory(tenant=actors.tenant_a, inquiry=mql, at=timezone.now())
    body = qualifier.api().get(f"/api/v1/inquiries/{mql.pk}/touches/").json()
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "fax", "outcome": "reached"}, "kind"),
        ({"kind": "call", "outcome": "maybe"}, "outcome"),
        ({"kind": "call", "outcome": "reached", "at": "2999-01-01T10:00:00Z"}, "at"),
        ({"kind": "call", "outcome": "reached", "at": "2001-01-01T10:00:00Z"}, "at"),
    ],
)
def test_a_bad_touch_is_400_naming_the_field_and_writes_nothing(
    actors, qualifier, mql, payload, field
):
    response = qualifier.api().post(f"/api/v1/inquiries/{mql.pk}/touches/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    with tenant_context(actors.tenant_a):
        assert Touch.objects.count() == 0


@pytest.mark.parametrize("suffix", ["touches/", "timeline/"])
def test_another_tenants_inquiry_is_404(actors, mql, suffix):
    api = actors.outsider.api()
    assert api.get(f"/api/v1/inquiries/{mql.pk}/{suffix}").status_code == 404
    response = api.post(
        f"/api/v1/inquiries/{mql.pk}/touches/", {"kind": "call", "outcome": "reached"}, "json"
    )
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert Touch.objects.count() == 0


def test_a_rep_may_not_log_a_touch_before_hand_over(actors, mql):
    rep = make_actor(actors.tenant_a, Role.REP)
    response = rep.api().post(
        f"/api/v1/inquiries/{mql.pk}/touches/", {"kind": "call", "outcome": "reached"}, "json"
    )
    assert response.status_code in (403, 404)


def test_the_booking_reads_its_time_zone_and_rep_by_name(actors, qualifier, mql):
    actors.tenant_a.timezone = "America/Chicago"
    actors.tenant_a.save()
    sam = make_actor(actors.tenant_a, Role.REP, user__full_name="Sam Rep")
    starts = datetime(2026, 12, 15, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    with time_machine.travel(datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        with tenant_context(actors.tenant_a):
            book_appointment(inquiry=mql, starts_at=starts, rep=sam.user, by=qualifier.principal)
        body = qualifier.api().get(f"/api/v1/inquiries/{mql.pk}/timeline/").json()
    texts = [row["text"] for row in body["results"]]
    assert "Appointment booked for Tue 15 Dec 10:00 (Chicago) with Sam Rep" in texts


def test_the_timeline_tells_every_event_in_words_newest_first(actors, qualifier, mql):
    reason_label = "Student"
    with tenant_context(actors.tenant_a):
        reason = DisqualifyReason.objects.create(tenant=actors.tenant_a, label=reason_label)
        ActivityFactory(tenant=actors.tenant_a, inquiry=mql, kind="webinar")
        TouchFactory(tenant=actors.tenant_a, inquiry=mql, user=qualifier.user)
        add_note(inquiry=mql, text="Budget in Q2.", by=qualifier.principal)
        update_profile(inquiry=mql, changes={"title": "CTO"}, by=qualifier.principal)
        assign_inquiry(inquiry=mql, assignee=qualifier.user, by=actors.teammate.principal)
        create_task(
            inquiry=mql,
            due_at=timezone.now() + timedelta(days=1),
            note="Call back",
            by=qualifier.principal,
        )
        disqualify_inquiry(inquiry=mql, reason=reason, by=qualifier.principal)
    body = qualifier.api().get(f"/api/v1/inquiries/{mql.pk}/timeline/").json()
    rows = body["results"]
    texts = [row["text"] for row in rows]
    teammate = actors.teammate.user.display_name
    assert "Quinn Qualifier logged a call — no answer" in texts
    assert "Quinn Qualifier added a note" in texts
    assert "Quinn Qualifier edited the profile" in texts
    assert f"{teammate} assigned the inquiry to Quinn Qualifier" in texts
    assert any(t.startswith("Quinn Qualifier set a task for Quinn Qualifier, due ") for t in texts)
    assert "Quinn Qualifier moved the inquiry from MQL to Disqualified" in texts
    assert "Webinar" in texts
    edit = next(row for row in rows if row["kind"] == "edit" and "edited" in row["text"])
    assert edit["detail"] == "title from “Director of Operations” to “CTO”"
    stamps = [row["at"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    for row in rows:  # never raw ids or ISO times in what people read
        assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", row["text"] + row["detail"])
        assert str(qualifier.user.pk) not in row["text"].split()


def test_the_timeline_takes_the_same_queries_for_few_and_many_events(
    actors, qualifier, mql, django_assert_max_num_queries
):
    with tenant_context(actors.tenant_a):
        add_note(inquiry=mql, text="one", by=qualifier.principal)
        with django_assert_max_num_queries(10):
            inquiry_timeline(inquiry=mql, principal=qualifier.principal)
        for n in range(15):
            add_note(inquiry=mql, text=f"note {n}", by=qualifier.principal)
            TouchFactory(tenant=actors.tenant_a, inquiry=mql, user=qualifier.user)
            ActivityFactory(tenant=actors.tenant_a, inquiry=mql, kind="download")
            update_profile(inquiry=mql, changes={"title": f"Title {n}"}, by=qualifier.principal)
            create_task(
                inquiry=mql,
                due_at=timezone.now() + timedelta(hours=n + 1),
                by=qualifier.principal,
            )
        assign_inquiry(inquiry=mql, assignee=qualifier.user, by=qualifier.principal)
        with django_assert_max_num_queries(10):
            entries = inquiry_timeline(inquiry=mql, principal=qualifier.principal)
    assert len([e for e in entries if e.kind == "note"]) == 16
