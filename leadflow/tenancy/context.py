"""The current tenant (and acting user) of this request, task or command.

A ``contextvars`` value, so each thread and each asyncio task has its own. It
is set by the middleware, the API authentication and the Celery task base, and
always reset in ``finally``. Scoped managers read it in Python; the PostgreSQL
backend copies it into ``app.tenant_id`` for row-level security.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class NoTenantSelected(RuntimeError):
    """Tenant-owned rows were asked for while no tenant was selected."""


@dataclass(frozen=True)
class Scope:
    tenant_id: int | None = None
    user_id: int | None = None


_EMPTY = Scope()
_scope: ContextVar[Scope | None] = ContextVar("leadflow_scope", default=None)


def current_scope() -> Scope:
    return _scope.get() or _EMPTY


def current_tenant_id() -> int | None:
    return current_scope().tenant_id


def require_tenant_id() -> int:
    tenant_id = current_scope().tenant_id
    if tenant_id is None:
        raise NoTenantSelected(
            "No tenant is selected. Wrap the code in tenant_context(tenant), or use the "
            "explicitly unscoped manager `dangerously_all_tenants` for a cross-tenant job."
        )
    return tenant_id


def _id(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    pk = getattr(value, "pk", None)
    if isinstance(pk, int):
        return pk
    raise TypeError(f"expected a model instance or an integer id, got {value!r}")


@contextmanager
def tenant_context(tenant: object, *, user: object = None) -> Iterator[Scope]:
    """Act inside one tenant (optionally as one user) for the duration of the block."""
    tenant_id = _id(tenant)
    if tenant_id is None:
        raise NoTenantSelected("tenant_context() needs a tenant")
    token = _scope.set(Scope(tenant_id=tenant_id, user_id=_id(user)))
    try:
        yield current_scope()
    finally:
        _scope.reset(token)


@contextmanager
def user_context(user: object) -> Iterator[Scope]:
    """Act as a user with no tenant selected: only their own memberships are visible."""
    token = _scope.set(Scope(tenant_id=None, user_id=_id(user)))
    try:
        yield current_scope()
    finally:
        _scope.reset(token)


@contextmanager
def no_tenant() -> Iterator[Scope]:
    """Drop any selected tenant for the block (cross-tenant jobs, tests)."""
    token = _scope.set(Scope())
    try:
        yield current_scope()
    finally:
        _scope.reset(token)
