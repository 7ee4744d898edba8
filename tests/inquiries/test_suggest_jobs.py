"""The suggested definition is fitted by a worker with its progress; the page follows it."""

from __future__ import annotations

import pytest
from django.test import Client

from inquiries.models import LeadDefinition, SuggestJob
from inquiries.services import suggestions
from inquiries.services.custom_fields import define_custom_field
from inquiries.tasks import run_suggestion_job_task
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_analysis import generate_history

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queued(monkeypatch):
    messages = []
    monkeypatch.setattr(run_suggestion_job_task, "delay", lambda **kwargs: messages.append(kwargs))
    return messages


@pytest.fixture
def history(actors, system_a):
    tenant = actors.tenant_a
    with tenant_context(tenant):
        define_custom_field(key="has_erp", label="Has an ERP", kind="boolean", by=system_a)
        define_custom_field(key="budget_k", label="Budget (k)", kind="number", by=system_a)
    generate_history(tenant, count=240)
    return tenant


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def start(actor) -> SuggestJob:
    with tenant_context(actor.tenant):
        return suggestions.start_suggestion(by=actor.principal)


def run(actor, job) -> SuggestJob:
    with tenant_context(actor.tenant):
        return suggestions.run_suggestion_job(job=job)


def test_too_few_outcomes_is_refused_at_once_without_a_job(actors, queued):
    with pytest.raises(RuleViolation) as refused:
        start(actors.teammate)
    assert refused.value.code == "not_enough_outcomes"
    assert not SuggestJob.dangerously_all_tenants.exists() and queued == []


def test_starting_queues_one_job_after_commit(
    actors, history, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = start(actors.teammate)
    assert (job.status, job.percent) == ("queued", 0)
    assert queued == [{"job_id": job.pk, "tenant_id": actors.tenant_a.pk}]
    assert start(actors.teammate).pk == job.pk  # a second click follows the same job


def test_the_job_saves_its_progress_then_the_draft(actors, history, queued, monkeypatch):
    seen: list[int] = []
    save = suggestions._save_progress

    def recording(job_id, step, percent):
        seen.append(percent)
        save(job_id, step, percent)

    monkeypatch.setattr(suggestions, "_save_progress", recording)
    job = run(actors.teammate, start(actors.teammate))
    assert (job.status, job.percent, job.step) == ("done", 100, "Done")
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] < 100
    with tenant_context(actors.tenant_a):
        draft = LeadDefinition.objects.get(pk=job.definition_id)
    assert draft.status == "draft" and "Wins among the top 10%" in draft.notes
    assert draft.created_by_id == actors.teammate.user.pk


def test_the_task_runs_the_job_in_its_tenant(actors, history, queued):
    job = start(actors.teammate)
    assert run_suggestion_job_task(job_id=job.pk, tenant_id=actors.tenant_a.pk) == "done"


def test_a_finished_job_is_not_run_again(actors, history, queued):
    job = run(actors.teammate, start(actors.teammate))
    again = run(actors.teammate, job)
    assert again.definition_id == job.definition_id
    with tenant_context(actors.tenant_a):
        assert LeadDefinition.objects.count() == 1


def test_the_page_starts_the_job_and_polls_it_then_opens_the_draft(actors, history, queued):
    client = client_of(actors.teammate)
    response = client.post("/definitions/suggest/")
    with tenant_context(actors.tenant_a):
        job = SuggestJob.objects.get()
    assert response["Location"] == f"/definitions/suggestions/{job.pk}/"
    waiting = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in waiting and "every 2s" in waiting
    job = run(actors.teammate, job)
    done = client.get(f"/definitions/suggestions/{job.pk}/", **HTMX)
    assert done.status_code == 204
    assert done["HX-Redirect"] == f"/definitions/{job.definition_id}/"
    page = client.get(done["HX-Redirect"]).content.decode()
    assert "suggested from outcomes" in page


def test_a_failed_fit_says_why(actors, history, queued, monkeypatch):
    def refuse(*, by):
        raise RuleViolation(field="outcomes", code="x", message="Both parts need won and lost.")

    monkeypatch.setattr(suggestions, "create_suggested_draft", refuse)
    job = run(actors.teammate, start(actors.teammate))
    assert (job.status, job.error) == ("failed", "Both parts need won and lost.")
    body = client_of(actors.teammate).get(f"/definitions/suggestions/{job.pk}/").content.decode()
    assert "Both parts need won and lost." in body


def test_another_tenants_suggestion_is_a_404(actors, history, queued):
    job = start(actors.teammate)
    assert client_of(actors.outsider).get(f"/definitions/suggestions/{job.pk}/").status_code == 404
