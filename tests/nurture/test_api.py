"""The nurture API: programs, enrollments, consent, settings; 400s, 409s and other tenants' 404s."""

from __future__ import annotations

import pytest

from inquiries.models import Stage
from leadflow.tenancy.context import tenant_context
from nurture.models import Enrollment, NurtureProgram, NurtureSettings
from nurture.services import programs
from tests.factories import InquiryFactory
from tests.nurture.conftest import active, nurture_inquiry, two_step_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(in_a, system_a, django_capture_on_commit_callbacks):
    program = two_step_program(system_a)
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    return program, inquiry, active(inquiry.pk).get()


def test_programs_list_shows_the_long_term_program_and_counts(actors, enrolled):
    program, _inquiry, _enrollment = enrolled
    api = actors.teammate.api()
    response = api.get("/api/v1/nurture/programs/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    assert rows["Welcome series"]["active_enrollments"] == 1
    assert rows["Long-term nurture"]["is_long_term"] is True
    assert [s["kind"] for s in rows["Welcome series"]["steps"]] == ["email", "wait", "email"]


def test_the_program_list_costs_the_same_queries_for_more_programs(actors, enrolled, system_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = actors.teammate.api()
    api.get("/api/v1/nurture/programs/")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/nurture/programs/")
    with tenant_context(actors.tenant_a):
        for n in range(5):
            two_step_program(system_a, name=f"Program {n}")
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/nurture/programs/").json()["count"] == 7
    assert len(many) == len(few)


def test_pause_and_resume(actors, enrolled):
    program, _inquiry, _enrollment = enrolled
    api = actors.teammate.api()
    assert api.post(f"/api/v1/nurture/programs/{program.pk}/pause/").json()["paused"] is True
    with tenant_context(actors.tenant_a):
        assert NurtureProgram.objects.get(pk=program.pk).paused
    assert api.post(f"/api/v1/nurture/programs/{program.pk}/resume/").json()["paused"] is False


def test_deleting_the_long_term_program_is_a_409(actors, enrolled):
    with tenant_context(actors.tenant_a):
        long_term = programs.long_term_program()
    response = actors.owner.api().delete(f"/api/v1/nurture/programs/{long_term.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "long_term"


def test_enrollments_filter_by_program_and_inquiry(
    actors, enrolled, system_a, django_capture_on_commit_callbacks
):
    program, inquiry, enrollment = enrolled
    api = actors.teammate.api()
    rows = api.get(f"/api/v1/nurture/enrollments/?program={program.pk}").json()["results"]
    assert [r["id"] for r in rows] == [enrollment.pk]
    assert rows[0]["inquiry_name"] == str(inquiry)
    assert api.get(f"/api/v1/nurture/enrollments/?inquiry={inquiry.pk + 1000}").json()["count"] == 0


@pytest.mark.parametrize(
    "query",
    ["program=0", "program=abc", "inquiry=9223372036854775808", "state=bogus", "program=1.0"],
)
def test_bad_query_parameters_are_a_400(actors, enrolled, query):
    response = actors.teammate.api().get(f"/api/v1/nurture/enrollments/?{query}")
    assert response.status_code == 400


def test_enroll_by_ids_and_remove(actors, enrolled):
    program, _inquiry, _enrollment = enrolled
    with tenant_context(actors.tenant_a):
        other = InquiryFactory(tenant=actors.tenant_a, stage=Stage.INQUIRY)
    api = actors.teammate.api()
    response = api.post(
        "/api/v1/nurture/enrollments/enroll/",
        {"program": program.pk, "inquiry_ids": [other.pk]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"enrolled": [other.pk], "moved_to_nurture": [other.pk]}
    with tenant_context(actors.tenant_a):
        enrollment = active(other.pk).get()
    response = api.post(f"/api/v1/nurture/enrollments/{enrollment.pk}/remove/")
    assert response.status_code == 200
    assert response.json()["program_name"] == "Long-term nurture"
    again = api.post(f"/api/v1/nurture/enrollments/{enrollment.pk}/remove/")
    assert again.status_code == 409


def test_enrolling_unknown_or_foreign_ids_is_a_400_and_changes_nothing(actors, enrolled):
    program, _inquiry, _enrollment = enrolled
    with tenant_context(actors.tenant_b):
        foreign = InquiryFactory(tenant=actors.tenant_b, stage=Stage.INQUIRY)
    api = actors.teammate.api()
    response = api.post(
        "/api/v1/nurture/enrollments/enroll/",
        {"program": program.pk, "inquiry_ids": [foreign.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "inquiry_ids" in response.json()["errors"]
    for body in (
        {"program": program.pk},
        {"program": program.pk, "inquiry_ids": []},
        {"program": program.pk, "inquiry_ids": [1], "extra": 1},
    ):
        assert (
            api.post("/api/v1/nurture/enrollments/enroll/", body, format="json").status_code == 400
        )
    with tenant_context(actors.tenant_a):
        assert Enrollment.objects.count() == 1


def test_consent_read_and_record(actors, enrolled):
    _program, inquiry, _enrollment = enrolled
    api = actors.teammate.api()
    assert api.get(f"/api/v1/nurture/consent/{inquiry.pk}/").json()["status"] == "unknown"
    response = api.post(
        f"/api/v1/nurture/consent/{inquiry.pk}/",
        {"status": "opted_in", "source": "form", "text_shown": "Yes, send me news."},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "opted_in"
    assert body["history"][0]["text_shown"] == "Yes, send me news."
    bad = api.post(
        f"/api/v1/nurture/consent/{inquiry.pk}/",
        {"status": "maybe", "source": "form"},
        format="json",
    )
    assert bad.status_code == 400
    written_by_leadflow = api.post(
        f"/api/v1/nurture/consent/{inquiry.pk}/",
        {"status": "opted_out", "source": "bounce"},
        format="json",
    )
    assert written_by_leadflow.status_code == 400


def test_settings_read_and_change_never_show_the_dkim_key(actors, in_a):
    api = actors.owner.api()
    assert api.get("/api/v1/nurture/settings/").json()["consent_mode"] == "opt_in"
    response = api.patch(
        "/api/v1/nurture/settings/",
        {"consent_mode": "opt_out", "postal_address": "1 Main St", "cap_emails": 3},
        format="json",
    )
    assert response.status_code == 200
    assert "dkim_private_key" not in response.json()
    assert NurtureSettings.objects.get().consent_mode == "opt_out"
    assert (
        api.patch("/api/v1/nurture/settings/", {"cap_emails": 0}, format="json").status_code == 400
    )
    assert (
        api.patch("/api/v1/nurture/settings/", {"window_start": "25:00"}, format="json").status_code
        == 400
    )
    assert NurtureSettings.objects.get().cap_emails == 3


def test_qualifiers_read_but_do_not_change(actors, enrolled):
    from tests.conftest import make_actor

    program, _inquiry, _enrollment = enrolled
    qualifier = make_actor(actors.tenant_a, "qualifier")
    api = qualifier.api()
    assert api.get("/api/v1/nurture/programs/").status_code == 200
    assert api.post(f"/api/v1/nurture/programs/{program.pk}/pause/").status_code == 403
    assert (
        api.patch("/api/v1/nurture/settings/", {"cap_emails": 3}, format="json").status_code == 403
    )


def test_another_tenants_rows_are_404_on_every_route(actors, enrolled):
    program, inquiry, enrollment = enrolled
    api = actors.outsider.api()
    for method, path in [
        ("get", f"/api/v1/nurture/programs/{program.pk}/"),
        ("delete", f"/api/v1/nurture/programs/{program.pk}/"),
        ("post", f"/api/v1/nurture/programs/{program.pk}/pause/"),
        ("post", f"/api/v1/nurture/programs/{program.pk}/resume/"),
        ("get", f"/api/v1/nurture/enrollments/{enrollment.pk}/"),
        ("post", f"/api/v1/nurture/enrollments/{enrollment.pk}/remove/"),
        ("get", f"/api/v1/nurture/consent/{inquiry.pk}/"),
        ("post", f"/api/v1/nurture/consent/{inquiry.pk}/"),
    ]:
        response = getattr(api, method)(
            path, {"status": "opted_out", "source": "api"}, format="json"
        )
        assert response.status_code == 404, (method, path, response.status_code)
    assert api.get("/api/v1/nurture/enrollments/").json()["count"] == 0
    names = [row["name"] for row in api.get("/api/v1/nurture/programs/").json()["results"]]
    assert names == ["Long-term nurture"]  # tenant B's own
    response = api.post(
        "/api/v1/nurture/enrollments/enroll/",
        {"program": program.pk, "inquiry_ids": [inquiry.pk]},
        format="json",
    )
    assert response.status_code == 400
    with tenant_context(actors.tenant_a):
        assert not NurtureProgram.objects.get(pk=program.pk).paused
        assert active(inquiry.pk).get().pk == enrollment.pk


def test_the_enrollment_list_costs_the_same_queries_for_more_rows(
    actors, enrolled, system_a, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = actors.teammate.api()
    api.get("/api/v1/nurture/enrollments/")
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/nurture/enrollments/")
    with tenant_context(actors.tenant_a):
        for _ in range(4):
            nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/nurture/enrollments/").json()["count"] == 5
    assert len(many) == len(few)
