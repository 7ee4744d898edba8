"""The nurture pages: programs, a program's enrollments, settings, the inquiry panel; 404s."""

from __future__ import annotations

import pytest
from django.test import Client

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from nurture.models import Enrollment, NurtureProgram, NurtureSettings
from tests.nurture.conftest import active, nurture_inquiry, person, two_step_program

pytestmark = pytest.mark.django_db


def browser(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


@pytest.fixture
def enrolled(in_a, system_a, django_capture_on_commit_callbacks):
    program = two_step_program(system_a)
    inquiry = nurture_inquiry(
        system_a,
        run_hooks=django_capture_on_commit_callbacks,
        first_name="Dana",
        last_name="Okafor",
    )
    return program, inquiry


def test_the_programs_page_lists_programs_and_the_long_term_one(actors, enrolled):
    page = browser(actors.teammate).get("/nurture/")
    assert page.status_code == 200
    assert b"Welcome series" in page.content
    assert b"Long-term nurture" in page.content
    assert b"None: every inquiry in nurture is in a program" in page.content


def test_the_program_page_shows_enrollments_and_pauses(actors, enrolled):
    program, inquiry = enrolled
    client = browser(actors.teammate)
    page = client.get(f"/nurture/{program.pk}/")
    assert page.status_code == 200
    assert b"Dana Okafor" in page.content
    assert client.post(f"/nurture/{program.pk}/pause/").status_code == 302
    with tenant_context(actors.tenant_a):
        assert NurtureProgram.objects.get(pk=program.pk).paused
    assert b"Paused" in client.get(f"/nurture/{program.pk}/").content


def test_the_program_page_costs_the_same_queries_for_more_enrollments(
    actors, enrolled, system_a, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program, _inquiry = enrolled
    client = browser(actors.teammate)
    client.get(f"/nurture/{program.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/nurture/{program.pk}/")
    with tenant_context(actors.tenant_a):
        for _ in range(4):
            nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/nurture/{program.pk}/")
    assert len(many) == len(few)


def test_enrolling_by_hand_on_the_page_and_bad_ids_show_a_message(actors, enrolled):
    program, _inquiry = enrolled
    with tenant_context(actors.tenant_a):
        other = person(stage="inquiry")
    client = browser(actors.teammate)
    response = client.post(f"/nurture/{program.pk}/", {"inquiry_ids": f"{other.pk}"})
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        assert active(other.pk).get().program == program
    bad = client.post(f"/nurture/{program.pk}/", {"inquiry_ids": "12, x"})
    assert bad.status_code == 400
    assert b"Enter inquiry ids" in bad.content


def test_the_settings_page_saves_and_refuses_bad_values(actors, in_a):
    client = browser(actors.owner)
    assert client.get("/nurture/settings/").status_code == 200
    form = {
        "from_name": "Acme",
        "from_address": "news@acme.example",
        "reply_to": "",
        "postal_address": "1 Main St",
        "consent_mode": "opt_out",
        "cap_emails": 2,
        "cap_days": 7,
        "window_start": "08:00",
        "window_end": "18:00",
        "throttle_per_minute": 60,
        "dkim_selector": "",
        "dkim_domain": "",
        "dkim_private_key": "",
    }
    assert client.post("/nurture/settings/", form).status_code == 302
    assert NurtureSettings.objects.get().consent_mode == "opt_out"
    bad = client.post(
        "/nurture/settings/", {**form, "cap_emails": 0, "postal_address": "2 Side St"}
    )
    assert bad.status_code == 400
    assert NurtureSettings.objects.get().postal_address == "1 Main St"


def test_the_inquiry_page_shows_enrollment_and_exit_with_their_reasons(
    actors, enrolled, system_a, django_capture_on_commit_callbacks
):
    from inquiries.models import Stage
    from tests.nurture.conftest import move

    _program, inquiry = enrolled
    with tenant_context(actors.tenant_a):
        move([inquiry.pk], Stage.MQL, system_a, run_hooks=django_capture_on_commit_callbacks)
    page = browser(actors.teammate).get(f"/inquiries/{inquiry.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Enrolled in" in text and "Welcome series" in text and "below_threshold" in text
    assert "Left" in text and "Became an MQL" in text


def test_other_tenants_pages_are_404(actors, enrolled):
    program, _inquiry = enrolled
    client = browser(actors.outsider)
    assert client.get(f"/nurture/{program.pk}/").status_code == 404
    assert client.post(f"/nurture/{program.pk}/pause/").status_code == 404
    assert client.post(f"/nurture/{program.pk}/", {"inquiry_ids": "1"}).status_code == 404
    assert b"Welcome series" not in client.get("/nurture/").content
    with tenant_context(actors.tenant_a):
        assert not NurtureProgram.objects.get(pk=program.pk).paused


def test_the_inquiry_panel_enrolls_by_hand_with_a_message(actors, enrolled):
    program, inquiry = enrolled
    with tenant_context(actors.tenant_a):
        other = person(stage="inquiry")
    client = browser(actors.teammate)
    page = client.get(f"/inquiries/{other.pk}/").content.decode()
    assert 'data-testid="nurture-enroll-form"' in page and "Welcome series" in page
    response = client.post(f"/nurture/inquiry/{other.pk}/enroll/", {"program": program.pk})
    assert response.status_code == 302 and response["Location"] == f"/inquiries/{other.pk}/"
    with tenant_context(actors.tenant_a):
        assert active(other.pk).get().program == program
        assert Inquiry.objects.get(pk=other.pk).stage == "nurture"
    assert "Enrolled in Welcome series." in client.get(response["Location"]).content.decode()
    bad = client.post(f"/nurture/inquiry/{inquiry.pk}/enroll/", {"program": "x"}, follow=True)
    assert "Choose a nurture program." in bad.content.decode()
    with tenant_context(actors.tenant_a):
        assert active(inquiry.pk).get().program == program


def test_the_inquiry_panel_removes_to_the_long_term_program(actors, enrolled):
    program, inquiry = enrolled
    client = browser(actors.teammate)
    page = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert 'data-testid="nurture-remove-form"' in page
    response = client.post(f"/nurture/inquiry/{inquiry.pk}/remove/")
    assert response.status_code == 302 and response["Location"] == f"/inquiries/{inquiry.pk}/"
    with tenant_context(actors.tenant_a):
        now = active(inquiry.pk).get()
        assert now.program.is_long_term
        assert Enrollment.objects.get(inquiry_id=inquiry.pk, program=program).exit_reason == (
            "removed"
        )
    text = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert "Removed from Welcome series; now in Long-term nurture." in text
    assert 'data-testid="nurture-remove-form"' not in text
    # Already in the long-term program: refused with a message, nothing changes.
    again = client.post(f"/nurture/inquiry/{inquiry.pk}/remove/", follow=True)
    assert "The long-term program is the last stop" in again.content.decode()
    with tenant_context(actors.tenant_a):
        assert active(inquiry.pk).get().pk == now.pk


def test_the_inquiry_panel_actions_need_csrf_and_are_404_across_tenants(actors, enrolled):
    program, inquiry = enrolled
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(actors.teammate.user)
    assert strict.post(f"/nurture/inquiry/{inquiry.pk}/remove/").status_code == 403
    assert (
        strict.post(f"/nurture/inquiry/{inquiry.pk}/enroll/", {"program": program.pk}).status_code
        == 403
    )
    outsider = browser(actors.outsider)
    assert outsider.post(f"/nurture/inquiry/{inquiry.pk}/remove/").status_code == 404
    assert (
        outsider.post(f"/nurture/inquiry/{inquiry.pk}/enroll/", {"program": program.pk}).status_code
        == 404
    )
    assert browser(actors.teammate).get(f"/nurture/inquiry/{inquiry.pk}/remove/").status_code == 405
    with tenant_context(actors.tenant_a):
        assert active(inquiry.pk).get().program == program
