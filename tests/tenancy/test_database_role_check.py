"""The system check that refuses a runtime role row-level security does not bind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.db.utils import load_backend

from leadflow.tenancy import checks as role_checks

ROOT = Path(__file__).resolve().parents[2]
SUPERUSER = os.environ.get("PGSUPERUSER", "postgres")


def connection_as(user: str | None = None, **settings):
    """A real, separate connection to the test database (alias 'default'), as ``user``."""
    settings_dict = {**connections["default"].settings_dict, **settings}
    if user is not None:
        settings_dict["USER"] = user
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")


def check_with_default(monkeypatch, connection, databases=("default",)):
    """Run the check with ``connection`` standing as the runtime alias."""
    monkeypatch.setattr(role_checks, "connections", {"default": connection})
    try:
        return role_checks.check_runtime_role_is_bound_by_row_level_security(
            databases=list(databases)
        )
    finally:
        connection.close()


def test_the_check_is_registered_for_database_checks():
    from django.core.checks import registry

    assert role_checks.check_runtime_role_is_bound_by_row_level_security in (
        registry.registry.get_checks()
    )
    assert "database" in role_checks.check_runtime_role_is_bound_by_row_level_security.tags


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "owner"])
def test_the_owner_role_as_runtime_role_is_an_error_naming_it(monkeypatch):
    owner = connections["owner"]
    errors = check_with_default(monkeypatch, connection_as(owner.settings_dict["USER"]))
    assert [error.id for error in errors] == ["tenancy.E001"]
    assert f"role {owner.settings_dict['USER']!r}" in errors[0].msg
    assert "owns" in errors[0].msg
    assert "DATABASE_OWNER_URL" in errors[0].hint
    assert "PostgreSQL roles" in errors[0].hint


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_superuser_as_runtime_role_is_an_error(monkeypatch):
    errors = check_with_default(monkeypatch, connection_as(SUPERUSER))
    assert [error.id for error in errors] == ["tenancy.E001"]
    assert "is a superuser" in errors[0].msg


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_app_role_passes():
    assert connections["default"].settings_dict["USER"] == "leadflow_app"
    errors = role_checks.check_runtime_role_is_bound_by_row_level_security(databases=["default"])
    assert errors == []


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "owner"])
def test_migrating_as_the_owner_does_not_check_the_owner(monkeypatch):
    """`migrate --database owner` checks only the owner alias; the check looks at 'default'."""
    owner = connections["owner"]
    errors = check_with_default(
        monkeypatch, connection_as(owner.settings_dict["USER"]), databases=["owner"]
    )
    assert errors == []


def test_commands_that_check_no_database_are_not_checked(monkeypatch):
    """`runserver`'s own checks pass no databases; the WSGI application runs this check."""
    assert role_checks.check_runtime_role_is_bound_by_row_level_security(databases=None) == []


def test_on_sqlite_the_check_is_silent(monkeypatch):
    sqlite = load_backend("django.db.backends.sqlite3").DatabaseWrapper(
        {**connections["default"].settings_dict, "NAME": ":memory:"}, "default"
    )
    assert check_with_default(monkeypatch, sqlite) == []


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"superuser": True, "bypassrls": False, "owned_tables": ["t"]}, ["is a superuser"]),
        ({"superuser": False, "bypassrls": True, "owned_tables": []}, ["has BYPASSRLS"]),
        ({"superuser": False, "bypassrls": False, "owned_tables": []}, []),
    ],
)
def test_the_reasons_name_what_makes_a_role_unsafe(facts, expected):
    assert role_checks.unsafe_role_reasons(schema="public", **facts) == expected


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "owner"])
def test_the_web_application_refuses_to_load_as_the_owner_role():
    """gunicorn imports leadflow.wsgi: with the owner as DATABASE_URL it fails to boot."""
    owner = connections["owner"].settings_dict
    url = f"postgres://{owner['USER']}@{owner['HOST']}:{owner['PORT']}/{owner['NAME']}"
    environment = {**os.environ, "DATABASE_URL": url}
    environment.pop("DATABASE_OWNER_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "import leadflow.wsgi"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SystemCheckError" in result.stderr
    assert f"role {owner['USER']!r}" in result.stderr
