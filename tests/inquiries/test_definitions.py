"""The lead definition: draft, two sign-offs by two people, one active version, copies."""

import pytest

from inquiries.models import LeadDefinition
from leadflow.tenancy.context import tenant_context
from tests.conftest import make_actor


@pytest.fixture
def managers(actors):
    return make_actor(actors.tenant_a, "manager"), make_actor(actors.tenant_a, "manager")


def draft(actor) -> dict:
    response = actor.api().post("/api/v1/lead-definitions/", {}, format="json")
    assert response.status_code == 201
    return response.json()


def sign(actor, definition_id, side):
    return actor.api().post(
        f"/api/v1/lead-definitions/{definition_id}/sign/", {"side": side}, format="json"
    )


def test_a_new_draft_starts_from_the_articles_template(actors):
    body = draft(actors.teammate)
    assert body["status"] == "draft"
    fields = {rule["field"] for rule in body["fit_rules"]}
    assert {"title", "company_size", "industry", "country", "interest", "timeline"} <= fields
    assert not fields & {"budget", "authority"}


def test_two_managers_sign_and_the_draft_becomes_active(
    actors, managers, django_capture_on_commit_callbacks
):
    marketing, sales = managers
    definition = draft(actors.teammate)
    assert sign(marketing, definition["id"], "marketing").status_code == 200
    assert sign(sales, definition["id"], "sales").status_code == 200
    with django_capture_on_commit_callbacks():
        response = marketing.api().post(f"/api/v1/lead-definitions/{definition['id']}/activate/")
    assert response.status_code == 202
    assert response.json()["rescore_job"]
    with tenant_context(actors.tenant_a):
        assert LeadDefinition.objects.get(pk=definition["id"]).status == "active"


def test_one_person_cannot_sign_both_sides(actors, managers):
    marketing, _ = managers
    definition = draft(actors.teammate)
    sign(marketing, definition["id"], "marketing")
    response = sign(marketing, definition["id"], "sales")
    assert response.status_code == 409
    assert response.json()["code"] == "same_person"


def test_a_side_cannot_be_signed_twice(actors, managers):
    marketing, sales = managers
    definition = draft(actors.teammate)
    sign(marketing, definition["id"], "marketing")
    assert sign(sales, definition["id"], "marketing").status_code == 409


@pytest.mark.parametrize("role", ["rep", "marketer", "qualifier"])
def test_only_managers_and_admins_sign(actors, role):
    signer = make_actor(actors.tenant_a, role)
    definition = draft(actors.teammate)
    assert sign(signer, definition["id"], "sales").status_code == 403


def test_activation_needs_both_sign_offs(actors, managers):
    marketing, _ = managers
    definition = draft(actors.teammate)
    sign(marketing, definition["id"], "marketing")
    response = marketing.api().post(f"/api/v1/lead-definitions/{definition['id']}/activate/")
    assert response.status_code == 400
    assert "sales" in response.json()["detail"]


def test_editing_a_draft_withdraws_its_sign_offs(actors, managers):
    marketing, _ = managers
    definition = draft(actors.teammate)
    sign(marketing, definition["id"], "marketing")
    response = actors.teammate.api().patch(
        f"/api/v1/lead-definitions/{definition['id']}/", {"mql_threshold": 70}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["sign_offs"] == []


def test_an_active_version_cannot_be_edited_only_copied(
    actors, managers, django_capture_on_commit_callbacks
):
    marketing, sales = managers
    definition = draft(actors.teammate)
    sign(marketing, definition["id"], "marketing")
    sign(sales, definition["id"], "sales")
    with django_capture_on_commit_callbacks():
        marketing.api().post(f"/api/v1/lead-definitions/{definition['id']}/activate/")
    api = actors.teammate.api()
    edit = api.patch(f"/api/v1/lead-definitions/{definition['id']}/", {"reps": 3}, format="json")
    assert edit.status_code == 409
    copy = api.post(f"/api/v1/lead-definitions/{definition['id']}/copy/")
    assert (copy.status_code, copy.json()["status"], copy.json()["version"]) == (
        201,
        "draft",
        definition["version"] + 1,
    )


def test_a_bad_rule_is_400_naming_the_rule(actors):
    response = actors.teammate.api().post(
        "/api/v1/lead-definitions/",
        {"fit_rules": [{"field": "budget", "op": "equals", "value": "big", "points": 10}]},
        format="json",
    )
    assert response.status_code == 400
    assert "fit_rules[0].field" in response.json()["errors"]
    with tenant_context(actors.tenant_a):
        assert LeadDefinition.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("post", "copy/"),
        ("post", "sign/"),
        ("post", "activate/"),
        ("get", "what-if/"),
    ],
)
def test_definition_of_another_tenant_is_404(actors, method, suffix):
    definition = draft(actors.teammate)
    response = getattr(actors.outsider.api(), method)(
        f"/api/v1/lead-definitions/{definition['id']}/{suffix}", {"side": "sales"}, format="json"
    )
    assert response.status_code == 404


def test_a_patch_that_changes_nothing_keeps_the_sign_offs(actors, managers):
    marketing, _ = managers
    definition = draft(actors.teammate)
    sign(marketing, definition["id"], "marketing")
    response = actors.teammate.api().patch(
        f"/api/v1/lead-definitions/{definition['id']}/",
        {"mql_threshold": definition["mql_threshold"]},
        format="json",
    )
    assert [s["side"] for s in response.json()["sign_offs"]] == ["marketing"]


def test_an_engagement_rule_on_merges_is_refused(actors):
    response = actors.teammate.api().post(
        "/api/v1/lead-definitions/",
        {"engagement_rules": [{"activity": "merged", "points": 5, "cap": 10}]},
        format="json",
    )
    assert response.status_code == 400
    assert "engagement_rules[0].activity" in response.json()["errors"]
