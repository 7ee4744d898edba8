"""Who gets in: tokens and keys are hashed, revocable, and never fall back."""

import hashlib

import pytest
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import ApiKey, UserToken
from tests.factories import PartnerFactory


@pytest.fixture
def partner_key(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    with tenant_context(actors.tenant_a):
        return services.issue_api_key(name="integration", partner=partner, by=system_a)


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_anonymous_caller_gets_401_with_the_error_shape(db):
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_key_gets_401(actors):
    response = bearer(f"lfk_{actors.tenant_a.pk}_{'x' * 43}").get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_malformed_authorization_header_gets_401(actors):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token abc")
    assert client.get("/api/v1/me/").status_code == 401


def test_key_naming_another_tenant_gets_401(actors, partner_key):
    forged = partner_key.secret.replace(
        f"lfk_{actors.tenant_a.pk}_", f"lfk_{actors.tenant_b.pk}_", 1
    )
    assert bearer(forged).get("/api/v1/me/").status_code == 401


def test_revoked_key_gets_401(actors, partner_key, system_a):
    with tenant_context(actors.tenant_a):
        services.revoke_api_key(api_key=partner_key.credential, by=system_a)
    assert bearer(partner_key.secret).get("/api/v1/me/").status_code == 401


def test_suspended_partners_key_gets_401(actors, partner_key, system_a):
    with tenant_context(actors.tenant_a):
        services.suspend_partner(partner=partner_key.credential.partner, by=system_a)
    assert bearer(partner_key.secret).get("/api/v1/me/").status_code == 401


def test_api_keys_are_stored_only_as_digests(actors, partner_key):
    with tenant_context(actors.tenant_a):
        row = ApiKey.objects.values().get(pk=partner_key.credential.pk)
    assert partner_key.secret not in str(row)
    assert row["key_hash"] == hashlib.sha256(partner_key.secret.encode()).hexdigest()


def test_user_tokens_are_stored_only_as_digests(actors):
    with tenant_context(actors.tenant_a):
        rows = list(UserToken.objects.values())
    assert rows
    assert all(actors.owner.token not in str(row) for row in rows)


def test_partner_key_reaches_me_as_the_partner(actors, partner_key):
    body = bearer(partner_key.secret).get("/api/v1/me/").json()
    assert body["partner"]["name"] == "Northwind"
    assert body["tenant"]["slug"] == "tenant-a"
    assert body["via"] == "api_key"


def test_user_token_reaches_me_with_the_role(actors):
    body = actors.teammate.api().get("/api/v1/me/").json()
    assert (body["tenant"]["slug"], body["role"], body["email"]) == (
        "tenant-a",
        "marketer",
        actors.teammate.user.email,
    )


def test_session_reaches_me(actors, client):
    client.force_login(actors.outsider.user)
    body = client.get("/api/v1/me/").json()
    assert (body["tenant"]["slug"], body["via"]) == ("tenant-b", "session")


def test_using_a_key_records_when_it_was_last_used(actors, partner_key):
    bearer(partner_key.secret).get("/api/v1/me/")
    with tenant_context(actors.tenant_a):
        partner_key.credential.refresh_from_db()
    assert partner_key.credential.last_used_at is not None


def test_suspended_partners_user_token_gets_401(actors, system_a):
    from tests.conftest import make_actor

    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, "rep", partner=partner)
    assert partner_user.api().get("/api/v1/me/").status_code == 200
    with tenant_context(actors.tenant_a):
        services.suspend_partner(partner=partner, by=system_a)
    assert partner_user.api().get("/api/v1/me/").status_code == 401


def test_partner_users_session_acts_for_the_partner(actors, client):
    from tests.conftest import make_actor

    partner = PartnerFactory(tenant=actors.tenant_a, name="Fabrikam")
    partner_user = make_actor(actors.tenant_a, "rep", partner=partner)
    client.force_login(partner_user.user)
    assert client.get("/api/v1/me/").json()["partner"]["name"] == "Fabrikam"


def test_a_key_is_read_with_its_tenant_in_one_query(partner_key, django_assert_num_queries):
    from leadflow.tenancy.selectors import principal_for_secret

    with django_assert_num_queries(1):
        principal = principal_for_secret(partner_key.secret)
    assert principal is not None
    assert (principal.tenant.slug, principal.partner.name) == (
        partner_key.credential.tenant.slug,
        "Northwind",
    )
