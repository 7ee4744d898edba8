"""Rescoring after activation: the set-based job equals scoring one by one, resumes, reports."""

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.db import connection

from inquiries.definition_template import TEMPLATE_FIT_RULES
from inquiries.models import (
    CustomField,
    Inquiry,
    LeadDefinition,
    RescoreJob,
    Source,
    Timeline,
)
from inquiries.selectors.scoring import compute_score, rules_of
from inquiries.services import rescoring
from inquiries.tasks import run_rescore_job_task
from leadflow.celery import app
from leadflow.tenancy.context import NoTenantSelected, tenant_context
from leadflow.tenancy.models import AuditEvent, StageChange
from leadflow.tenancy.principal import Principal
from tests.conftest import make_actor, transactional_databases, wait_until
from tests.factories import ActivityFactory, InquiryFactory, LeadDefinitionFactory, TenantFactory

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

CUSTOM_FIELDS = [
    ("budget", "number", []),
    ("segment", "choice", ["Enterprise", "Mid-Market", "SMB"]),
    ("partner_led", "boolean", []),
    ("notes", "text", []),
]
FIT_RULES = [
    *TEMPLATE_FIT_RULES,
    {"field": "title", "op": "equals", "value": " CTO ", "points": 12, "label": "CTO"},
    {"field": "industry", "op": "contains", "value": "care", "points": 3, "label": "Care"},
    {"field": "company_size", "op": "equals", "value": 250, "points": 2, "label": "Exactly 250"},
    {"field": "company_size", "op": "range", "value": [None, 10], "points": -10, "label": "Micro"},
    {"field": "source", "op": "equals", "value": "webinar", "points": 0, "label": "Webinar (0)"},
    {"field": "custom.budget", "op": "range", "value": [10000, None], "points": 10},
    {"field": "custom.budget", "op": "range", "value": [None, 500], "points": -5},
    {"field": "custom.segment", "op": "in", "value": ["enterprise", "Mid-Market "], "points": 8},
    {"field": "custom.partner_led", "op": "equals", "value": True, "points": 5},
    {"field": "custom.notes", "op": "contains", "value": "URGENT", "points": 7},
    # A blank value in a list matches a field of spaces, never an empty field.
    {"field": "interest", "op": "in", "value": [" ", "pricing"], "points": 4, "label": "Blank"},
]
ENGAGEMENT_RULES = [
    {"activity": "form_fill", "points": 10, "cap": 20, "half_life_days": 30, "label": "Forms"},
    {"activity": "form_fill", "points": 2, "cap": 100, "half_life_days": 365, "label": "Forms 2"},
    {"activity": "download", "points": 5, "cap": 15, "half_life_days": 30, "label": "Downloads"},
    {"activity": "webinar", "points": 10, "cap": 20, "half_life_days": 45.5, "label": "Webinars"},
    {"activity": "event_card", "points": 8, "cap": 8, "half_life_days": 0, "label": "Events"},
    {"activity": "email_click", "points": -3, "cap": 6, "half_life_days": 14, "label": "Clicks"},
    {"activity": "page_visit", "points": 1, "cap": 10, "half_life_days": 7, "label": "Visits"},
    {"activity": "chat", "points": 0, "cap": 10, "half_life_days": 14, "label": "Chats (0)"},
    {"activity": "partner_referral", "points": 15, "cap": 15, "half_life_days": 90},
    # A half-life of 86 seconds: pow() underflows to 0 for anything older than a day.
    {"activity": "email_reply", "points": 5, "cap": 10, "half_life_days": 0.001},
]
QUALIFIERS = [{"field": "country", "op": "in", "value": ["US", "CA", "GB", "DE"]}]
THRESHOLD = 50

