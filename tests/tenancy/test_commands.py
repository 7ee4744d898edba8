"""The administration commands: their exact forms work, bad input writes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Partner, Tenant, User


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def printed(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith(f"{label}: "))
    return line.split(": ", 1)[1]


def me(secret: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get("/api/v1/me/").json()


@pytest.fixture
def acme(db):
    run("tenants", "create", "acme", "--name", "Acme Robotics")
    return Tenant.objects.get(slug="acme")


def test_tenants_create_opens_a_tenant(acme):
    assert acme.name == "Acme Robotics"


def test_tenants_create_rejects_a_duplicate_slug(acme):
    with pytest.raises(CommandError, match="already exists"):
        run("tenants", "create", "acme", "--name", "Other")
    assert Tenant.objects.count() == 1


@pytest.mark.parametrize("slug", ["Bad Slug", "-acme", "x" * 60])
def test_tenants_create_rejects_a_bad_slug(db, slug):
    with pytest.raises(CommandError, match="slug"):
        run("tenants", "create", slug, "--name", "X")
    assert Tenant.objects.count() == 0


def test_tenants_create_rejects_an_unknown_timezone(db):
    with pytest.raises(CommandError, match="time zone"):
        run("tenants", "create", "tz", "--name", "X", "--timezone", "Mars/Olympus")
    assert Tenant.objects.count() == 0


def test_users_create_prints_a_working_token(acme):
    output = run("users", "create", "ann@acme.test", "--tenant", "acme", "--role", "qualifier")
    body = me(printed(output, "token"))
    assert (body["email"], body["role"], body["tenant"]["slug"]) == (
        "ann@acme.test",
        "qualifier",
        "acme",
    )


def test_users_create_sets_a_login_password(acme):
    run(
        "users",
        "create",
        "ann@acme.test",
        "--tenant",
        "acme",
        "--role",
        "rep",
        "--password",
        "a-long-Passphrase-9",
    )
    assert User.objects.get(email="ann@acme.test").check_password("a-long-Passphrase-9")


def test_users_create_adds_an_existing_user_to_a_second_tenant(acme):
    run("tenants", "create", "globex", "--name", "Globex")
    run("users", "create", "ann@acme.test", "--tenant", "acme", "--role", "rep")
    run("users", "create", "ANN@acme.test ", "--tenant", "globex", "--role", "manager")
    assert User.objects.filter(email="ann@acme.test").count() == 1


def test_users_create_rejects_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="Unknown tenant"):
        run("users", "create", "ann@acme.test", "--tenant", "nope", "--role", "rep")
    assert User.objects.count() == 0


def test_users_create_rejects_a_bad_role(acme):
    with pytest.raises(CommandError, match="invalid choice"):
        run("users", "create", "ann@acme.test", "--tenant", "acme", "--role", "boss")
    assert User.objects.count() == 0


def test_users_create_rejects_a_bad_email(acme):
    with pytest.raises(CommandError, match="not a valid email"):
        run("users", "create", "not-an-email", "--tenant", "acme", "--role", "rep")
    assert User.objects.count() == 0


def test_users_create_rejects_a_weak_password_and_writes_nothing(acme):
    with pytest.raises(CommandError, match="password"):
        run(
            "users",
            "create",
            "ann@acme.test",
            "--tenant",
            "acme",
            "--role",
            "rep",
            "--password",
            "123",
        )
    assert User.objects.count() == 0


def test_users_create_rejects_a_second_membership_in_one_tenant(acme):
    run("users", "create", "ann@acme.test", "--tenant", "acme", "--role", "rep")
    with pytest.raises(CommandError, match="already a member"):
        run("users", "create", "ann@acme.test", "--tenant", "acme", "--role", "admin")
    with tenant_context(acme):
        assert Membership.objects.get().role == "rep"


def test_partners_create_prints_a_working_key(acme):
    output = run("partners", "create", "Northwind", "--tenant", "acme", "--kind", "var")
    body = me(printed(output, "api_key"))
    assert (body["partner"]["name"], body["partner"]["kind"]) == ("Northwind", "var")


def test_partners_create_rejects_a_bad_kind(acme):
    with pytest.raises(CommandError, match="invalid choice"):
        run("partners", "create", "Northwind", "--tenant", "acme", "--kind", "reseller")
    with tenant_context(acme):
        assert Partner.objects.count() == 0


def test_partners_create_rejects_a_duplicate_name(acme):
    run("partners", "create", "Northwind", "--tenant", "acme", "--kind", "var")
    with pytest.raises(CommandError, match="already exists"):
        run("partners", "create", "NORTHWIND", "--tenant", "acme", "--kind", "dealer")
    with tenant_context(acme):
        assert Partner.objects.count() == 1


def test_partner_user_is_created_for_an_existing_partner(acme):
    run("partners", "create", "Northwind", "--tenant", "acme", "--kind", "var")
    output = run(
        "users",
        "create",
        "bob@northwind.test",
        "--tenant",
        "acme",
        "--role",
        "rep",
        "--partner",
        "northwind",
    )
    assert me(printed(output, "token"))["partner"]["name"] == "Northwind"


def test_seed_demo_runs_twice(db, monkeypatch):
    monkeypatch.setattr("inquiries.demo.DEMO_PEOPLE", {"acme": 20, "globex": 20})  # fast
    first = run("seed_demo")
    second = run("seed_demo")
    assert "admin@acme.example" in first
    assert Tenant.objects.count() == 2
    assert "lfk_" in second


def test_users_create_refuses_a_password_for_an_existing_user(acme):
    run("tenants", "create", "globex", "--name", "Globex")
    run("users", "create", "ann@acme.test", "--tenant", "acme", "--role", "rep")
    with pytest.raises(CommandError, match="already has a login"):
        run(
            "users",
            "create",
            "ann@acme.test",
            "--tenant",
            "globex",
            "--role",
            "rep",
            "--password",
            "a-long-Passphrase-9",
        )
    assert Tenant.objects.get(slug="globex").pk
    assert User.objects.get(email="ann@acme.test").has_usable_password() is False


def test_seed_demo_gives_every_demo_login_a_name(db, monkeypatch):
    monkeypatch.setattr("inquiries.demo.DEMO_PEOPLE", {"acme": 20, "globex": 20})  # fast
    run("seed_demo")
    assert User.objects.get(email="admin@acme.example").full_name == "Dana Whitfield"
    assert User.objects.get(email="partner@northwind.example").full_name == "Nora Lindqvist"
    assert not User.objects.filter(email__endswith=".example", full_name="").exists()
