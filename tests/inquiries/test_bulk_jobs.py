"""Bulk actions on "all matching" too many for one request: a resumable background job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import BulkJob, DisqualifyReason, Inquiry
from inquiries.selectors.inbox import Selection
from inquiries.services import triage
from inquiries.tasks import run_bulk_job_task
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from tests.conftest import make_actor
from tests.factories import CampaignFactory, InquiryFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
JOBS = "/api/v1/inquiries/bulk-jobs/"


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    """More than two matching inquiries make a job (5,000 in production)."""
    monkeypatch.setattr(triage, "INLINE_LIMIT", 2)


@pytest.fixture
def queued(monkeypatch):
    """The task messages sent for bulk jobs (the tests run them themselves)."""
    messages = []
    monkeypatch.setattr(run_bulk_job_task, "delay", lambda **kwargs: messages.append(kwargs))
    return messages


@pytest.fixture
def five(actors):
    """Five inquiries of tenant A in the inquiry stage, one lead, and one of tenant B."""
    rows = [InquiryFactory(tenant=actors.tenant_a, stage="inquiry") for _ in range(5)]
    InquiryFactory(tenant=actors.tenant_a, stage="lead")
    InquiryFactory(tenant=actors.tenant_b, stage="inquiry")
    return rows


@pytest.fixture
def reason(actors):
    with tenant_context(actors.tenant_a):
        return DisqualifyReason.objects.create(tenant=actors.tenant_a, label="Student")


def stages(tenant) -> dict[str, int]:
    with tenant_context(tenant):
        found: dict[str, int] = {}
        for stage in Inquiry.objects.values_list("stage", flat=True):
            found[stage] = found.get(stage, 0) + 1
        return found


def start(actor, action="nurture", query="stage=inquiry", **values) -> BulkJob:
    with tenant_context(actor.tenant):
        return triage.run_bulk_action(
            action=action, selection=Selection(query=query), values=values, by=actor.principal
        )


def run(actor, job, **kwargs) -> BulkJob:
    with tenant_context(actor.tenant):
        return triage.run_bulk_job(job=job, **kwargs)


# --- The service ---------------------------------------------------------------------------


def test_all_matching_above_the_limit_queues_a_job_and_changes_nothing_yet(
    actors, five, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = start(actors.teammate)
    assert isinstance(job, BulkJob)
    assert (job.status, job.action, job.query) == ("queued", "nurture", "stage=inquiry")
    assert queued == [{"job_id": job.pk, "tenant_id": actors.tenant_a.pk}]
    assert stages(actors.tenant_a) == {"inquiry": 5, "lead": 1}


def test_all_matching_within_the_limit_runs_in_the_request(actors, queued):
    InquiryFactory(tenant=actors.tenant_a, stage="inquiry")
    result = start(actors.teammate)
    assert isinstance(result, triage.BulkResult)
    assert (result.matched, result.changed) == (1, 1)
    assert queued == []


def test_the_job_works_in_batches_and_saves_its_progress(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=2, stop_after_batches=1)
    assert (job.status, job.total, job.done, job.changed) == ("running", 5, 2, 2)
    assert stages(actors.tenant_a) == {"nurture": 2, "inquiry": 3, "lead": 1}
    assert job.percent == 40


def test_a_job_whose_worker_died_is_resumed_and_nothing_is_done_twice(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=2, stop_after_batches=2)
    with tenant_context(actors.tenant_a):
        BulkJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=10)
        )
    job = run(actors.teammate, job, batch_size=2)
    assert (job.status, job.done, job.changed, job.percent) == ("done", 5, 5, 100)
    assert stages(actors.tenant_a) == {"nurture": 5, "lead": 1}


def test_a_second_run_while_the_first_is_alive_leaves_the_job_alone(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=2, stop_after_batches=1)
    again = run(actors.teammate, job, batch_size=2)
    assert (again.status, again.done) == ("running", 2)


def test_the_finished_job_is_audited_with_its_counts(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=2)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="inquiry.bulk_nurtured")
    assert (event.after["matched"], event.after["changed"]) == (5, 5)
    assert (event.after["filter"], event.after["job"]) == ("stage=inquiry", job.pk)
    assert event.actor_id == actors.teammate.user.pk


def test_a_disqualify_job_leaves_leads_alone_and_counts_them(actors, five, queued, reason):
    job = start(actors.teammate, action="disqualify", query="", reason=reason)
    job = run(actors.teammate, job, batch_size=4)
    assert (job.done, job.changed, job.skipped) == (6, 5, 1)
    assert stages(actors.tenant_a) == {"disqualified": 5, "lead": 1}


def test_the_job_touches_only_its_own_tenant(actors, five, queued):
    run(actors.teammate, start(actors.teammate), batch_size=2)
    assert stages(actors.tenant_b) == {"inquiry": 1}


def test_a_job_whose_campaign_was_deleted_fails_and_says_why(actors, five, queued):
    campaign = CampaignFactory(tenant=actors.tenant_a)
    job = start(actors.teammate, action="add_to_campaign", query="", campaign=campaign)
    with tenant_context(actors.tenant_a):
        campaign.delete()
    job = run(actors.teammate, job)
    assert (job.status, job.error, job.done) == ("failed", "The campaign is gone.", 0)


def test_a_job_with_a_retired_reason_is_refused_before_it_is_queued(actors, five, queued, reason):
    reason.active = False
    with tenant_context(actors.tenant_a):
        reason.save()
    with pytest.raises(triage.RuleViolation, match="retired"):
        start(actors.teammate, action="disqualify", query="", reason=reason)
    with tenant_context(actors.tenant_a):
        assert not BulkJob.objects.exists()


def test_the_task_runs_the_job_for_its_tenant(actors, five, queued):
    job = start(actors.teammate)
    assert (
        run_bulk_job_task.apply(kwargs={"job_id": job.pk, "tenant_id": actors.tenant_a.pk}).get()
        == "done"
    )
    assert stages(actors.tenant_a) == {"nurture": 5, "lead": 1}


# --- The API ---------------------------------------------------------------------------------


def test_the_api_answers_202_with_the_job_to_follow(actors, five, queued):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/bulk/", {"action": "nurture", "filter": "stage=inquiry"}, format="json"
    )
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["url"].endswith(f"{JOBS}{body['id']}/")
    assert (body["status"], body["action"], body["done"]) == ("queued", "nurture", 0)


def test_the_job_resource_shows_its_progress(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=2, stop_after_batches=1)
    body = actors.teammate.api().get(f"{JOBS}{job.pk}/").json()
    assert (body["status"], body["done"], body["total"], body["percent"]) == ("running", 2, 5, 40)
    assert [j["id"] for j in actors.teammate.api().get(JOBS).json()["results"]] == [job.pk]


def test_another_tenants_job_is_404(actors, five, queued):
    job = start(actors.teammate)
    assert actors.outsider.api().get(f"{JOBS}{job.pk}/").status_code == 404
    assert actors.outsider.api().get(JOBS).json()["count"] == 0


def test_a_rep_may_not_read_bulk_jobs(actors, five, queued):
    rep = make_actor(actors.tenant_a, Role.REP)
    assert rep.api().get(JOBS).status_code == 403


# --- The inbox page ----------------------------------------------------------------------------


def test_the_inbox_shows_the_jobs_progress_after_an_all_matching_action(
    client, actors, five, queued
):
    client.force_login(actors.teammate.user)
    response = client.post(
        "/inquiries/bulk/",
        {"action": "nurture", "all_matching": "1", "query": "stage=inquiry"},
        **HTMX,
    )
    content = response.content.decode()
    with tenant_context(actors.tenant_a):
        job = BulkJob.objects.get()
    assert 'data-testid="bulk-job"' in content
    assert f'hx-get="/inquiries/bulk-jobs/{job.pk}/"' in content
    assert "Waiting for a worker" in content


def test_the_progress_partial_stops_polling_when_done(client, actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=10)
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/bulk-jobs/{job.pk}/", **HTMX).content.decode()
    assert "5 inquiries marked for nurture" in content
    assert "hx-get" not in content


def test_the_partial_of_an_ended_job_tells_the_inbox_to_reload_its_rows(
    client, actors, five, queued
):
    job = run(actors.teammate, start(actors.teammate), batch_size=10)
    client.force_login(actors.teammate.user)
    response = client.get(f"/inquiries/bulk-jobs/{job.pk}/", **HTMX)
    assert response["HX-Trigger"] == "bulk-job-ended"


def test_the_partial_of_a_running_job_lets_the_inbox_be(client, actors, five, queued):
    job = start(actors.teammate)
    client.force_login(actors.teammate.user)
    response = client.get(f"/inquiries/bulk-jobs/{job.pk}/", **HTMX)
    assert "HX-Trigger" not in response


def test_stopping_a_job_tells_the_inbox_to_reload_its_rows(client, actors, five, queued):
    job = start(actors.teammate)
    client.force_login(actors.teammate.user)
    response = client.post(f"/inquiries/bulk-jobs/{job.pk}/cancel/", **HTMX)
    assert response["HX-Trigger"] == "bulk-job-ended"


def test_the_inbox_rows_reload_in_place_when_a_job_ends(client, actors, five):
    client.force_login(actors.teammate.user)
    content = client.get("/inquiries/?stage=inquiry").content.decode()
    assert (
        '<div id="inbox-list" hx-get="" hx-trigger="bulk-job-ended from:body" hx-target="this" '
        'hx-select="#inbox-list"' in content
    )


def test_without_htmx_the_action_leads_to_the_jobs_page(client, actors, five, queued):
    client.force_login(actors.teammate.user)
    response = client.post(
        "/inquiries/bulk/", {"action": "nurture", "all_matching": "1", "query": "stage=inquiry"}
    )
    with tenant_context(actors.tenant_a):
        job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/inquiries/bulk-jobs/{job.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Mark for nurture: all matching" in page


def test_another_tenants_job_page_is_404(client, actors, five, queued):
    job = start(actors.teammate)
    client.force_login(actors.outsider.user)
    assert client.get(f"/inquiries/bulk-jobs/{job.pk}/").status_code == 404


# --- Stopping a job --------------------------------------------------------------------------


def test_a_stopped_job_keeps_what_it_did_and_does_no_more(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=2, stop_after_batches=1)
    with tenant_context(actors.tenant_a):
        stopped = triage.cancel_bulk_job(job=job, by=actors.teammate.principal)
    assert (stopped.status, stopped.done, stopped.changed) == ("cancelled", 2, 2)
    with tenant_context(actors.tenant_a):
        BulkJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=10)
        )
    again = run(actors.teammate, job, batch_size=2)
    assert (again.status, again.done) == ("cancelled", 2)
    assert stages(actors.tenant_a) == {"nurture": 2, "inquiry": 3, "lead": 1}


def test_stopping_a_finished_job_is_a_409(actors, five, queued):
    job = run(actors.teammate, start(actors.teammate), batch_size=10)
    response = actors.teammate.api().post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "finished"


def test_the_api_stops_a_queued_job(actors, five, queued):
    job = start(actors.teammate)
    response = actors.teammate.api().post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert run(actors.teammate, job).status == "cancelled"
    assert stages(actors.tenant_a) == {"inquiry": 5, "lead": 1}


def test_another_tenant_cannot_stop_a_job(actors, five, queued, client):
    job = start(actors.teammate)
    assert actors.outsider.api().post(f"{JOBS}{job.pk}/cancel/").status_code == 404
    client.force_login(actors.outsider.user)
    assert client.post(f"/inquiries/bulk-jobs/{job.pk}/cancel/", **HTMX).status_code == 404
    with tenant_context(actors.tenant_a):
        assert BulkJob.objects.get(pk=job.pk).status == "queued"


def test_the_stop_button_stops_the_job_and_says_so(client, actors, five, queued):
    job = start(actors.teammate)
    client.force_login(actors.teammate.user)
    partial = client.get(f"/inquiries/bulk-jobs/{job.pk}/", **HTMX).content.decode()
    assert f'hx-post="/inquiries/bulk-jobs/{job.pk}/cancel/"' in partial
    content = client.post(f"/inquiries/bulk-jobs/{job.pk}/cancel/", **HTMX).content.decode()
    assert "Stopped" in content
    assert "hx-get" not in content


@pytest.mark.parametrize("count", [1, 6])
def test_the_job_list_query_count_does_not_grow_with_jobs(
    actors, queued, django_assert_num_queries, count
):
    InquiryFactory.create_batch(3, tenant=actors.tenant_a, stage="inquiry")
    for _ in range(count):
        start(actors.teammate)
    api = actors.teammate.api()
    api.get(JOBS)
    # the caller (token, user, membership), the count, the page
    with django_assert_num_queries(4):
        assert len(api.get(JOBS).json()["results"]) == count