TITLES = [
    "VP Sales",
    "  vp of operations\t",
    "Chief Executive Officer",
    "DIRECTOR, IT",
    "Manager",
    "Office manager",
    "Engineer",
    "",
    "cto",
    " CTO ",
    "\tcto\u00a0",
    "Geschäftsführer",
    "Directrice Générale",
    "\u00a0Head of Ops\u2003",
    "Chief Vp Director Manager",
]
SIZES = [None, 0, 5, 10, 49, 50, 250, 4999, 5000, 5001, 100000]
INDUSTRIES = ["manufacturing", "Manufacturing ", "\u2003healthcare\n", "Health Care", "logistics"]
COUNTRIES = ["US", "us", "CA", "GB", "DE", "FR", "", "de"]
INTERESTS = ["Requested a DEMO", "pricing", "", "demo", "Demonstration", "   "]
ABSENT = object()
CUSTOM_VALUES = {
    "budget": [ABSENT, None, 0, 500, 499.5, 10000, 25000.75, "12000", " 120 ", "abc", "1e4"]
    + ["", True, "Infinity", "NaN", "-inf", 1e-7],
    "segment": [ABSENT, "Enterprise", "Mid-Market", "SMB", ""],
    "partner_led": [ABSENT, True, False],
    "notes": [ABSENT, "urgent: call back", "no rush", "", "Not URGENT at all"],
}
KINDS = [
    "form_fill",
    "download",
    "webinar",
    "event_card",
    "email_click",
    "page_visit",
    "chat",
    "partner_referral",
    "email_reply",
    "merged",
]
STAGES = ["inquiry"] * 6 + ["mql", "nurture", "lead", "disqualified"]
# Ages that hit exact halves (2.5 rounds up to 3), the present and the future.
EXACT_AGES = [0, 30 * 86400, 60 * 86400, 45.5 * 86400, -3600]


def define_custom_fields(tenant) -> None:
    with tenant_context(tenant):
        for key, kind, choices in CUSTOM_FIELDS:
            CustomField.objects.create(
                tenant=tenant, key=key, label=key, kind=kind, choices=choices
            )


def seed(tenant, *, count: int, seed: int = 20260601) -> None:
    """``count`` inquiries with varied profiles, custom values and activities aged 0–200 days."""
    rng = random.Random(seed)
    for _ in range(count - 3):
        custom = {}
        for key, values in CUSTOM_VALUES.items():
            value = rng.choice(values)
            if value is not ABSENT:
                custom[key] = value
        inquiry = InquiryFactory(
            tenant=tenant,
            title=rng.choice(TITLES),
            company_size=rng.choice(SIZES),
            industry=rng.choice(INDUSTRIES),
            country=rng.choice(COUNTRIES),
            interest=rng.choice(INTERESTS),
            timeline=rng.choice(Timeline.values),
            source=rng.choice(Source.values),
            stage=rng.choice(STAGES),
            custom=custom,
        )
        activities = rng.choice([0, 0, 1, 1, 1, 2, 3, 4, 6, 9, 14])
        for _ in range(activities):
            exact = rng.random() < 0.2
            age = rng.choice(EXACT_AGES) if exact else rng.uniform(0, 200 * 86400)
            ActivityFactory(
                tenant=tenant,
                inquiry=inquiry,
                kind=rng.choice(KINDS),
                occurred_at=NOW - timedelta(seconds=age),
            )
    # Researchers: they respond again and again but fit not at all (0 points, and below 0).
    for size in (None, 5):
        inquiry = InquiryFactory(
            tenant=tenant,
            title="Student",
            company_size=size,
            industry="",
            country="FR",
            timeline="unknown",
            source="other",
        )
        for days in (150, 160, 170):
            ActivityFactory(tenant=tenant, inquiry=inquiry, occurred_at=NOW - timedelta(days=days))
    # An influencer right at the line: engagement 25 is half the threshold, no title rule holds.
    inquiry = InquiryFactory(tenant=tenant, title="Student", country="FR", custom={})
    for kind in ("event_card", "download", "download", "download", "page_visit", "page_visit"):
        ActivityFactory(tenant=tenant, inquiry=inquiry, kind=kind, occurred_at=NOW)


def definition_for(tenant, **overrides) -> LeadDefinition:
    values = {
        "fit_rules": FIT_RULES,
        "engagement_rules": ENGAGEMENT_RULES,
        "qualifiers": QUALIFIERS,
        "mql_threshold": THRESHOLD,
        **overrides,
    }
    return LeadDefinitionFactory(tenant=tenant, **values)


def make_active(definition: LeadDefinition) -> None:
    with tenant_context(definition.tenant_id):
        LeadDefinition.objects.filter(status="active").update(status="retired")
        LeadDefinition.objects.filter(pk=definition.pk).update(status="active")
    definition.status = "active"


