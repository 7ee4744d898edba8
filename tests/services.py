"""pytest plugin: point the suite at PostgreSQL and Redis when they answer.

Loaded with ``-p tests.services`` before pytest-django reads the settings, so
it can choose the environment. On PostgreSQL it makes sure the two roles exist:
``leadflow_owner`` creates and migrates the test database, ``leadflow_app``
(no superuser, no BYPASSRLS, owns nothing) runs the tests, so row-level
security applies. When a server does not answer, the suite says so loudly and
falls back (SQLite, no Redis), skipping only the tests marked for it; with
``REQUIRE_SERVICES=1`` a missing server stops the run instead.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

PG_HOST = os.environ.get("PGHOST_FOR_TESTS", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT_FOR_TESTS", "5432"))
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
OWNER_ROLE = "leadflow_owner"
APP_ROLE = "leadflow_app"

_state: dict[str, bool] = {"postgres": False, "redis": False}


def _redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _ensure_roles() -> bool:
    """Create the owner and runtime roles as the local superuser; False if unreachable."""
    try:
        import psycopg2
    except ImportError:
        return False
    try:
        conn = psycopg2.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=os.environ.get("PGSUPERUSER", "postgres"),
            dbname="postgres",
            connect_timeout=3,
        )
    except Exception:
        return False
    conn.autocommit = True
    with conn.cursor() as cur:
        for role, options in (
            (OWNER_ROLE, "LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS"),
            (APP_ROLE, "LOGIN NOCREATEDB NOSUPERUSER NOBYPASSRLS"),
        ):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cur.fetchone() is None:
                # Another xdist worker may have created it a moment ago.
                with contextlib.suppress(psycopg2.errors.DuplicateObject):
                    cur.execute(f"CREATE ROLE {role} {options}")
            else:
                cur.execute(f"ALTER ROLE {role} {options}")
    conn.close()
    _let_search_use_its_index(psycopg2)
    return True


LEAKPROOF_SCRIPT = Path(__file__).resolve().parent.parent / "scripts/postgres_search_leakproof.sql"


def _let_search_use_its_index(psycopg2) -> None:
    """Run the README's superuser step on template1, which test databases are copied from."""
    conn = psycopg2.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=os.environ.get("PGSUPERUSER", "postgres"),
        dbname="template1",
        connect_timeout=3,
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(LEAKPROOF_SCRIPT.read_text())
    conn.close()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    require = os.environ.get("REQUIRE_SERVICES") == "1"
    if not os.environ.get("DATABASE_URL") and _ensure_roles():
        # LEADFLOW_TEST_DB lets two checkouts run their suites side by side.
        name = os.environ.get("LEADFLOW_TEST_DB", "leadflow")
        base = f"{PG_HOST}:{PG_PORT}/{name}"
        os.environ["DATABASE_URL"] = f"postgres://{APP_ROLE}@{base}"
        os.environ["DATABASE_OWNER_URL"] = f"postgres://{OWNER_ROLE}@{base}"
    _state["postgres"] = os.environ.get("DATABASE_URL", "").startswith("postgres")
    redis_url = os.environ.get("REDIS_URL") or REDIS_DEFAULT
    if _redis_answers(redis_url):
        os.environ["REDIS_URL"] = redis_url
        _state["redis"] = True
    else:
        os.environ.pop("REDIS_URL", None)
    # Each run, and each xdist worker in it, gets its own cache namespace in Redis.
    run = os.environ.setdefault("LEADFLOW_TEST_RUN", uuid.uuid4().hex[:8])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ["CACHE_KEY_PREFIX"] = f"leadflow-test-{run}-{worker}"
    os.environ.setdefault("VAR_DIR", os.path.join(os.getcwd(), "var", "test"))
    os.makedirs(os.path.join(os.environ["VAR_DIR"], "static"), exist_ok=True)
    missing = [name for name, up in _state.items() if not up]
    if missing and require:
        raise pytest.UsageError(
            f"REQUIRE_SERVICES=1 but {', '.join(missing)} did not answer on 127.0.0.1. "
            "Start them (see README, 'Tests') and run again."
        )


def pytest_report_header(config):
    lines = []
    for name, up in _state.items():
        if up:
            lines.append(f"leadflow: {name} answered; the suite uses it")
        else:
            lines.append("!" * 72)
            lines.append(
                f"leadflow: {name.upper()} DID NOT ANSWER — FELL BACK "
                f"({'SQLite' if name == 'postgres' else 'no Redis'}); tests marked "
                f"'{name}' are SKIPPED"
            )
            lines.append("!" * 72)
    return lines


def pytest_collection_modifyitems(config, items):
    for name, up in _state.items():
        if up:
            continue
        skip = pytest.mark.skip(reason=f"{name} is not available (fallback run)")
        for item in items:
            if name in item.keywords:
                item.add_marker(skip)
