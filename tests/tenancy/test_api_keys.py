import pytest
from rest_framework.test import APIClient

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import ApiKey, AuditEvent, IdempotencyRecord
from tests.factories import PartnerFactory


def issue(actor, **body):
    return actor.api().post("/api/v1/api-keys/", body, format="json")


def test_new_key_is_shown_once_and_works(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    created = issue(actors.owner, name="erp", partner=partner.pk)
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = actors.owner.api().get("/api/v1/api-keys/").json()["results"][0]
    assert "key" not in listed
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").json()["partner"]["id"] == partner.pk


def test_tenant_key_needs_a_role(actors):
    response = issue(actors.owner, name="erp")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_key_for_another_tenants_partner_is_refused(actors):
    theirs = PartnerFactory(tenant=actors.tenant_b)
    response = issue(actors.owner, name="erp", partner=theirs.pk)
    assert response.status_code == 400
    assert response.json()["errors"]["partner"] == ["No such partner."]
    with tenant_context(actors.tenant_a):
        assert ApiKey.objects.count() == 0


def test_revoked_key_gets_401_and_the_revocation_is_audited(actors):
    created = issue(actors.owner, name="erp", role="marketer").json()
    revoked = actors.owner.api().post(f"/api/v1/api-keys/{created['id']}/revoke/")
    assert revoked.json()["revoked_at"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    assert client.get("/api/v1/me/").status_code == 401
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1


def test_revoking_twice_is_a_409(actors):
    created = issue(actors.owner, name="erp", role="marketer").json()
    actors.owner.api().post(f"/api/v1/api-keys/{created['id']}/revoke/")
    assert actors.owner.api().post(f"/api/v1/api-keys/{created['id']}/revoke/").status_code == 409


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "revoke/")])
def test_key_of_another_tenant_is_404(actors, method, suffix):
    created = issue(actors.owner, name="erp", role="marketer").json()
    response = getattr(actors.outsider.api(), method)(f"/api/v1/api-keys/{created['id']}/{suffix}")
    assert response.status_code == 404


def test_only_admins_manage_keys(actors):
    assert actors.teammate.api().get("/api/v1/api-keys/").status_code == 403


def test_partner_key_cannot_manage_keys(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    secret = issue(actors.owner, name="p", partner=partner.pk).json()["key"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/api-keys/").status_code == 403
    assert client.get("/api/v1/partners/").status_code == 403


@pytest.mark.parametrize("rows", [1, 10])
def test_key_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    for n in range(rows):
        issue(actors.owner, name=f"k{n}", role="marketer")
    api = actors.owner.api()
    api.get("/api/v1/me/")  # stamps last-used once
    with django_assert_num_queries(4):
        assert api.get("/api/v1/api-keys/").json()["count"] == rows


def test_a_replayed_key_creation_shows_no_secret_and_none_is_stored(actors):
    """The Idempotency-Key record keeps the answer for a day: never with the key's secret."""
    headers = {"HTTP_IDEMPOTENCY_KEY": "key-1"}
    first = actors.owner.api().post(
        "/api/v1/api-keys/", {"name": "erp", "role": "marketer"}, format="json", **headers
    )
    replay = actors.owner.api().post(
        "/api/v1/api-keys/", {"name": "erp", "role": "marketer"}, format="json", **headers
    )

    secret = first.json()["key"]
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["key"] is None
    with tenant_context(actors.tenant_a):
        stored = bytes(IdempotencyRecord.objects.get(key="key-1").response_body)
        assert ApiKey.objects.filter(name="erp").count() == 1
    assert secret.encode() not in stored