def start(definition: LeadDefinition) -> RescoreJob:
    with tenant_context(definition.tenant_id):
        return rescoring.start_rescore(
            definition=definition, by=Principal.system(definition.tenant, "tests")
        )


def run(job: RescoreJob, **kwargs) -> RescoreJob:
    with tenant_context(job.tenant_id):
        return rescoring.run_rescore_job(job=RescoreJob.objects.get(pk=job.pk), **kwargs)


def stored(tenant) -> dict[int, Inquiry]:
    with tenant_context(tenant):
        return {i.pk: i for i in Inquiry.objects.order_by("pk")}


def assert_scored_as_python(tenant, definition: LeadDefinition, as_of, inquiries=None) -> None:
    """Every inquiry's stored score, breakdown and level equal compute_score's, one by one."""
    with tenant_context(tenant):
        rules = rules_of(definition)
        rows = inquiries or list(Inquiry.objects.order_by("pk"))
        for row in rows:
            expected = compute_score(inquiry=row, definition=definition, rules=rules, as_of=as_of)
            actual = (
                row.fit_score,
                row.engagement_score,
                row.score,
                row.score_breakdown,
                row.behaviour_level,
                row.definition_id,
                row.scored_at,
            )
            wanted = (
                expected.fit,
                expected.engagement,
                expected.total,
                expected.breakdown,
                expected.level,
                definition.pk,
                as_of,
            )
            assert actual == wanted, f"inquiry {row.pk}: {row.title!r} {row.custom!r}"


@pytest.fixture
def tenant(db):
    tenant = TenantFactory(slug="rescore-a")
    define_custom_fields(tenant)
    return tenant


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=["database", "python"])
def path(request, monkeypatch):
    """Each test runs the backend's own path, and the Python path (SQLite's) everywhere."""
    if request.param == "python":
        monkeypatch.setattr(rescoring, "set_based", lambda: False)
    return request.param


def test_the_whitespace_list_is_what_str_strip_removes():
    every = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert every == rescoring.PYTHON_WHITESPACE


@pytest.mark.postgres
def test_set_based_rescoring_equals_scoring_each_inquiry_in_python(tenant, frozen):
    seed(tenant, count=300)
    definition = definition_for(tenant)
    job = run(start(definition), batch_size=64)
    assert (job.status, job.done, job.total, job.percent) == ("done", 300, 300, 100)
    assert_scored_as_python(tenant, definition, job.as_of)
    rows = stored(tenant).values()
    # The data reaches every branch: levels, caps, negative and zero points, qualifiers.
    assert {r.behaviour_level for r in rows} >= {
        "mql",
        "visitor",
        "conversion",
        "influencer",
        "investigator",
        "researcher",
        "prospect",
    }
    kinds = {(i["kind"], i["points"] < 0) for r in rows for i in r.score_breakdown}
    assert {("fit", True), ("fit", False), ("engagement", True), ("engagement", False)} <= kinds
    assert any(i["rule"] == "Events" and i["points"] == 8 for r in rows for i in r.score_breakdown)


def test_rescoring_equals_python_on_either_path(tenant, frozen, path):
    seed(tenant, count=120, seed=7)
    definition = definition_for(tenant)
    job = run(start(definition), batch_size=50)
    assert (job.status, job.done) == ("done", 120)
    assert_scored_as_python(tenant, definition, job.as_of)


def test_progress_is_visible_after_each_batch(tenant, frozen, path):
    seed(tenant, count=120, seed=3)
    job = run(start(definition_for(tenant)), batch_size=50, stop_after_batches=1)
    ids = sorted(stored(tenant))
    assert (job.status, job.done, job.total, job.percent) == ("running", 50, 120, 42)
    assert job.last_inquiry_id == ids[49]
    job = run(job, batch_size=50, stop_after_batches=1)  # still held by the first run
    assert job.done == 50


