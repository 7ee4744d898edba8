"""pytest plugin: point the suite at PostgreSQL and Redis when they answer.

Loaded with ``-p tests.services`` before pytest-django reads the settings, so
it can choose the environment. On PostgreSQL it makes sure the two roles exist:
``leadflow_owner`` creates and migrates the test database, ``leadflow_app``
(no superuser, no BYPASSRLS, owns nothing) runs the tests, so row-level
security applies. When a server does not answer, or refuses the login, the
suite says which, with the server's words, and falls back (SQLite, no Redis),
skipping only the tests marked for it; with ``REQUIRE_SERVICES=1`` a missing
server stops the run instead.

The test databases are named after the run (``test_leadflow_r<run>_gw0``), so
two runs on one server never share one; xdist workers inherit the run's
environment and so its names. ``LEADFLOW_TEST_DB`` names them by hand; with
``--reuse-db`` the name is fixed per checkout, so the next run can reuse it.
pytest-django drops the databases at the end of a run; the databases of runs
that died are dropped by a later run once they are a day old. The superuser
step of ``scripts/postgres_search_leakproof.sql`` is run on each test
database after it is created (``tests/conftest.py``), never on ``template1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_HOST = os.environ.get("PGHOST_FOR_TESTS", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT_FOR_TESTS", "5432"))
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
OWNER_ROLE = "leadflow_owner"
APP_ROLE = "leadflow_app"
LEAKPROOF_SCRIPT = Path(__file__).resolve().parent.parent / "scripts/postgres_search_leakproof.sql"
# Set by the process that created the roles, inherited by its xdist workers:
# this run's test databases are the plugin's, and it may run superuser steps on them.
MANAGED = "LEADFLOW_TEST_MANAGED_POSTGRES"
# Test databases of a run that died (killed, power cut) are dropped after this.
STALE_AFTER_SECONDS = 24 * 3600
RUN_DATABASE = re.compile(r"^test_leadflow_r(?P<started>[0-9a-f]{8})[0-9a-f]{4}(_gw\d+)?$")

# Kinds of failure, as the report header names them.
NOT_ANSWERING = "did not answer"
LOGIN_REFUSED = "refused the login"
OTHER_FAILURE = "failed"
NOT_USED = "is not used"

_LOGIN_REFUSALS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # FATAL: role "x" does not exist / database "x" does not exist
    "no pg_hba.conf entry",
    "authentication failed",  # peer, ident, SCRAM
    "not permitted to log in",
    "permission denied for database",
)
_NO_ANSWER = (
    "connection refused",
    "timeout expired",
    "could not translate host name",
    "no route to host",
    "network is unreachable",
    "no such file or directory",  # a Unix socket that is not there
    "server closed the connection unexpectedly",
)


@dataclass(frozen=True)
class Problem:
    """Why a server could not be used: the kind, and the server's (or client's) own words."""

    kind: str
    message: str


def classify_postgres_error(message: str) -> Problem:
    """Tell a server that is not there from one that refused the login, or failed otherwise."""
    lowered = message.lower()
    words = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
    if any(marker in lowered for marker in _LOGIN_REFUSALS):
        return Problem(LOGIN_REFUSED, words)
    if any(marker in lowered for marker in _NO_ANSWER):
        return Problem(NOT_ANSWERING, words)
    return Problem(OTHER_FAILURE, words)


def describe(service: str, problem: Problem) -> str:
    """One line for the report header and the REQUIRE_SERVICES error."""
    if problem.kind == NOT_USED:
        return f"{service.upper()} {problem.kind.upper()}: {problem.message}"
    where = f"{PG_HOST}:{PG_PORT}" if service == "postgres" else "its URL"
    who = f" as {superuser()!r}" if service == "postgres" and problem.kind == LOGIN_REFUSED else ""
    return f"{service.upper()} {problem.kind.upper()}{who} on {where}: {problem.message}"


def superuser() -> str:
    return os.environ.get("PGSUPERUSER", "postgres")


def new_run_id(now: float | None = None) -> str:
    """12 hex digits: the start time (so a later run can tell a stale database) and 4 random."""
    started = int(time.time() if now is None else now)
    return f"{started:08x}{secrets.token_hex(2)}"


def checkout_id(root: Path | None = None) -> str:
    root = root or Path(__file__).resolve().parent.parent
    return hashlib.sha256(str(root).encode()).hexdigest()[:12]


def database_name(*, override: str, run: str, reuse: bool, checkout: str) -> str:
    """The database name Django prefixes with ``test_`` (and xdist suffixes with ``_gwN``)."""
    if override:
        return override
    if reuse:
        # --reuse-db must find the same database next time; one per checkout.
        return f"leadflow_c{checkout}"
    if not re.fullmatch(r"[0-9a-z]{1,40}", run):
        raise pytest.UsageError(f"LEADFLOW_TEST_RUN must be lower-case letters and digits: {run!r}")
    return f"leadflow_r{run}"


def is_stale_run_database(name: str, *, now: float) -> bool:
    match = RUN_DATABASE.match(name)
    return bool(match) and now - int(match["started"], 16) > STALE_AFTER_SECONDS


def postgres_connect(dbname: str = "postgres", user: str | None = None):
    """A superuser connection (autocommit); raises psycopg2's error as it is."""
    import psycopg2

    conn = psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=user or superuser(), dbname=dbname, connect_timeout=3
    )
    conn.autocommit = True
    return conn


