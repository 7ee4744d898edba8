"""Nurture's enrollments and exits on the person's timeline, through the registered source."""

from __future__ import annotations

from inquiries.models import Stage
from leadflow.lib import timeline as registry
from leadflow.lib.timeline import TimelineEntry
from leadflow.tenancy.context import tenant_context
from leads.selectors.timeline import person_timeline
from nurture.services import enrollment
from tests.nurture.conftest import move, nurture_inquiry


def lines(actors, inquiry, principal=None) -> list[TimelineEntry]:
    with tenant_context(actors.tenant_a):
        return person_timeline(inquiry=inquiry, principal=principal or actors.owner.principal)


def test_nurture_registers_its_source_when_the_app_is_ready():
    from nurture.timeline import nurture_entries

    assert nurture_entries in registry.sources()


def test_an_enrollment_reads_the_program_and_why(
    actors, in_a, system_a, django_capture_on_commit_callbacks
):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    [entry] = [e for e in lines(actors, inquiry) if e.kind == "nurture_enrolled"]
    assert entry.text.startswith("Enrolled in the nurture program “")
    assert entry.text.endswith("(below the lead threshold)")


def test_an_exit_reads_the_program_the_reason_and_when(
    actors, in_a, system_a, django_capture_on_commit_callbacks
):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    move([inquiry.pk], Stage.MQL, system_a, run_hooks=django_capture_on_commit_callbacks)
    entries = lines(actors, inquiry)
    [left] = [e for e in entries if e.kind == "nurture_exited"]
    assert left.text.startswith("Left the nurture program “")
    assert left.text.endswith(": became an mql")
    enrolled = next(e for e in entries if e.kind == "nurture_enrolled")
    assert left.at >= enrolled.at
    assert entries.index(left) < entries.index(enrolled)  # newest first


def test_the_timeline_api_shows_the_enrollment(
    actors, in_a, system_a, django_capture_on_commit_callbacks
):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    response = actors.owner.api().get(f"/api/v1/inquiries/{inquiry.pk}/timeline/")
    assert response.status_code == 200
    kinds = [row["kind"] for row in response.json()["results"]]
    assert "nurture_enrolled" in kinds


def test_another_tenants_timeline_is_still_a_404(
    actors, in_a, system_a, django_capture_on_commit_callbacks
):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    response = actors.outsider.api().get(f"/api/v1/inquiries/{inquiry.pk}/timeline/")
    assert response.status_code == 404


def test_the_source_takes_one_query_for_one_or_many_enrollments(
    actors, in_a, system_a, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from nurture.timeline import nurture_entries

    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    tz = actors.owner.principal.timezone
    with django_assert_num_queries(1):
        assert len(nurture_entries(inquiry.pk, actors.owner.principal, tz)) == 1
    for _ in range(6):
        move([inquiry.pk], Stage.MQL, system_a, run_hooks=django_capture_on_commit_callbacks)
        move([inquiry.pk], Stage.NURTURE, system_a, run_hooks=django_capture_on_commit_callbacks)
    with django_assert_num_queries(1):
        entries = nurture_entries(inquiry.pk, actors.owner.principal, tz)
    assert len(entries) == 7 + 6


def test_the_person_timeline_takes_the_same_queries_for_one_or_many_enrollments(
    actors, in_a, system_a, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    inquiry = nurture_inquiry(system_a, run_hooks=django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(6) as few:
        person_timeline(inquiry=inquiry, principal=actors.owner.principal)
    for _ in range(6):
        move([inquiry.pk], Stage.MQL, system_a, run_hooks=django_capture_on_commit_callbacks)
        move([inquiry.pk], Stage.NURTURE, system_a, run_hooks=django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(len(few.captured_queries)):
        person_timeline(inquiry=inquiry, principal=actors.owner.principal)


def test_every_enroll_reason_has_words():
    from nurture.timeline import ENROLL_REASONS

    assert set(ENROLL_REASONS) == set(enrollment.REASONS)


def test_a_registered_source_adds_its_lines(actors, in_a, monkeypatch):
    from tests.factories import InquiryFactory

    inquiry = InquiryFactory(tenant=actors.tenant_a)
    monkeypatch.setattr(registry, "_sources", dict(registry._sources))

    def source(inquiry_id, principal, tz):
        return [
            TimelineEntry(at=inquiry.created_at.astimezone(tz), kind="x", text=f"#{inquiry_id}")
        ]

    registry.register_source("test", source)
    assert f"#{inquiry.pk}" in [e.text for e in lines(actors, inquiry)]