def test_a_killed_and_resumed_run_ends_as_an_uninterrupted_one(tenant, frozen, path):
    seed(tenant, count=150, seed=11)
    old = definition_for(tenant, mql_threshold=40, qualifiers=[])
    old_job = run(start(old))
    new = definition_for(tenant, status="draft")
    make_active(new)
    frozen.shift(timedelta(hours=1))
    job = run(start(new), batch_size=40, stop_after_batches=2)
    assert job.done == 80
    # Killed half-way: each inquiry is scored under exactly one version, in full.
    rows = stored(tenant)
    first = [r for pk, r in rows.items() if pk <= job.last_inquiry_id]
    rest = [r for pk, r in rows.items() if pk > job.last_inquiry_id]
    assert (len(first), len(rest)) == (80, 70)
    assert_scored_as_python(tenant, new, job.as_of, first)
    assert_scored_as_python(tenant, old, old_job.as_of, rest)
    frozen.shift(rescoring.STALE_AFTER + timedelta(seconds=1))  # the heartbeat goes stale
    job = run(job, batch_size=40)
    assert (job.status, job.done, job.total) == ("done", 150, 150)
    assert_scored_as_python(tenant, new, job.as_of)
    with tenant_context(tenant):
        assert not Inquiry.objects.exclude(definition=new).exists()


def test_a_job_held_by_a_live_run_is_left_alone(tenant, frozen, path):
    seed(tenant, count=10)
    job = start(definition_for(tenant))
    with tenant_context(tenant):
        RescoreJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=NOW)
    job = run(job)
    assert (job.status, job.done) == ("running", 0)
    assert {r.definition_id for r in stored(tenant).values()} == {None}


def test_a_finished_job_is_not_run_again(tenant, frozen, path):
    seed(tenant, count=10)
    job = run(start(definition_for(tenant)))
    frozen.shift(timedelta(hours=1))
    again = run(job)
    assert (again.status, again.done, again.finished_at) == ("done", 10, job.finished_at)


def test_a_newer_definition_stops_the_job(tenant, frozen, path):
    seed(tenant, count=30)
    first = definition_for(tenant)
    job = run(start(first), batch_size=10, stop_after_batches=1)
    make_active(definition_for(tenant, status="draft"))
    frozen.shift(timedelta(minutes=5))
    job = run(job, batch_size=10)
    assert (job.status, job.error, job.done) == ("failed", "superseded by a newer definition", 10)
    assert job.finished_at is not None
    assert sum(r.definition_id == first.pk for r in stored(tenant).values()) == 10


def test_only_the_active_definition_can_be_rescored(tenant):
    from leadflow.lib.rules import RuleViolation

    with pytest.raises(RuleViolation):
        start(definition_for(tenant, status="draft"))


def test_scores_move_inquiries_to_mql_or_nurture_but_not_leads(tenant, frozen, path):
    strong = {"title": "VP Sales", "company_size": 250, "country": "US", "interest": "demo"}
    weak = {"title": "Student", "company_size": None, "country": "US", "industry": ""}
    cases = {
        ("inquiry", "strong"): "mql",
        ("inquiry", "weak"): "nurture",
        ("mql", "weak"): "nurture",
        ("nurture", "strong"): "mql",
        ("mql", "strong"): "mql",
        ("nurture", "weak"): "nurture",
        ("lead", "strong"): "lead",
        ("disqualified", "strong"): "disqualified",
        ("lead", "weak"): "lead",
    }
    made = {
        key: InquiryFactory(tenant=tenant, stage=key[0], **(strong if key[1] == "strong" else weak))
        for key in cases
    }
    run(start(definition_for(tenant)))
    rows = stored(tenant)
    assert {key: rows[made[key].pk].stage for key in cases} == cases


def test_rescoring_writes_one_history_row_per_inquiry_it_moves(tenant, frozen, path):
    strong = {"title": "VP Sales", "company_size": 250, "country": "US", "interest": "demo"}
    weak = {"title": "Student", "company_size": None, "country": "US", "industry": ""}
    moved = [
        InquiryFactory(tenant=tenant, stage="inquiry", **strong),
        InquiryFactory(tenant=tenant, stage="mql", **weak),
        InquiryFactory(tenant=tenant, stage="nurture", **strong),
    ]
    InquiryFactory(tenant=tenant, stage="mql", **strong)  # stays: no move, no row
    InquiryFactory(tenant=tenant, stage="lead", **weak)  # a lead is not scored away
    definition = definition_for(tenant)
    job = run(start(definition))
    with tenant_context(tenant):
        history = sorted(
            StageChange.objects.values_list(
                "object_id", "from_stage", "to_stage", "reason", "actor_label"
            )
        )
    because = (f"rescore under version {definition.version}", f"rescore {job.pk}")
    assert history == [
        (moved[0].pk, "inquiry", "mql", *because),
        (moved[1].pk, "mql", "nurture", *because),
        (moved[2].pk, "nurture", "mql", *because),
    ]


