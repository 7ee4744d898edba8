"""The builder's API: programs and steps created and changed, 400s per rule, 404s across tenants."""

from __future__ import annotations

import pytest
from django.core import mail

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from nurture.models import NurtureProgram, NurtureSend, NurtureStep
from nurture.services import builder
from tests.conftest import make_actor
from tests.nurture.conftest import dispatch, nurture_inquiry

pytestmark = pytest.mark.django_db

UNSUB = " Unsubscribe: {{ unsubscribe_url }}"
EMAIL = {"kind": "email", "subject": "Hello {{ first_name }}", "body": "Hi." + UNSUB}
STEPS = [
    EMAIL,
    {"kind": "wait", "wait_days": 2},
    {"kind": "branch", "wait_days": 1, "branch_to": 1},
]


@pytest.fixture
def program(actors):
    with tenant_context(actors.tenant_a):
        return builder.create_program(name="Built", steps=STEPS, by=actors.teammate.principal)


def steps_of(program):
    with tenant_context(program.tenant):
        return list(NurtureStep.objects.filter(program=program).order_by("position"))


def test_a_program_is_created_with_its_steps(actors):
    response = actors.teammate.api().post(
        "/api/v1/nurture/programs/",
        {"name": "Webinar follow-up", "audience": {"source": ["webinar"]}, "steps": STEPS},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [s["kind"] for s in body["steps"]] == ["email", "wait", "branch"]
    assert body["steps"][2]["branch_to"] == 1
    assert body["audience"] == {"source": ["webinar"]}


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"kind": "branch", "wait_days": 1}, "branch_to"),
        ({"kind": "wait", "wait_days": 0, "wait_minutes": 0}, "wait_days"),
        ({"kind": "email", "subject": "Hi", "body": "No link."}, "body"),
        ({"kind": "email", "subject": "Hi {{ nick }}", "body": "x" + UNSUB}, "subject"),
        ({"kind": "email", "subject": "", "body": "x" + UNSUB}, "subject"),
    ],
    ids=["branch-no-target", "zero-wait", "no-unsubscribe", "unknown-field", "empty-subject"],
)
def test_a_refused_step_is_a_400_naming_the_field_and_nothing_is_created(actors, step, field):
    response = actors.teammate.api().post(
        "/api/v1/nurture/programs/", {"name": "Bad", "steps": [EMAIL, step]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][field][0].startswith("Step 2:")
    with tenant_context(actors.tenant_a):
        assert not NurtureProgram.objects.filter(name="Bad").exists()


def test_an_unknown_audience_key_is_a_400(actors, program):
    response = actors.teammate.api().patch(
        f"/api/v1/nurture/programs/{program.pk}/",
        {"audience": {"shoe_size": ["42"]}},
        format="json",
    )
    assert response.status_code == 400
    assert "audience" in response.json()["errors"]


def test_the_program_is_renamed_and_its_audience_changed(actors, program):
    response = actors.teammate.api().patch(
        f"/api/v1/nurture/programs/{program.pk}/",
        {"name": "Renamed", "audience": {"reason": ["by_hand"]}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["audience"] == {"reason": ["by_hand"]}


def test_a_step_is_added_changed_and_deleted(actors, program):
    api = actors.teammate.api()
    base = f"/api/v1/nurture/programs/{program.pk}/steps/"
    created = api.post(base, {"kind": "task", "subject": "Call", "position": 0}, format="json")
    assert created.status_code == 201
    assert [s.kind for s in steps_of(program)] == ["task", "email", "wait", "branch"]
    assert steps_of(program)[3].branch_to == 2  # still the wait
    changed = api.patch(f"{base}{created.json()['id']}/", {"subject": "Call them"}, format="json")
    assert changed.json()["subject"] == "Call them"
    assert api.delete(f"{base}{created.json()['id']}/").status_code == 204
    assert [s.kind for s in steps_of(program)] == ["email", "wait", "branch"]


def test_changing_a_wait_to_zero_is_a_400(actors, program):
    wait = steps_of(program)[1]
    response = actors.teammate.api().patch(
        f"/api/v1/nurture/programs/{program.pk}/steps/{wait.pk}/", {"wait_days": 0}, format="json"
    )
    assert response.status_code == 400
    assert "wait_days" in response.json()["errors"]


def test_deleting_a_branch_target_is_a_409(actors, program):
    wait = steps_of(program)[1]
    response = actors.teammate.api().delete(
        f"/api/v1/nurture/programs/{program.pk}/steps/{wait.pk}/"
    )
    assert response.status_code == 409


def test_reorder_keeps_the_branch_on_its_step(actors, program):
    email, wait, branch = steps_of(program)
    response = actors.teammate.api().post(
        f"/api/v1/nurture/programs/{program.pk}/steps/reorder/",
        {"order": [wait.pk, branch.pk, email.pk]},
        format="json",
    )
    assert response.status_code == 200
    assert [(s["kind"], s["branch_to"]) for s in response.json()] == [
        ("wait", None),
        ("branch", 0),
        ("email", None),
    ]


def test_a_reorder_missing_a_step_is_a_400(actors, program):
    email, *_ = steps_of(program)
    response = actors.teammate.api().post(
        f"/api/v1/nurture/programs/{program.pk}/steps/reorder/",
        {"order": [email.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "order" in response.json()["errors"]


def test_the_preview_renders_for_the_named_inquiry(
    actors, program, django_capture_on_commit_callbacks
):
    with tenant_context(actors.tenant_a):
        inquiry = nurture_inquiry(
            actors.teammate.principal,
            run_hooks=django_capture_on_commit_callbacks,
            first_name="Dana",
        )
    email = steps_of(program)[0]
    response = actors.teammate.api().post(
        f"/api/v1/nurture/programs/{program.pk}/steps/{email.pk}/preview/",
        {"inquiry": inquiry.pk},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["subject"] == "Hello Dana"
    assert "Unsubscribe" in response.json()["html"]


def test_a_preview_for_another_tenants_inquiry_is_a_400(actors, program):
    from tests.factories import InquiryFactory

    foreign = InquiryFactory(tenant=actors.tenant_b)
    email = steps_of(program)[0]
    response = actors.teammate.api().post(
        f"/api/v1/nurture/programs/{program.pk}/steps/{email.pk}/preview/",
        {"inquiry": foreign.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "inquiry" in response.json()["errors"]


def test_send_test_mails_the_caller_only(actors, program, django_capture_on_commit_callbacks):
    email = steps_of(program)[0]
    with django_capture_on_commit_callbacks(execute=False):
        response = actors.teammate.api().post(
            f"/api/v1/nurture/programs/{program.pk}/steps/{email.pk}/send-test/", {}, format="json"
        )
    assert response.status_code == 202
    assert response.json()["to"] == actors.teammate.user.email
    with tenant_context(actors.tenant_a):
        dispatch()
        assert not NurtureSend.objects.exists()
    assert [m.to for m in mail.outbox] == [[actors.teammate.user.email]]
    assert mail.outbox[0].subject.startswith("[Test] ")


def test_the_funnel(actors, program):
    response = actors.teammate.api().get(f"/api/v1/nurture/programs/{program.pk}/funnel/")
    assert response.json() == {"enrolled": 0, "engaged": 0, "mql": 0, "lead": 0, "won": 0}


def test_the_audience_count_of_an_unsaved_rule(actors, django_capture_on_commit_callbacks):
    with tenant_context(actors.tenant_a):
        nurture_inquiry(
            actors.teammate.principal,
            run_hooks=django_capture_on_commit_callbacks,
            source="webinar",
        )
    api = actors.teammate.api()
    url = "/api/v1/nurture/audience-count/"
    assert api.post(url, {"audience": {"source": ["webinar"]}}, format="json").json() == {
        "count": 1
    }
    assert api.post(url, {"audience": {"source": ["event"]}}, format="json").json() == {"count": 0}
    assert api.post(url, {"audience": {"colour": ["red"]}}, format="json").status_code == 400


def test_a_qualifier_reads_steps_but_cannot_change_them(actors, program):
    qualifier = make_actor(actors.tenant_a, Role.QUALIFIER).api()
    base = f"/api/v1/nurture/programs/{program.pk}/steps/"
    assert qualifier.get(base).status_code == 200
    assert qualifier.get(f"/api/v1/nurture/programs/{program.pk}/funnel/").status_code == 200
    assert qualifier.post(base, {"kind": "task", "subject": "x"}, format="json").status_code == 403
    assert (
        qualifier.post("/api/v1/nurture/programs/", {"name": "x"}, format="json").status_code == 403
    )


def other_tenants_routes(program):
    email = steps_of(program)[0]
    base = f"/api/v1/nurture/programs/{program.pk}"
    step = f"{base}/steps/{email.pk}"
    return [
        ("patch", f"{base}/", {"name": "Mine now"}),
        ("get", f"{base}/funnel/", None),
        ("get", f"{base}/steps/", None),
        ("post", f"{base}/steps/", {"kind": "task", "subject": "x"}),
        ("get", f"{step}/", None),
        ("patch", f"{step}/", {"subject": "Mine"}),
        ("delete", f"{step}/", None),
        ("post", f"{base}/steps/reorder/", {"order": [email.pk]}),
        ("post", f"{step}/preview/", {}),
        ("post", f"{step}/send-test/", {}),
    ]


def test_every_builder_route_is_a_404_for_another_tenant(actors, program):
    api = actors.outsider.api()
    for method, path, body in other_tenants_routes(program):
        response = getattr(api, method)(path, body, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    email = steps_of(program)[0]
    with tenant_context(actors.tenant_a):
        email.refresh_from_db()
        assert email.subject == "Hello {{ first_name }}"
        assert NurtureProgram.objects.get(pk=program.pk).name == "Built"


def test_the_audience_count_counts_only_the_callers_tenant(
    actors, django_capture_on_commit_callbacks
):
    with tenant_context(actors.tenant_a):
        nurture_inquiry(actors.teammate.principal, run_hooks=django_capture_on_commit_callbacks)
    response = actors.outsider.api().post(
        "/api/v1/nurture/audience-count/", {"audience": {}}, format="json"
    )
    assert response.json() == {"count": 0}


# Three steps, then six more (waits and emails after the branch): nine in all.
NINE_STEPS = STEPS + [STEPS[1], EMAIL] * 3


def test_the_step_list_costs_the_same_queries_for_nine_steps_as_for_three(actors, program):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with tenant_context(actors.tenant_a):
        nine = builder.create_program(
            name="Nine steps", steps=NINE_STEPS, by=actors.teammate.principal
        )
    api = actors.teammate.api()
    api.get(f"/api/v1/nurture/programs/{program.pk}/steps/")  # the token's first use is recorded
    with CaptureQueriesContext(connection) as few:
        assert api.get(f"/api/v1/nurture/programs/{program.pk}/steps/").status_code == 200
    with CaptureQueriesContext(connection) as many:
        body = api.get(f"/api/v1/nurture/programs/{nine.pk}/steps/").json()
    assert len(body) == 9
    assert len(many) == len(few)
