"""The builder's pages: create, add and move steps without JavaScript, preview frames, 404s."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from nurture.models import NurtureProgram, NurtureSend, NurtureStep
from nurture.services import builder
from tests.conftest import make_actor
from tests.nurture.conftest import dispatch, nurture_inquiry

pytestmark = pytest.mark.django_db

UNSUB = "\n\nUnsubscribe: {{ unsubscribe_url }}"
STEPS = [
    {"kind": "email", "subject": "Hello {{ first_name }}", "body": "Hi." + UNSUB},
    {"kind": "wait", "wait_days": 2},
    {"kind": "branch", "wait_days": 1, "branch_to": 1},
]


def browser(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


@pytest.fixture
def program(actors):
    with tenant_context(actors.tenant_a):
        return builder.create_program(name="Built", steps=STEPS, by=actors.teammate.principal)


def kinds(program):
    with tenant_context(program.tenant):
        return list(
            NurtureStep.objects.filter(program=program)
            .order_by("position")
            .values_list("kind", flat=True)
        )


def test_a_program_is_created_from_the_new_page(actors):
    client = browser(actors.teammate)
    assert client.get("/nurture/builder/new/").status_code == 200
    response = client.post(
        "/nurture/builder/new/", {"name": "Webinar follow-up", "source": ["webinar"]}
    )
    with tenant_context(actors.tenant_a):
        program = NurtureProgram.objects.get(name="Webinar follow-up")
    assert response.url == f"/nurture/builder/{program.pk}/"
    assert program.audience == {"source": ["webinar"]}


def test_the_builder_lists_the_steps_with_move_buttons(actors, program):
    page = browser(actors.teammate).get(f"/nurture/builder/{program.pk}/")
    assert page.status_code == 200
    assert page.content.count(b'data-testid="builder-step"') == 3
    assert b"Move step 2 up" in page.content
    assert (
        b"matches this audience now" in page.content or b"match this audience now" in page.content
    )


def test_a_wait_of_zero_added_on_the_page_shows_the_error_and_adds_nothing(actors, program):
    response = browser(actors.teammate).post(
        f"/nurture/builder/{program.pk}/steps/", {"kind": "wait", "wait_days": 0, "wait_minutes": 0}
    )
    assert response.status_code == 400
    assert b"A wait must be longer than zero." in response.content
    assert kinds(program) == ["email", "wait", "branch"]


def test_a_step_is_added_and_moved_up_with_plain_forms(actors, program):
    client = browser(actors.teammate)
    client.post(
        f"/nurture/builder/{program.pk}/steps/", {"kind": "task", "subject": "Call", "wait_days": 0}
    )
    assert kinds(program) == ["email", "wait", "branch", "task"]
    with tenant_context(actors.tenant_a):
        task = NurtureStep.objects.get(program=program, kind="task")
    client.post(f"/nurture/builder/{program.pk}/steps/{task.pk}/move/", {"direction": "up"})
    assert kinds(program) == ["email", "wait", "task", "branch"]


def test_drag_and_drops_order_is_saved(actors, program):
    with tenant_context(actors.tenant_a):
        email, wait, branch = NurtureStep.objects.filter(program=program).order_by("position")
    browser(actors.teammate).post(
        f"/nurture/builder/{program.pk}/steps/reorder/",
        {"order": f"{wait.pk},{email.pk},{branch.pk}"},
    )
    assert kinds(program) == ["wait", "email", "branch"]
    with tenant_context(actors.tenant_a):
        branch.refresh_from_db()
    assert branch.branch_to == 0  # still the wait


def test_the_live_audience_count_follows_the_form(
    actors, program, django_capture_on_commit_callbacks
):
    with tenant_context(actors.tenant_a):
        nurture_inquiry(
            actors.teammate.principal,
            run_hooks=django_capture_on_commit_callbacks,
            source="webinar",
        )
    client = browser(actors.teammate)
    url = f"/nurture/builder/{program.pk}/audience-count/"
    assert b"<strong>1</strong>" in client.get(url, {"source": "webinar"}).content
    assert b"<strong>0</strong>" in client.get(url, {"source": "event"}).content


def test_the_preview_frame_is_the_email_sandboxed_and_frameable_by_us_only(actors, program):
    with tenant_context(actors.tenant_a):
        email = NurtureStep.objects.get(program=program, position=0)
    response = browser(actors.teammate).get(
        f"/nurture/builder/{program.pk}/steps/{email.pk}/preview/"
    )
    assert response.status_code == 200
    assert b"Unsubscribe" in response.content
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    policy = response["Content-Security-Policy"]
    assert (
        "sandbox" in policy and "frame-ancestors 'self'" in policy and "script-src 'none'" in policy
    )


def test_send_a_test_to_me_from_the_page(actors, program, django_capture_on_commit_callbacks):
    with tenant_context(actors.tenant_a):
        email = NurtureStep.objects.get(program=program, position=0)
    with django_capture_on_commit_callbacks(execute=False):
        response = browser(actors.teammate).post(
            f"/nurture/builder/{program.pk}/steps/{email.pk}/test/"
        )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        dispatch()
        assert not NurtureSend.objects.exists()
    assert [m.to for m in mail.outbox] == [[actors.teammate.user.email]]


def test_the_program_page_shows_the_funnel(actors, program):
    page = browser(actors.teammate).get(f"/nurture/{program.pk}/")
    assert b'data-testid="funnel-engaged"' in page.content


def test_a_qualifier_cannot_open_the_builder(actors, program):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER)
    assert browser(qualifier).get(f"/nurture/builder/{program.pk}/").status_code == 403


def test_every_builder_page_is_a_404_for_another_tenant(actors, program):
    with tenant_context(actors.tenant_a):
        email = NurtureStep.objects.get(program=program, position=0)
    base = f"/nurture/builder/{program.pk}"
    step = f"{base}/steps/{email.pk}"
    client = browser(actors.outsider)
    for method, path, data in [
        ("get", f"{base}/", None),
        ("post", f"{base}/", {"name": "Mine"}),
        ("get", f"{base}/audience-count/", None),
        ("post", f"{base}/steps/", {"kind": "task", "subject": "x", "wait_days": 0}),
        ("post", f"{base}/steps/reorder/", {"order": str(email.pk)}),
        ("get", f"{step}/", None),
        ("post", f"{step}/", {"kind": "email", "subject": "x"}),
        ("post", f"{step}/move/", {"direction": "down"}),
        ("post", f"{step}/delete/", None),
        ("get", f"{step}/preview/", None),
        ("post", f"{step}/test/", None),
    ]:
        response = getattr(client, method)(path, data or {})
        assert response.status_code == 404, (method, path, response.status_code)
    assert kinds(program) == ["email", "wait", "branch"]
    assert not mail.outbox


# Three steps, then six more (waits and emails after the branch): nine in all.
NINE_STEPS = STEPS + [STEPS[1], STEPS[0]] * 3


def test_the_builder_page_costs_the_same_queries_for_nine_steps_as_for_three(actors, program):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with tenant_context(actors.tenant_a):
        nine = builder.create_program(
            name="Nine steps", steps=NINE_STEPS, by=actors.teammate.principal
        )
    client = browser(actors.teammate)
    client.get(f"/nurture/builder/{program.pk}/")  # the session's first request is a warm-up
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/nurture/builder/{program.pk}/").status_code == 200
    with CaptureQueriesContext(connection) as many:
        page = client.get(f"/nurture/builder/{nine.pk}/")
    assert page.content.count(b'data-testid="builder-step"') == 9
    assert len(many) == len(few)