def test_other_tenants_inquiries_are_untouched(tenant, frozen, path):
    other = TenantFactory(slug="rescore-b")
    seed(tenant, count=20)
    theirs = InquiryFactory(tenant=other, stage="inquiry")
    run(start(definition_for(tenant)))
    (row,) = stored(other).values()
    assert (row.definition_id, row.score, row.stage, row.scored_at) == (None, 0, "inquiry", None)
    assert row.pk == theirs.pk


def test_an_inquiry_left_under_the_old_definition_is_caught_up(tenant, frozen, path):
    seed(tenant, count=20)
    old = definition_for(tenant)
    run(start(old))
    new = definition_for(tenant, status="draft", mql_threshold=30)
    make_active(new)
    job = start(new)
    job = run(job, batch_size=100, stop_after_batches=1)
    # A capture that read the old definition commits behind the job's back.
    late = min(stored(tenant))
    with tenant_context(tenant):
        Inquiry.objects.filter(pk=late).update(definition=old, score=-1)
    frozen.shift(timedelta(minutes=3))
    job = run(job, batch_size=100)
    assert job.status == "done"
    assert_scored_as_python(tenant, new, job.as_of)


def test_a_live_score_newer_than_the_job_is_kept(tenant, frozen, path):
    seed(tenant, count=5)
    definition = definition_for(tenant)
    job = start(definition)
    fresh = min(stored(tenant))
    with tenant_context(tenant):
        Inquiry.objects.filter(pk=fresh).update(
            definition=definition, score=77, scored_at=NOW + timedelta(seconds=5)
        )
    job = run(job)
    assert (job.done, stored(tenant)[fresh].score) == (5, 77)


