"""Shared fixtures: the test database as the owner role, and three actors in two tenants."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from django.db import connections
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Role, Tenant
from leadflow.tenancy.principal import Principal
from tests.factories import MembershipFactory, TenantFactory


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_modify_db_settings,
    django_db_keepdb,
):
    """Create and migrate the test database as the owner; tests then run as the app role.

    pytest-django would only set up the aliases tests ask for; the runtime
    alias ``default`` is a mirror of ``owner``, so ``owner`` must be included.
    On the plugin's PostgreSQL (``tests/services.py``) each test database is
    copied from ``template0``, so nothing another suite left in ``template1``
    reaches it, and gets the search's superuser step before any test runs.
    ``--reuse-db`` keeps the databases (named per checkout then) for the next run.
    """
    from django.test.utils import setup_databases, teardown_databases

    from tests import services

    aliases = {alias for alias in ("default", "owner") if alias in connections}
    managed = [
        connections[alias]
        for alias in aliases
        if services.manages_postgres() and connections[alias].vendor == "postgresql"
    ]
    for connection in managed:
        connection.settings_dict["TEST"]["TEMPLATE"] = "template0"
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, keepdb=django_db_keepdb, aliases=aliases
        )
    for name in sorted({connection.settings_dict["NAME"] for connection in managed}):
        services.apply_search_leakproof(name)
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
        if not django_db_keepdb:
            teardown_databases(config, verbosity=0)


@pytest.fixture
def small_demo(monkeypatch):
    """``seed_demo`` with 80 and 70 people instead of 200 and 150: each seed takes seconds,
    not a minute. The demo's features do not depend on its size; one test
    (``test_full_demo_has_a_few_hundred_inquiries_per_tenant``) seeds the full demo."""
    monkeypatch.setattr("inquiries.demo.DEMO_PEOPLE", {"acme": 80, "globex": 70})


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Argon2 is slow on purpose (about 100 MB and a noticeable fraction of a second per
    hash); tests hash many passwords and prove nothing about the hasher itself."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def on_postgres() -> bool:
    return connections["default"].vendor == "postgresql"


# Transactional tests (live server, real workers, concurrency) must flush as
# the owner: the runtime role has no TRUNCATE right, on purpose.
ALL_DATABASES = ["default", "owner"]


def transactional_databases() -> list[str]:
    return [alias for alias in ALL_DATABASES if alias in connections]


@dataclass
class Actor:
    membership: Membership
    token: str

    @property
    def user(self):
        return self.membership.user

    @property
    def tenant(self) -> Tenant:
        return self.membership.tenant

    @property
    def principal(self) -> Principal:
        return Principal(
            tenant=self.tenant,
            role=self.membership.role,
            via="session",
            user=self.user,
            membership=self.membership,
        )

    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        return client


def make_actor(tenant: Tenant, role: str, **kwargs) -> Actor:
    with tenant_context(tenant):
        membership = MembershipFactory(tenant=tenant, role=role, **kwargs)
        issued = services.issue_user_token(
            membership=membership, by=Principal.system(tenant, "tests")
        )
    return Actor(membership=membership, token=issued.secret)


@dataclass
class Actors:
    """Owner (admin of A), teammate (marketer of A) and outsider (admin of B)."""

    tenant_a: Tenant
    tenant_b: Tenant
    owner: Actor
    teammate: Actor
    outsider: Actor


@pytest.fixture
def actors(db) -> Actors:
    tenant_a = TenantFactory(slug="tenant-a", name="Tenant A")
    tenant_b = TenantFactory(slug="tenant-b", name="Tenant B")
    return Actors(
        tenant_a=tenant_a,
        tenant_b=tenant_b,
        owner=make_actor(tenant_a, Role.ADMIN),
        teammate=make_actor(tenant_a, Role.MARKETER),
        outsider=make_actor(tenant_b, Role.ADMIN),
    )


@pytest.fixture
def system_a(actors) -> Principal:
    return Principal.system(actors.tenant_a, "tests")


def captured_inquiry(tenant: Tenant, by: Principal):
    """Dana Okafor of Freight Co, captured through the form: scored, with a custom field."""
    from inquiries.models import CustomField
    from inquiries.services.capture import capture_inquiry

    with tenant_context(tenant):
        CustomField.objects.create(
            tenant=tenant, key="fleet_size", label="Fleet size", kind="number"
        )
        return capture_inquiry(
            profile={
                "email": "dana@freight.example",
                "first_name": "Dana",
                "last_name": "Okafor",
                "title": "VP Logistics",
                "company": "Freight Co",
                "company_size": 800,
                "industry": "logistics",
                "timeline": "0-3m",
            },
            custom={"fleet_size": 120},
            source="web_form",
            by=by,
        ).inquiry


def wait_until(predicate, seconds: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``seconds`` pass (False): for real workers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
