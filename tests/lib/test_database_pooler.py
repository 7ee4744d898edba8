"""DATABASE_POOLER: one setting for running behind PgBouncer, carried into DATABASES."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_DATABASES = (
    "import json, django; from django.conf import settings; "
    "print(json.dumps({alias: db.get('DISABLE_SERVER_SIDE_CURSORS') "
    "for alias, db in settings.DATABASES.items()}))"
)


def load_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """Load leadflow.settings in a fresh interpreter with only these variables set."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": "settings-test",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_DATABASES],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cursors_disabled(tmp_path: Path, **variables: str) -> dict:
    result = load_settings(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


POSTGRES = {
    "DATABASE_URL": "postgres://leadflow_app@db.invalid:5432/leadflow",
    "DATABASE_OWNER_URL": "postgres://leadflow_owner@db.invalid:5432/leadflow",
}


def test_transaction_pooling_turns_server_side_cursors_off_on_every_alias(tmp_path):
    disabled = cursors_disabled(tmp_path, DATABASE_POOLER="pgbouncer-transaction", **POSTGRES)
    assert disabled == {"default": True, "owner": True}


@pytest.mark.parametrize("pooler", ["", "none", "pgbouncer-session"])
def test_without_transaction_pooling_server_side_cursors_stay_on(tmp_path, pooler):
    disabled = cursors_disabled(tmp_path, DATABASE_POOLER=pooler, **POSTGRES)
    assert disabled == {"default": False, "owner": False}


def test_an_unknown_pooler_stops_the_process_naming_the_variable(tmp_path):
    result = load_settings(tmp_path, DATABASE_POOLER="pgbouncer", **POSTGRES)
    assert result.returncode != 0
    assert "ConfigurationError: DATABASE_POOLER must be one of" in result.stderr


def test_a_pooler_without_postgresql_stops_the_process(tmp_path):
    result = load_settings(tmp_path, DATABASE_POOLER="pgbouncer-transaction")
    assert result.returncode != 0
    assert "DATABASE_POOLER=pgbouncer-transaction needs a postgres:// DATABASE_URL" in (
        result.stderr
    )