def test_starting_a_rescore_counts_audits_and_enqueues_after_commit(
    tenant, monkeypatch, django_capture_on_commit_callbacks
):
    InquiryFactory.create_batch(3, tenant=tenant)
    sent = []
    monkeypatch.setattr(run_rescore_job_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = start(definition_for(tenant))
    assert (len(callbacks), sent) == (1, [{"job_id": job.pk, "tenant_id": tenant.pk}])
    assert (job.status, job.total, job.done) == ("queued", 3, 0)
    with tenant_context(tenant):
        event = AuditEvent.objects.get(action="rescore.started")
    assert (event.object_id, event.after["total"]) == (str(job.pk), 3)


def test_the_task_refuses_to_run_without_a_tenant():
    with pytest.raises(NoTenantSelected):
        run_rescore_job_task(job_id=1)
    with pytest.raises(NoTenantSelected):
        run_rescore_job_task.delay(job_id=1)


def test_the_task_runs_the_job_and_skips_a_missing_one(tenant, frozen):
    seed(tenant, count=5)
    job = start(definition_for(tenant))
    assert run_rescore_job_task(job_id=job.pk, tenant_id=tenant.pk) == "done"
    assert run_rescore_job_task(job_id=987654, tenant_id=tenant.pk) is None


def test_the_task_does_not_see_another_tenants_job(tenant, frozen):
    seed(tenant, count=5)
    job = start(definition_for(tenant))
    other = TenantFactory(slug="rescore-b")
    assert run_rescore_job_task(job_id=job.pk, tenant_id=other.pk) is None
    with tenant_context(tenant):
        assert RescoreJob.objects.get(pk=job.pk).status == "queued"


@pytest.mark.postgres
def test_rule_values_reach_the_database_as_parameters(tenant, frozen):
    hostile = "x'); DELETE FROM inquiries_inquiry; --"
    definition = definition_for(
        tenant,
        fit_rules=[{"field": "title", "op": "contains", "value": hostile, "points": 5}],
        engagement_rules=[],
        qualifiers=[],
    )
    InquiryFactory(tenant=tenant, title=f"Head of {hostile}")
    InquiryFactory(tenant=tenant, title="Engineer")
    with tenant_context(tenant):
        sql, params = rescoring.compile_rescore_sql(
            rules=rules_of(definition),
            tenant_id=tenant.pk,
            definition_id=definition.pk,
            as_of=NOW,
            up_to=10**9,
        )
    assert "DELETE" not in sql
    assert hostile.lower() in params.values()
    run(start(definition))
    assert sorted(r.score for r in stored(tenant).values()) == [0, 5]


# --- Real concurrency and a real worker (PostgreSQL, Redis) -------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_two_runs_at_once_score_each_inquiry_once():
    tenant = TenantFactory(slug="rescore-race")
    define_custom_fields(tenant)
    seed(tenant, count=60, seed=5)
    definition = definition_for(tenant)
    job = start(definition)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(run(job, batch_size=7))
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with tenant_context(tenant):
        job = RescoreJob.objects.get(pk=job.pk)
    assert (job.status, job.done, job.total) == ("done", 60, 60)
    assert_scored_as_python(tenant, definition, job.as_of)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_activating_a_definition_rescores_the_tenant_on_a_real_worker(monkeypatch):
    from inquiries.services.definitions import activate_definition, create_draft, sign_definition

    tenant = TenantFactory(slug="rescore-worker")
    define_custom_fields(tenant)
    seed(tenant, count=40, seed=9)
    marketing, sales = make_actor(tenant, "manager"), make_actor(tenant, "manager")
    queue = f"test-{uuid.uuid4().hex[:8]}"  # xdist workers share one Redis
    monkeypatch.setitem(app.conf, "task_default_queue", queue)
    with tenant_context(tenant):
        draft = create_draft(by=marketing.principal)
        sign_definition(definition=draft, side="marketing", by=marketing.principal)
        sign_definition(definition=draft, side="sales", by=sales.principal)
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        with tenant_context(tenant):
            job = activate_definition(definition=draft, by=marketing.principal)

        def finished():
            with tenant_context(tenant):
                return RescoreJob.objects.get(pk=job.pk).status == "done"

        assert wait_until(finished)
    with tenant_context(tenant):
        job = RescoreJob.objects.get(pk=job.pk)
        draft.refresh_from_db()
    assert (job.done, job.total) == (40, 40)
    assert_scored_as_python(tenant, draft, job.as_of)


# --- API -----------------------------------------------------------------------------------


def test_the_api_shows_a_jobs_progress(actors, frozen):
    InquiryFactory.create_batch(4, tenant=actors.tenant_a)
    definition = definition_for(actors.tenant_a, fit_rules=TEMPLATE_FIT_RULES, qualifiers=[])
    job = run(start(definition), batch_size=3, stop_after_batches=1)
    api = actors.teammate.api()
    body = api.get("/api/v1/rescore-jobs/").json()
    assert body["count"] == 1
    item = api.get(f"/api/v1/rescore-jobs/{job.pk}/").json()
    assert item == body["results"][0]
    assert {k: item[k] for k in ("definition", "definition_version", "status")} == {
        "definition": definition.pk,
        "definition_version": definition.version,
        "status": "running",
    }
    assert (item["total"], item["done"], item["percent"], item["error"]) == (4, 3, 75, "")
    assert item["as_of"] and item["started_at"] and item["finished_at"] is None


def test_another_tenants_job_is_404(actors):
    job = start(definition_for(actors.tenant_a))
    assert actors.outsider.api().get(f"/api/v1/rescore-jobs/{job.pk}/").status_code == 404
    assert actors.outsider.api().get("/api/v1/rescore-jobs/").json()["count"] == 0


@pytest.mark.parametrize("role", ["rep", "qualifier"])
def test_only_marketing_managers_and_admins_see_jobs(actors, role):
    assert make_actor(actors.tenant_a, role).api().get("/api/v1/rescore-jobs/").status_code == 403


@pytest.mark.parametrize("jobs", [1, 4])
def test_job_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, jobs):
    for _ in range(jobs):
        definition = definition_for(actors.tenant_a, status="draft", qualifiers=[])
        make_active(definition)
        start(definition)
    api = actors.owner.api()
    api.get("/api/v1/me/")
    with django_assert_num_queries(4):
        assert api.get("/api/v1/rescore-jobs/").json()["count"] == jobs