def _ensure_roles() -> Problem | None:
    """Create the owner and runtime roles as the local superuser; the problem if that failed."""
    try:
        import psycopg2
    except ImportError as exc:
        return Problem(OTHER_FAILURE, f"psycopg2 is not installed ({exc})")
    try:
        conn = postgres_connect()
    except psycopg2.Error as exc:
        return classify_postgres_error(str(exc))
    try:
        with conn.cursor() as cur:
            for role, options in (
                (OWNER_ROLE, "LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS"),
                (APP_ROLE, "LOGIN NOCREATEDB NOSUPERUSER NOBYPASSRLS"),
            ):
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cur.fetchone() is None:
                    # Another run may have created it a moment ago.
                    with contextlib.suppress(psycopg2.errors.DuplicateObject):
                        cur.execute(f"CREATE ROLE {role} {options}")
                else:
                    cur.execute(f"ALTER ROLE {role} {options}")
            _drop_stale_run_databases(cur, now=time.time())
    except psycopg2.Error as exc:
        return Problem(OTHER_FAILURE, " ".join(str(exc).split()))
    finally:
        conn.close()
    return None


def _drop_stale_run_databases(cur, *, now: float) -> None:
    """Drop the test databases of runs that died a day ago or more (never one in use)."""
    import psycopg2
    from psycopg2 import sql

    cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_leadflow\\_r%'")
    for (name,) in cur.fetchall():
        if is_stale_run_database(name, now=now):
            # Without FORCE: a database someone is connected to stays.
            with contextlib.suppress(psycopg2.Error):
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def apply_search_leakproof(dbname: str) -> None:
    """The README's superuser step, on one test database only (never template1)."""
    conn = postgres_connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(LEAKPROOF_SCRIPT.read_text())
    finally:
        conn.close()


def manages_postgres() -> bool:
    """True when this run's PostgreSQL test databases are the plugin's (roles made by it)."""
    return os.environ.get(MANAGED) == "1"


def _redis_problem(url: str) -> Problem | None:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return Problem(NOT_ANSWERING, f"{type(exc).__name__}: {exc}")
    return None


_state: dict[str, bool] = {"postgres": False, "redis": False}
_problems: dict[str, Problem] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    require = os.environ.get("REQUIRE_SERVICES") == "1"
    # xdist workers inherit the controller's environment: the same run id, and
    # DATABASE_URL already pointing at this run's database.
    run = os.environ.setdefault("LEADFLOW_TEST_RUN", new_run_id())
    if not os.environ.get("DATABASE_URL"):
        problem = _ensure_roles()
        if problem is None:
            name = database_name(
                override=os.environ.get("LEADFLOW_TEST_DB", ""),
                run=run,
                reuse="--reuse-db" in args,
                checkout=checkout_id(),
            )
            base = f"{PG_HOST}:{PG_PORT}/{name}"
            os.environ["DATABASE_URL"] = f"postgres://{APP_ROLE}@{base}"
            os.environ["DATABASE_OWNER_URL"] = f"postgres://{OWNER_ROLE}@{base}"
            os.environ[MANAGED] = "1"
        else:
            _problems["postgres"] = problem
    _state["postgres"] = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if not _state["postgres"] and "postgres" not in _problems:
        _problems["postgres"] = Problem(NOT_USED, "DATABASE_URL names another database")
    redis_url = os.environ.get("REDIS_URL") or REDIS_DEFAULT
    problem = _redis_problem(redis_url)
    if problem is None:
        os.environ["REDIS_URL"] = redis_url
        _state["redis"] = True
    else:
        _problems["redis"] = problem
        os.environ.pop("REDIS_URL", None)
    # Each run, and each xdist worker in it, gets its own cache namespace in Redis.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ["CACHE_KEY_PREFIX"] = f"leadflow-test-{run}-{worker}"
    os.environ.setdefault("VAR_DIR", os.path.join(os.getcwd(), "var", "test"))
    os.makedirs(os.path.join(os.environ["VAR_DIR"], "static"), exist_ok=True)
    missing = [name for name, up in _state.items() if not up]
    if missing and require:
        reasons = "; ".join(describe(name, _problems[name]) for name in missing)
        raise pytest.UsageError(
            f"REQUIRE_SERVICES=1 but {reasons}. Start or fix them (see README, 'Tests') "
            "and run again."
        )


def pytest_report_header(config):
    lines = []
    for name, up in _state.items():
        if up:
            lines.append(f"leadflow: {name} answered; the suite uses it")
            continue
        problem = _problems[name]
        lines.append("!" * 72)
        lines.append(f"leadflow: {describe(name, problem)}")
        lines.append(
            f"leadflow: FELL BACK ({'SQLite' if name == 'postgres' else 'no Redis'}); "
            f"tests marked '{name}' are SKIPPED"
        )
        lines.append("!" * 72)
    if _state["postgres"]:
        name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
        lines.append(f"leadflow: test databases test_{name}[_gwN]")
    return lines


def pytest_collection_modifyitems(config, items):
    for name, up in _state.items():
        if up:
            continue
        skip = pytest.mark.skip(reason=f"{name} is not available (fallback run)")
        for item in items:
            if name in item.keywords:
                item.add_marker(skip)
