"""System checks: refuse to run with a database role that row-level security does not bind.

PostgreSQL skips row-level security for a superuser and for a role with
``BYPASSRLS``, and a table's owner may switch it off on its own table. A
``DATABASE_URL`` naming such a role would leave tenants protected by the
Python layer alone, with nothing to show for it; the check makes it an error.

The check is tagged ``database``: Django runs it when a command checks the
databases (``migrate`` on the database it migrates, ``check --database
default``), and ``require_safe_database_role()`` runs it when gunicorn, the
Celery worker and beat start. It looks only at the runtime alias ``default``:
``migrate --database owner`` runs as the owner on purpose and is not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core import checks
from django.core.management.base import SystemCheckError
from django.db import connections

RUNTIME_ALIAS = "default"
ERROR_ID = "tenancy.E001"

_ROLE_FACTS = """
SELECT current_user, r.rolsuper, r.rolbypassrls, current_schema(),
       ARRAY(
           SELECT c.relname::text FROM pg_class c
           WHERE c.relnamespace = current_schema()::regnamespace
             AND c.relkind IN ('r', 'p')
             AND pg_has_role(current_user, c.relowner, 'USAGE')
           ORDER BY c.relname
       )
FROM pg_roles r
WHERE r.rolname = current_user
"""


def unsafe_role_reasons(
    *, superuser: bool, bypassrls: bool, schema: str, owned_tables: Sequence[str]
) -> list[str]:
    """Why row-level security would not bind this role; empty when it does."""
    if superuser:
        # A superuser may act as every role, so ownership says nothing more.
        return ["is a superuser"] + (["has BYPASSRLS"] if bypassrls else [])
    reasons = ["has BYPASSRLS"] if bypassrls else []
    if owned_tables:
        examples = ", ".join(owned_tables[:3]) + (", …" if len(owned_tables) > 3 else "")
        reasons.append(
            f"owns {len(owned_tables)} table(s) of schema {schema!r} ({examples}), "
            "directly or through a role it belongs to"
        )
    return reasons


def unsafe_role_error(role: str, reasons: Iterable[str]) -> checks.Error:
    return checks.Error(
        f"The runtime database role {role!r} (DATABASE_URL, alias 'default') "
        f"{' and '.join(reasons)}, so PostgreSQL row-level security does not keep "
        "tenants apart for it.",
        hint=(
            "Set DATABASE_URL to a role that is not a superuser, owns no table and has "
            "no BYPASSRLS (e.g. leadflow_app), and run migrations as the table owner "
            "through DATABASE_OWNER_URL (`manage.py migrate --database owner`). Tables "
            "already created by the runtime role: `REASSIGN OWNED BY <runtime role> TO "
            "<owner role>` as a superuser. See README, 'PostgreSQL roles'."
        ),
        id=ERROR_ID,
    )


def check_runtime_role_is_bound_by_row_level_security(
    app_configs=None, databases: Iterable[str] | None = None, **kwargs
) -> list[checks.CheckMessage]:
    if not databases or RUNTIME_ALIAS not in databases or RUNTIME_ALIAS not in connections:
        return []
    connection = connections[RUNTIME_ALIAS]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(_ROLE_FACTS)
        role, superuser, bypassrls, schema, owned = cursor.fetchone()
    reasons = unsafe_role_reasons(
        superuser=superuser, bypassrls=bypassrls, schema=schema, owned_tables=owned
    )
    return [unsafe_role_error(role, reasons)] if reasons else []


def register_runtime_role_check() -> None:
    checks.register(check_runtime_role_is_bound_by_row_level_security, checks.Tags.database)


def require_safe_database_role() -> None:
    """Run the system checks on the runtime database; raise SystemCheckError on an error.

    For the long-running processes that Django does not check by itself:
    gunicorn (``leadflow/wsgi.py``) and the Celery worker and beat
    (``leadflow/celery.py``).
    """
    try:
        found = checks.run_checks(databases=[RUNTIME_ALIAS])
    finally:
        # A process that forks after this (gunicorn --preload, Celery's pool)
        # must not hand the same server connection to its children.
        connections.close_all()
    errors = [
        message
        for message in found
        if message.is_serious(checks.ERROR) and not message.is_silenced()
    ]
    if errors:
        raise SystemCheckError(
            "System check identified some issues:\n\n" + "\n".join(str(e) for e in errors)
        )
