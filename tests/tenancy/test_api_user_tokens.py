"""People's API tokens through the API: each lists, creates and revokes their own; admins any."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, IdempotencyRecord, UserToken
from leadflow.tenancy.principal import Principal
from tests.conftest import make_actor
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def create(actor, name="laptop", **headers):
    return actor.api().post("/api/v1/tokens/", {"name": name}, format="json", **headers)


def test_a_new_token_is_shown_once_and_only_its_digest_is_stored(actors):
    created = create(actors.teammate)

    assert created.status_code == 201
    body = created.json()
    secret = body["token"]
    assert secret.startswith(f"lfu_{actors.tenant_a.pk}_")
    assert body["user"]["email"] == actors.teammate.user.email
    listed = actors.teammate.api().get("/api/v1/tokens/").json()["results"]
    assert all("token" not in row for row in listed)
    assert "token" not in actors.teammate.api().get(f"/api/v1/tokens/{body['id']}/").json()
    with tenant_context(actors.tenant_a):
        row = UserToken.objects.values().get(pk=body["id"])
    assert secret not in str(row)
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()


def test_the_new_token_acts_as_the_person(actors):
    secret = create(actors.teammate).json()["token"]

    me = bearer(secret).get("/api/v1/me/").json()

    assert (me["email"], me["role"], me["via"]) == (
        actors.teammate.user.email,
        "marketer",
        "user_token",
    )


def test_a_name_of_only_spaces_is_a_400_on_the_name(actors):
    response = create(actors.teammate, name="   ")

    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    with tenant_context(actors.tenant_a):
        assert UserToken.objects.filter(user=actors.teammate.user).count() == 1


def test_an_unknown_field_is_a_400(actors):
    response = actors.teammate.api().post(
        "/api/v1/tokens/", {"name": "ci", "user": actors.owner.user.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["user"] == ["Unknown field."]


def test_an_api_key_cannot_manage_tokens(actors, system_a):
    with tenant_context(actors.tenant_a):
        key = services.issue_api_key(name="erp", role="admin", by=system_a).secret

    assert bearer(key).get("/api/v1/tokens/").status_code == 403
    assert bearer(key).post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 403


def test_the_list_holds_only_the_callers_own_tokens(actors):
    create(actors.owner, name="owner's")

    rows = actors.teammate.api().get("/api/v1/tokens/").json()["results"]

    assert {row["user"]["email"] for row in rows} == {actors.teammate.user.email}


def test_the_list_marks_the_token_of_the_request(actors):
    other = create(actors.teammate, name="ci").json()

    rows = actors.teammate.api().get("/api/v1/tokens/").json()["results"]

    current = {row["id"]: row["current"] for row in rows}
    assert current[other["id"]] is False
    assert list(current.values()).count(True) == 1


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "revoke/")])
def test_a_person_cannot_reach_another_persons_token(actors, method, suffix):
    owners = create(actors.owner, name="owner's").json()

    response = getattr(actors.teammate.api(), method)(f"/api/v1/tokens/{owners['id']}/{suffix}")

    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert UserToken.objects.get(pk=owners["id"]).revoked_at is None


def test_a_revoked_token_gets_401(actors):
    created = create(actors.teammate, name="ci").json()

    revoked = actors.teammate.api().post(f"/api/v1/tokens/{created['id']}/revoke/")

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    response = bearer(created["token"]).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoking_twice_is_a_409(actors):
    created = create(actors.teammate, name="ci").json()
    actors.teammate.api().post(f"/api/v1/tokens/{created['id']}/revoke/")

    response = actors.teammate.api().post(f"/api/v1/tokens/{created['id']}/revoke/")

    assert response.status_code == 409
    assert response.json()["code"] == "already_revoked"


def test_the_token_of_the_request_cannot_revoke_itself(actors):
    own_id = next(
        row["id"]
        for row in actors.teammate.api().get("/api/v1/tokens/").json()["results"]
        if row["current"]
    )

    response = actors.teammate.api().post(f"/api/v1/tokens/{own_id}/revoke/")

    assert response.status_code == 409
    assert response.json()["code"] == "current_token"
    assert actors.teammate.api().get("/api/v1/me/").status_code == 200


def test_another_token_of_the_person_revokes_it(actors):
    spare = create(actors.teammate, name="spare").json()["token"]
    own_id = next(
        row["id"]
        for row in actors.teammate.api().get("/api/v1/tokens/").json()["results"]
        if row["current"]
    )

    assert bearer(spare).post(f"/api/v1/tokens/{own_id}/revoke/").status_code == 200
    assert actors.teammate.api().get("/api/v1/me/").status_code == 401


def test_an_admin_lists_every_members_tokens_with_scope_tenant(actors):
    create(actors.teammate, name="ci")

    mine = actors.owner.api().get("/api/v1/tokens/").json()["results"]
    everyone = actors.owner.api().get("/api/v1/tokens/?scope=tenant").json()["results"]

    assert {row["user"]["email"] for row in mine} == {actors.owner.user.email}
    assert {row["user"]["email"] for row in everyone} == {
        actors.owner.user.email,
        actors.teammate.user.email,
    }


def test_only_admins_list_every_members_tokens(actors):
    response = actors.teammate.api().get("/api/v1/tokens/?scope=tenant")

    assert response.status_code == 403


def test_an_unknown_scope_is_a_400(actors):
    response = actors.owner.api().get("/api/v1/tokens/?scope=everyone")

    assert response.status_code == 400
    assert "scope" in response.json()["errors"]


def test_an_admin_revokes_a_members_token_and_it_is_audited(actors):
    theirs = create(actors.teammate, name="ci").json()

    response = actors.owner.api().post(f"/api/v1/tokens/{theirs['id']}/revoke/")

    assert response.status_code == 200
    assert bearer(theirs["token"]).get("/api/v1/me/").status_code == 401
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="user_token.revoked")
    assert (event.actor, event.object_id) == (actors.owner.user, str(theirs["id"]))
    assert event.after["user"] == actors.teammate.user.email


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "revoke/")])
def test_a_token_of_another_tenant_is_404_even_for_its_admin(actors, method, suffix):
    theirs = create(actors.teammate, name="ci").json()

    response = getattr(actors.outsider.api(), method)(f"/api/v1/tokens/{theirs['id']}/{suffix}")

    assert response.status_code == 404
    assert bearer(theirs["token"]).get("/api/v1/me/").status_code == 200


def test_the_tenant_list_of_an_admin_holds_no_other_tenants_tokens(actors):
    create(actors.teammate, name="ci")

    rows = actors.outsider.api().get("/api/v1/tokens/?scope=tenant").json()["results"]

    assert {row["user"]["email"] for row in rows} == {actors.outsider.user.email}


def test_a_person_in_two_tenants_sees_each_tenants_tokens_there(actors):
    membership = MembershipFactory(
        tenant=actors.tenant_b, user=actors.teammate.user, role="qualifier"
    )
    with tenant_context(actors.tenant_b):
        in_b = services.issue_user_token(
            membership=membership, name="b", by=Principal.system(actors.tenant_b)
        )

    rows_b = bearer(in_b.secret).get("/api/v1/tokens/").json()["results"]
    rows_a = actors.teammate.api().get("/api/v1/tokens/").json()["results"]

    assert [row["name"] for row in rows_b] == ["b"]
    assert "b" not in [row["name"] for row in rows_a]


def test_a_replayed_create_shows_no_secret_and_none_is_stored(actors):
    headers = {"HTTP_IDEMPOTENCY_KEY": "token-1"}
    first = create(actors.teammate, name="ci", **headers)
    replay = create(actors.teammate, name="ci", **headers)

    secret = first.json()["token"]
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["token"] is None
    with tenant_context(actors.tenant_a):
        stored = bytes(IdempotencyRecord.objects.get(key="token-1").response_body)
        assert UserToken.objects.filter(name="ci").count() == 1
    assert secret.encode() not in stored


def test_a_partner_user_manages_their_own_tokens(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, "rep", partner=partner)

    assert create(partner_user, name="dealer portal").status_code == 201
    assert partner_user.api().get("/api/v1/tokens/?scope=tenant").status_code == 403


@pytest.mark.parametrize("rows", [1, 10])
def test_token_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    for n in range(rows):
        create(actors.teammate, name=f"t{n}")
    create(actors.owner, name="owner's")
    api = actors.owner.api()
    api.get("/api/v1/me/")  # stamps last-used once
    with django_assert_num_queries(4):
        assert api.get("/api/v1/tokens/?scope=tenant").json()["count"] == rows + 3
