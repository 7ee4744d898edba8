"""Rights of the runtime role on the tables the owner role created."""

from __future__ import annotations

from django.db import connections


def runtime_role_for(owner_alias: str) -> str | None:
    """The runtime role to grant to, when ``owner_alias`` is the owner connection."""
    if owner_alias != "owner" or "default" not in connections:
        return None
    owner = connections[owner_alias]
    runtime = connections["default"]
    if owner.vendor != "postgresql" or runtime.vendor != "postgresql":
        return None
    role = runtime.settings_dict.get("USER")
    if not role or role == owner.settings_dict.get("USER"):
        return None
    return role


def grant_runtime_role(sender, using: str = "default", **kwargs) -> None:
    """Give the runtime role data rights (never TRUNCATE, ownership or BYPASSRLS)."""
    role = runtime_role_for(using)
    if role is None or sender.label != "tenancy":
        return
    with connections[using].cursor() as cursor:
        quoted = connections[using].ops.quote_name(role)
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
        cursor.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}"
        )
        cursor.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {quoted}"
        )
