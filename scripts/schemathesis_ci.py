"""Fuzz the running API against its own OpenAPI schema with schemathesis (CI step).

    .venv/bin/python scripts/schemathesis_ci.py

What it does, in a few seconds plus the fuzzing budget:

1. creates a dedicated PostgreSQL database ``leadflow_schemathesis`` (dropped
   first if a previous run left it) with the owner and runtime roles the test
   plugin uses (``tests/services.py``), and migrates it as the owner;
2. seeds the demo tenants (``seed_demo``), an admin user token (an admin may
   call every operation but ``/me/``-only partner paths, so every operation is
   reached) and a few rows through the API itself. The fuzzing revokes
   whatever tokens its ids hit (``POST /api/v1/tokens/{id}/revoke/``) except
   its own: a request cannot revoke the token it authenticated with (409
   ``current_token``), so the run keeps its credential to the end;
3. starts gunicorn on a free loopback port, as the runtime role, with a
   private ``VAR_DIR`` (file cache, filesystem broker, mail files);
4. runs ``schemathesis run`` on ``/api/v1/schema/``: every operation,
   ``--checks all``, a fixed seed, at most 25 examples per operation, at most
   :data:`BUDGET_SECONDS` in all; any 5xx or schema violation fails it;
5. checks that the run's token still works (a 401 is an accepted answer to
   every check, so a run that lost its credential would pass untested);
6. stops the server and drops the database.

The exit status is schemathesis' own (0 only when every check passed), or 1
when the run's token no longer works afterwards.
Settings: ``PGHOST_FOR_TESTS``/``PGPORT_FOR_TESTS``/``PGSUPERUSER`` as for
the tests, ``SCHEMATHESIS_SEED`` (default 20261206), ``SCHEMATHESIS_MAX_EXAMPLES``
(default 25), ``SCHEMATHESIS_BUDGET`` seconds (default 180: schemathesis stops
itself 30 s before, and is killed at it) and
``SCHEMATHESIS_REPORT_DIR`` (default ``test-output/schemathesis``: the JUnit
report and the server's log).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("PGHOST_FOR_TESTS", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT_FOR_TESTS", "5432"))
SUPERUSER = os.environ.get("PGSUPERUSER", "postgres")
OWNER_ROLE, APP_ROLE = "leadflow_owner", "leadflow_app"
DATABASE = os.environ.get("SCHEMATHESIS_DB", "leadflow_schemathesis")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261206")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")
# The whole fuzzing run, hard-stopped: the budget is 3 minutes in all.
BUDGET_SECONDS = int(os.environ.get("SCHEMATHESIS_BUDGET", "180"))
REPORT_DIR = Path(os.environ.get("SCHEMATHESIS_REPORT_DIR", ROOT / "test-output/schemathesis"))
ADMIN_EMAIL = "fuzz-admin@acme.example"


def log(message: str) -> None:
    print(f"schemathesis-ci: {message}", flush=True)


def superuser_connection(dbname: str = "postgres"):
    conn = psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=SUPERUSER, dbname=dbname, connect_timeout=5
    )
    conn.autocommit = True
    return conn


def create_database() -> None:
    """The owner and runtime roles as the test plugin makes them, and a fresh database."""
    conn = superuser_connection()
    with conn.cursor() as cur:
        for role, options in (
            (OWNER_ROLE, "LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS"),
            (APP_ROLE, "LOGIN NOCREATEDB NOSUPERUSER NOBYPASSRLS"),
        ):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f"{verb} ROLE {role} {options}")
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}")
    conn.close()
    # The README's one superuser step: lets full-text search use its index under RLS.
    conn = superuser_connection(DATABASE)
    with conn.cursor() as cur:
        cur.execute((ROOT / "scripts/postgres_search_leakproof.sql").read_text())
    conn.close()


def drop_database() -> None:
    conn = superuser_connection()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(var_dir: str) -> dict[str, str]:
    base = f"{PG_HOST}:{PG_PORT}/{DATABASE}"
    env = {
        key: value
        for key, value in os.environ.items()
        # The app reads these; the run must not inherit a developer's or the test plugin's.
        if key not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "EMAIL_URL", "VAR_DIR"}
    }
    env.update(
        DEBUG="0",
        DATABASE_URL=f"postgres://{APP_ROLE}@{base}",
        DATABASE_OWNER_URL=f"postgres://{OWNER_ROLE}@{base}",
        VAR_DIR=var_dir,
        # Fuzzing sends thousands of requests a minute from one caller; throttling is
        # tested by the suite (tests/tenancy/test_throttling.py), not here.
        API_THROTTLE_RATE="1000000/min",
        AXES_ENABLED="0",
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def admin_token(env: dict[str, str]) -> str:
    manage(env, "seed_demo")
    out = manage(env, "users", "create", ADMIN_EMAIL, "--tenant", "acme", "--role", "admin")
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("token: "))


def call(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def seed_rows(base: str, token: str) -> None:
    """A few rows of each kind, so that ids the fuzzer tries find something."""
    api = "/api/v1"
    campaign = call(base, token, "POST", f"{api}/campaigns/", {"name": "Spring", "source": "event"})
    call(
        base,
        token,
        "POST",
        f"{api}/custom-fields/",
        {"key": "fleet", "label": "Fleet", "kind": "number"},
    )
    call(base, token, "POST", f"{api}/disqualify-reasons/", {"label": "Student"})
    call(base, token, "POST", f"{api}/partners/", {"name": "Contoso", "kind": "var"})
    call(base, token, "POST", f"{api}/lead-definitions/", {})
    call(
        base, token, "POST", f"{api}/inquiries/saved-views/", {"name": "MQLs", "query": "stage=mql"}
    )
    for n in range(1, 13):
        call(
            base,
            token,
            "POST",
            f"{api}/inquiries/",
            {
                "email": f"buyer{n}@plant{n % 4}.example",
                "first_name": f"Buyer{n}",
                "company": f"Plant {n % 4}",
                "country": "DE",
                "campaign": campaign["id"],
                "custom": {"fleet": n},
            },
        )


def token_still_works(base: str, token: str) -> bool:
    """Whether the run kept its credential: a 401 counts as an expected answer to every
    check, so a run that lost it would pass while testing nothing but 401s."""
    try:
        call(base, token, "GET", "/api/v1/me/")
    except urllib.error.HTTPError as error:
        log(f"the run's own token answers {error.code} after fuzzing: the results are void")
        return False
    return True


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        # TimeoutError: a server still starting may take longer than one try's 5 s.
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise SystemExit(f"schemathesis-ci: the server did not answer {url} in {seconds:.0f} s")


def schemathesis_command(base: str, token: str) -> list[str]:
    return [
        str(VENV_BIN / "schemathesis"),
        # The narrow, commented exceptions: rules the schema cannot state.
        "--config-file",
        str(ROOT / "scripts/schemathesis.toml"),
        "run",
        f"{base}/api/v1/schema/?format=json",
        "--checks",
        "all",
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        # One worker: with two, hypothesis' lambda descriptions (ast.parse in threads) hit
        # CPython 3.11's "AST constructor recursion depth mismatch" SystemError.
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {token}",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        # Ends the run cleanly inside the budget, with its report.
        "--max-time",
        str(BUDGET_SECONDS - 30),
        "--report",
        "junit",
        "--report-dir",
        str(REPORT_DIR),
        "--no-color",
    ]


def main() -> int:
    var_dir = tempfile.mkdtemp(prefix="leadflow-schemathesis.")
    env = app_environment(var_dir)
    server: subprocess.Popen | None = None
    try:
        log(f"database {DATABASE} on {PG_HOST}:{PG_PORT}")
        create_database()
        manage(env, "migrate", "--database", "owner", "--verbosity", "0")
        token = admin_token(env)
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        server_log = (REPORT_DIR / "server.log").open("w")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "leadflow.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            # The fuzzing's thousands of 4xx log lines go to a file; a 5xx shows in the report.
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        wait_for(f"{base}/api/v1/schema/", 60)
        seed_rows(base, token)
        log(f"fuzzing {base} for at most {BUDGET_SECONDS} s (seed {SEED})")
        try:
            result = subprocess.run(
                schemathesis_command(base, token), cwd=ROOT, timeout=BUDGET_SECONDS
            )
        except subprocess.TimeoutExpired:
            log(f"schemathesis did not finish in {BUDGET_SECONDS} s: failing")
            return 1
        if not token_still_works(base, token):
            return 1
        return result.returncode
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        drop_database()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
