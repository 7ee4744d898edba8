"""django-axes locks one username at one client address, never a whole address or the site."""

from __future__ import annotations

import pytest

from leadflow import settings as project_settings
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import TenantFactory

PASSWORD = "correct horse battery staple"
PROXY = "172.18.0.2"


@pytest.fixture
def limit(settings) -> int:
    settings.AXES_FAILURE_LIMIT = 3
    return 3


@pytest.fixture
def two_accounts(db):
    tenant = TenantFactory(slug="lockout", name="Lockout Co")
    return make_actor(tenant, Role.MARKETER).user, make_actor(tenant, Role.MANAGER).user


@pytest.fixture
def behind_proxy(settings):
    for name, value in project_settings.axes_client_address(behind_tls_proxy=True).items():
        setattr(settings, name, value)


def fail(client, email: str, times: int, **meta) -> None:
    for _ in range(times):
        client.post("/login/", {"username": email, "password": "wrong"}, **meta)


def log_in(client, email: str, **meta):
    return client.post("/login/", {"username": email, "password": PASSWORD}, **meta)


def is_logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def test_failures_on_one_account_do_not_lock_another_account_from_the_same_address(
    client, two_accounts, limit
):
    alice, bob = two_accounts
    fail(client, alice.email, limit, REMOTE_ADDR="198.51.100.7")

    assert is_logged_in(log_in(client, bob.email, REMOTE_ADDR="198.51.100.7"))


def test_the_account_is_locked_at_the_address_the_failures_came_from(client, two_accounts, limit):
    alice, _ = two_accounts
    fail(client, alice.email, limit, REMOTE_ADDR="198.51.100.7")

    response = log_in(client, alice.email, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_account_still_opens_from_another_address(client, two_accounts, limit):
    alice, _ = two_accounts
    fail(client, alice.email, limit, REMOTE_ADDR="198.51.100.7")

    assert is_logged_in(log_in(client, alice.email, REMOTE_ADDR="203.0.113.9"))


def test_without_the_proxy_flag_a_forged_forwarded_for_header_is_ignored(
    client, two_accounts, limit
):
    """Changing X-Forwarded-For on every attempt does not escape the count for REMOTE_ADDR."""
    alice, _ = two_accounts
    for n in range(limit):
        fail(client, alice.email, 1, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"10.9.0.{n}")

    response = log_in(
        client, alice.email, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )

    assert response.status_code == 429


def test_behind_the_proxy_clients_with_different_forwarded_addresses_are_counted_apart(
    client, two_accounts, limit, behind_proxy
):
    alice, _ = two_accounts
    fail(client, alice.email, limit, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")

    response = log_in(client, alice.email, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert is_logged_in(response)


def test_behind_the_proxy_the_client_forwarded_by_the_proxy_is_locked(
    client, two_accounts, limit, behind_proxy
):
    alice, _ = two_accounts
    fail(client, alice.email, limit, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")

    response = log_in(client, alice.email, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert response.status_code == 429


def test_behind_the_proxy_a_forged_entry_left_of_the_proxys_does_not_escape_the_lock(
    client, two_accounts, limit, behind_proxy
):
    """The proxy appends the real address; what the client wrote before it is not trusted."""
    alice, _ = two_accounts
    for n in range(limit):
        fail(
            client,
            alice.email,
            1,
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"10.9.0.{n}, 198.51.100.7",
        )

    response = log_in(client, alice.email, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert response.status_code == 429
