"""The test plugin (tests/services.py): what it reports, and how it names test databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from django.db import connections

from tests import services

ROOT = Path(__file__).resolve().parent.parent

REFUSED = (
    'connection to server at "127.0.0.1", port 5432 failed: Connection refused\n'
    "\tIs the server running on that host and accepting TCP/IP connections?\n"
)
NO_ROLE = (
    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "ci" does not exist\n'
)
BAD_PASSWORD = (
    'connection to server at "db", port 5432 failed: '
    'FATAL:  password authentication failed for user "postgres"\n'
)
NO_PASSWORD = 'connection to server at "db", port 5432 failed: fe_sendauth: no password supplied\n'
NO_HBA = (
    'connection to server at "db", port 5432 failed: FATAL:  no pg_hba.conf entry for '
    'host "10.0.0.2", user "postgres", database "postgres", no encryption\n'
)
TOO_MANY = (
    'connection to server at "db", port 5432 failed: FATAL:  sorry, too many clients already\n'
)


@pytest.mark.parametrize("message", [REFUSED, "timeout expired\n"])
def test_a_server_that_is_not_there_did_not_answer(message):
    assert services.classify_postgres_error(message).kind == services.NOT_ANSWERING


@pytest.mark.parametrize("message", [NO_ROLE, BAD_PASSWORD, NO_PASSWORD, NO_HBA])
def test_a_refused_login_is_not_reported_as_no_answer(message):
    assert services.classify_postgres_error(message).kind == services.LOGIN_REFUSED


def test_another_failure_is_reported_as_such():
    assert services.classify_postgres_error(TOO_MANY).kind == services.OTHER_FAILURE


def test_the_report_keeps_the_servers_words_on_one_line():
    line = services.describe("postgres", services.classify_postgres_error(NO_ROLE))
    assert "POSTGRES REFUSED THE LOGIN" in line
    assert 'FATAL:  role "ci" does not exist' in line
    assert "\n" not in line


@pytest.mark.postgres
def test_a_login_as_a_role_that_does_not_exist_is_a_refused_login():
    with pytest.raises(psycopg2.OperationalError) as refused:
        services.postgres_connect(user="leadflow_no_such_role")
    problem = services.classify_postgres_error(str(refused.value))
    assert problem == services.Problem(services.LOGIN_REFUSED, problem.message)
    assert 'role "leadflow_no_such_role" does not exist' in problem.message


def test_a_port_nobody_listens_on_did_not_answer():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(host="127.0.0.1", port=port, user="postgres", connect_timeout=3)
    assert services.classify_postgres_error(str(refused.value)).kind == services.NOT_ANSWERING


@pytest.mark.postgres
def test_require_services_names_a_refused_login_and_the_role():
    """End to end: the plugin, run as pytest runs it, says the login was refused, and as whom."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "LEADFLOW_TEST_", "DATABASE_"))
    }
    environment.update(PGSUPERUSER="leadflow_no_such_role", REQUIRE_SERVICES="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/lib/test_env.py"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "POSTGRES REFUSED THE LOGIN as 'leadflow_no_such_role'" in result.stderr
    assert 'role "leadflow_no_such_role" does not exist' in result.stderr
    assert "did not answer" not in result.stderr.lower()


def names(**overrides) -> str:
    arguments = {"override": "", "run": "66f0a1b2c3d4", "reuse": False, "checkout": "abc"}
    return services.database_name(**{**arguments, **overrides})


def test_two_runs_get_different_databases():
    assert names(run=services.new_run_id()) != names(run=services.new_run_id())


def test_leadflow_test_db_still_names_the_database():
    assert names(override="lf_ops") == "lf_ops"
    assert names(override="lf_ops", reuse=True) == "lf_ops"


def test_reuse_db_keeps_one_name_per_checkout():
    first = names(reuse=True, run=services.new_run_id())
    assert first == names(reuse=True, run=services.new_run_id())
    assert first != names(reuse=True, checkout="another-checkout")


def test_a_run_id_that_is_no_identifier_is_refused():
    with pytest.raises(pytest.UsageError, match="LEADFLOW_TEST_RUN"):
        names(run='x"; DROP DATABASE postgres; --')


def test_only_a_day_old_run_database_is_stale():
    now = time.time()
    old = f"test_leadflow_r{services.new_run_id(now - 2 * 86400)}_gw1"
    fresh = f"test_leadflow_r{services.new_run_id(now - 3600)}_gw1"
    assert services.is_stale_run_database(old, now=now)
    assert not services.is_stale_run_database(fresh, now=now)
    assert not services.is_stale_run_database("test_lf_ops_gw0", now=now)
    assert not services.is_stale_run_database("leadflow", now=now)


@pytest.mark.postgres
@pytest.mark.django_db
def test_this_runs_database_is_named_after_the_run():
    if not services.manages_postgres() or os.environ.get("LEADFLOW_TEST_DB"):
        pytest.skip("named by hand (LEADFLOW_TEST_DB) or not the plugin's PostgreSQL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    suffix = f"_{worker}" if worker else ""
    expected = f"test_leadflow_r{os.environ['LEADFLOW_TEST_RUN']}{suffix}"
    assert connections["default"].settings_dict["NAME"] == expected


@pytest.mark.postgres
def test_a_dead_runs_database_is_dropped_and_a_live_ones_kept():
    now = time.time()
    stale = f"test_leadflow_r{services.new_run_id(now - 2 * 86400)}"
    recent = f"test_leadflow_r{services.new_run_id(now)}"
    conn = services.postgres_connect()
    try:
        with conn.cursor() as cur:
            for name in (stale, recent):
                cur.execute(f"CREATE DATABASE {name} TEMPLATE template0")
            try:
                services._drop_stale_run_databases(cur, now=now)
                cur.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)", [[stale, recent]]
                )
                assert [row[0] for row in cur.fetchall()] == [recent]
            finally:
                for name in (stale, recent):
                    cur.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        conn.close()


@pytest.mark.postgres
def test_the_search_step_marks_the_functions_in_that_database_only():
    name = f"test_leadflow_leakproof_{services.new_run_id()}"
    conn = services.postgres_connect()
    leakproof = "SELECT count(*) FROM pg_proc WHERE proleakproof AND proname = 'ts_match_vq'"
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        try:
            services.apply_search_leakproof(name)
            marked = services.postgres_connect(name)
            with marked.cursor() as cur:
                cur.execute(leakproof)
                assert cur.fetchone() == (1,)
            marked.close()
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        conn.close()
