"""The inquiry page's desk and the queue, through the Django test client."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from inquiries.models import DisqualifyReason, Inquiry, InquiryNote, InquiryTask
from inquiries.services.reminders import create_task
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory


@pytest.fixture
def qualifier(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


@pytest.fixture
def qualifier_client(client, qualifier):
    client.force_login(qualifier.user)
    return client


@pytest.fixture
def outsider_client(client, actors):
    client.force_login(actors.outsider.user)
    return client


@pytest.fixture
def mql(actors):
    return InquiryFactory(
        tenant=actors.tenant_a,
        stage="mql",
        title="VP Logistics",
        created_at=timezone.now() - timedelta(days=2),
    )


def reload(actors, inquiry) -> Inquiry:
    with tenant_context(actors.tenant_a):
        return Inquiry.objects.get(pk=inquiry.pk)


def test_the_inquiry_page_shows_the_desk_and_the_touch_count(qualifier_client, mql):
    content = qualifier_client.get(f"/inquiries/{mql.pk}/").content.decode()
    assert 'data-testid="desk"' in content
    assert 'data-testid="touch-progress"' in content
    assert "of 8 touches" in content


def test_a_note_from_the_page_is_saved_and_shown(actors, qualifier_client, mql):
    response = qualifier_client.post(f"/inquiries/{mql.pk}/notes/", {"text": "Budget in Q2"})
    assert response.status_code == 302
    content = qualifier_client.get(f"/inquiries/{mql.pk}/").content.decode()
    assert "Budget in Q2" in content and "Quinn Qualifier added a note" in content


def test_a_blank_note_is_a_message_and_nothing_changes(actors, qualifier_client, mql):
    response = qualifier_client.post(f"/inquiries/{mql.pk}/notes/", {"text": ""}, follow=True)
    assert "Write the note first." in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert InquiryNote.objects.count() == 0


def test_a_touch_from_the_page_counts_against_the_minimum(actors, qualifier_client, mql):
    response = qualifier_client.post(
        f"/inquiries/{mql.pk}/touches/", {"kind": "call", "outcome": "no_answer"}, follow=True
    )
    content = response.content.decode()
    assert "Touch logged: 1 of 8 so far." in content
    assert "Quinn Qualifier logged a call — no answer" in content


def test_a_touch_in_the_future_is_refused_with_a_message(actors, qualifier_client, mql):
    later = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = qualifier_client.post(
        f"/inquiries/{mql.pk}/touches/",
        {"kind": "call", "outcome": "reached", "at": later},
        follow=True,
    )
    assert "A touch is logged when it happened" in response.content.decode()


def test_assign_disqualify_and_requalify_from_the_page(actors, qualifier, qualifier_client, mql):
    with tenant_context(actors.tenant_a):
        reason = DisqualifyReason.objects.create(tenant=actors.tenant_a, label="Student")
    qualifier_client.post(f"/inquiries/{mql.pk}/assign/", {"assignee": qualifier.user.pk})
    assert reload(actors, mql).assigned_to_id == qualifier.user.pk
    qualifier_client.post(f"/inquiries/{mql.pk}/disqualify/", {"reason": reason.pk})
    assert reload(actors, mql).stage == "disqualified"
    content = qualifier_client.get(f"/inquiries/{mql.pk}/").content.decode()
    assert 'data-testid="requalify-form"' in content
    qualifier_client.post(f"/inquiries/{mql.pk}/requalify/")
    assert reload(actors, mql).stage == "inquiry"


def next_noon():
    """Today's noon ahead, else tomorrow's: "in 30 minutes" is then still today."""
    now = timezone.localtime()
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon > now else noon + timedelta(days=1)


def test_a_task_from_the_page_and_done_from_the_queue(actors, qualifier_client, mql):
    with time_machine.travel(next_noon(), tick=True):
        due = (timezone.localtime() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
        qualifier_client.post(f"/inquiries/{mql.pk}/tasks/", {"due_at": due, "note": "Call back"})
        queue = qualifier_client.get("/queue/").content.decode()
        assert "Call back" in queue
        with tenant_context(actors.tenant_a):
            task = InquiryTask.objects.get()
        response = qualifier_client.post(f"/tasks/{task.pk}/complete/", {"next": "/queue/"})
        assert response.status_code == 302 and response["Location"] == "/queue/"
        assert "Nothing due today." in qualifier_client.get("/queue/").content.decode()


def test_the_profile_edit_saves_and_reads_on_the_history(actors, qualifier_client, mql):
    page = qualifier_client.get(f"/inquiries/{mql.pk}/profile/")
    assert page.status_code == 200
    data = {
        name: getattr(mql, name) or ""
        for name in (
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "company",
            "company_size",
            "industry",
            "country",
            "region",
            "interest",
            "timeline",
        )
    }
    data["title"] = "COO"
    response = qualifier_client.post(f"/inquiries/{mql.pk}/profile/", data)
    assert response.status_code == 302
    assert reload(actors, mql).title == "COO"
    content = qualifier_client.get(f"/inquiries/{mql.pk}/").content.decode()
    assert "Quinn Qualifier edited the profile" in content
    assert "title from “VP Logistics” to “COO”" in content


def test_a_bad_profile_edit_is_400_and_changes_nothing(actors, qualifier_client, mql):
    response = qualifier_client.post(
        f"/inquiries/{mql.pk}/profile/", {"email": "not-an-email", "timeline": "now"}
    )
    assert response.status_code == 400
    assert reload(actors, mql).timeline == "0-3m"


def test_the_queue_lists_unassigned_mqls_oldest_first(actors, qualifier, qualifier_client):
    old = InquiryFactory(
        tenant=actors.tenant_a, stage="mql", created_at=timezone.now() - timedelta(days=9)
    )
    new = InquiryFactory(tenant=actors.tenant_a, stage="mql")
    InquiryFactory(tenant=actors.tenant_a, stage="mql", assigned_to=qualifier.user)
    InquiryFactory(tenant=actors.tenant_a, stage="nurture")
    content = qualifier_client.get("/queue/").content.decode()
    assert content.index(old.display_name) < content.index(new.display_name)
    assert content.count("Take it") == 2


def test_the_empty_queue_says_so(qualifier_client):
    content = qualifier_client.get("/queue/").content.decode()
    assert "No unassigned MQLs" in content and "Nothing due today." in content


@pytest.mark.parametrize("rows", [1, 20])
def test_the_queue_takes_the_same_queries_for_few_and_many(
    actors, qualifier, qualifier_client, django_assert_max_num_queries, rows
):
    for n in range(rows):
        person = InquiryFactory(tenant=actors.tenant_a, stage="mql")
        with tenant_context(actors.tenant_a):
            create_task(
                inquiry=person,
                due_at=timezone.now() + timedelta(minutes=n + 1),
                by=qualifier.principal,
            )
    qualifier_client.get("/queue/")
    # session, user, memberships, nav; tasks; count, page
    with django_assert_max_num_queries(9):
        qualifier_client.get("/queue/")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("post", "notes/"),
        ("post", "assign/"),
        ("post", "disqualify/"),
        ("post", "requalify/"),
        ("post", "tasks/"),
        ("post", "touches/"),
        ("get", "profile/"),
        ("post", "profile/"),
    ],
)
def test_another_tenants_inquiry_is_404_on_every_desk_page(outsider_client, mql, method, suffix):
    response = getattr(outsider_client, method)(f"/inquiries/{mql.pk}/{suffix}")
    assert response.status_code == 404


def test_another_tenants_task_is_404(actors, qualifier, outsider_client, mql):
    with tenant_context(actors.tenant_a):
        task = create_task(
            inquiry=mql, due_at=timezone.now() + timedelta(hours=1), by=qualifier.principal
        )
    assert outsider_client.post(f"/tasks/{task.pk}/complete/").status_code == 404
    assert "Nothing due today." in outsider_client.get("/queue/").content.decode()


def test_a_rep_may_not_use_the_queue(actors, client):
    rep = make_actor(actors.tenant_a, Role.REP)
    client.force_login(rep.user)
    assert client.get("/queue/").status_code in (403, 404)
