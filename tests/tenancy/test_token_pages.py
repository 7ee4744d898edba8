"""The API tokens page: list, create (the secret shown once), revoke after confirming."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, UserToken
from leadflow.tenancy.principal import Principal
from tests.conftest import make_actor
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"lfu_\d+_[A-Za-z0-9_-]{43}")


def login(client, actor):
    client.force_login(actor.user)
    return client


def token_of(actor, name: str = "default") -> UserToken:
    with tenant_context(actor.tenant):
        return UserToken.objects.select_related("user").get(user=actor.user, name=name)


def issue(actor, name: str) -> UserToken:
    with tenant_context(actor.tenant):
        return services.issue_user_token(
            membership=actor.membership, name=name, by=Principal.system(actor.tenant)
        ).credential


def test_the_page_lists_your_tokens_with_created_and_last_used(client, actors):
    token = issue(actors.teammate, "laptop")
    with tenant_context(actors.tenant_a):
        UserToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())

    response = login(client, actors.teammate).get("/settings/tokens/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "laptop" in content
    assert f"{token.prefix}…" in content
    assert content.count("<time") >= 3  # created (twice) and last used
    assert "Never" in content  # the default token was never used


def test_creating_a_token_shows_the_secret_once_and_stores_only_its_digest(client, actors):
    login(client, actors.teammate)

    response = client.post("/settings/tokens/", {"name": "CI"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = SECRET.search(response.content.decode()).group(0)
    token = token_of(actors.teammate, "CI")
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    with tenant_context(actors.tenant_a):
        assert secret not in str(UserToken.objects.values().get(pk=token.pk))
    assert secret not in client.get("/settings/tokens/").content.decode()
    assert secret not in str(dict(client.session))


def test_the_created_token_works_in_the_api(client, actors):
    response = login(client, actors.teammate).post("/settings/tokens/", {"name": "CI"})
    secret = SECRET.search(response.content.decode()).group(0)

    client.logout()
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert me.json()["email"] == actors.teammate.user.email


def test_a_blank_name_is_refused_with_a_message(client, actors):
    response = login(client, actors.teammate).post("/settings/tokens/", {"name": "  "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert UserToken.objects.filter(user=actors.teammate.user).count() == 1


def test_revoking_asks_to_confirm_first(client, actors):
    token = issue(actors.teammate, "laptop")

    response = login(client, actors.teammate).get(f"/settings/tokens/{token.pk}/revoke/")

    assert response.status_code == 200
    assert "Revoke token “laptop”?" in response.content.decode()
    assert token_of(actors.teammate, "laptop").revoked_at is None


def test_confirming_revokes_the_token_and_it_gets_401(client, actors):
    token = issue(actors.teammate, "laptop")

    response = login(client, actors.teammate).post(
        f"/settings/tokens/{token.pk}/revoke/", follow=True
    )

    assert "Token “laptop” is revoked" in response.content.decode()
    assert token_of(actors.teammate, "laptop").revoked_at is not None
    assert actors.teammate.api().get("/api/v1/me/").status_code == 200  # the other token
    assert "Revoked" in client.get("/settings/tokens/").content.decode()


def test_a_revoked_tokens_secret_gets_401(client, actors):
    login(client, actors.teammate).post(f"/settings/tokens/{token_of(actors.teammate).pk}/revoke/")

    assert actors.teammate.api().get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_person_cannot_open_or_revoke_another_persons_token(client, actors, method):
    owners = token_of(actors.owner)

    response = getattr(login(client, actors.teammate), method)(
        f"/settings/tokens/{owners.pk}/revoke/"
    )

    assert response.status_code == 404
    assert token_of(actors.owner).revoked_at is None


def test_a_person_sees_no_one_elses_tokens(client, actors):
    issue(actors.owner, "owner-laptop")

    content = login(client, actors.teammate).get("/settings/tokens/").content.decode()

    assert "owner-laptop" not in content
    assert "Members’ tokens" not in content


def test_an_admin_sees_the_members_tokens_by_name(client, actors):
    actors.teammate.user.full_name = "Marco Reyes"
    actors.teammate.user.save(update_fields=["full_name"])
    issue(actors.teammate, "marco-ci")

    content = login(client, actors.owner).get("/settings/tokens/").content.decode()

    members = content.split("Members’ tokens", 1)[1]
    assert "Marco Reyes" in members
    assert "marco-ci" in members


def test_an_admin_revokes_a_members_token_with_an_audit_row(client, actors):
    theirs = issue(actors.teammate, "marco-ci")

    response = login(client, actors.owner).post(
        f"/settings/tokens/{theirs.pk}/revoke/", follow=True
    )

    assert "is revoked" in response.content.decode()
    assert token_of(actors.teammate, "marco-ci").revoked_at is not None
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="user_token.revoked")
    assert (event.actor, event.after["user"]) == (actors.owner.user, actors.teammate.user.email)


def test_revoking_a_revoked_token_says_so(client, actors):
    token = issue(actors.teammate, "laptop")
    login(client, actors.teammate).post(f"/settings/tokens/{token.pk}/revoke/")

    response = client.post(f"/settings/tokens/{token.pk}/revoke/", follow=True)

    assert "already revoked" in response.content.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/settings/tokens/{pk}/revoke/"), ("post", "/settings/tokens/{pk}/revoke/")],
)
def test_a_token_of_another_tenant_is_404_even_for_its_admin(client, actors, method, path):
    theirs = issue(actors.teammate, "marco-ci")

    response = getattr(login(client, actors.outsider), method)(path.format(pk=theirs.pk))

    assert response.status_code == 404
    assert token_of(actors.teammate, "marco-ci").revoked_at is None


def test_another_tenants_tokens_are_not_on_an_admins_page(client, actors):
    issue(actors.teammate, "marco-ci")

    content = login(client, actors.outsider).get("/settings/tokens/").content.decode()

    assert "marco-ci" not in content


def test_a_person_outside_any_tenant_gets_404(client, db):
    client.force_login(UserFactory())

    assert client.get("/settings/tokens/").status_code == 404


def test_the_settings_page_links_to_the_tokens_page(client, actors):
    content = login(client, actors.teammate).get("/settings/").content.decode()

    assert 'href="/settings/tokens/"' in content


def test_a_partner_user_has_the_tokens_page_too(client, actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, "rep", partner=partner)

    response = login(client, partner_user).get("/settings/tokens/")

    assert response.status_code == 200
    assert "Members’ tokens" not in response.content.decode()


@pytest.mark.parametrize("rows", [1, 12])
def test_tokens_page_query_count_does_not_grow_with_rows(
    client, actors, django_assert_num_queries, rows
):
    for n in range(rows):
        issue(actors.owner, f"mine-{n}")
        issue(actors.teammate, f"theirs-{n}")
    with tenant_context(actors.tenant_a):
        UserToken.objects.update(last_used_at=timezone.now() - timedelta(hours=1))
    login(client, actors.owner).get("/settings/tokens/")
    # session, user, memberships; own tokens: count, page; members' tokens: count, page
    with django_assert_num_queries(7):
        response = client.get("/settings/tokens/")
    assert f"theirs-{rows - 1}" in response.content.decode()
