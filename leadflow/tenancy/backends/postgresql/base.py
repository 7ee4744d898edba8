"""PostgreSQL backend that carries the tenant scope into every transaction.

Before the first statement of each transaction (and again whenever the scope
changes inside one) it runs ``set_config('app.tenant_id', ..., true)`` — the
``SET LOCAL`` form, so the value dies with the transaction and can never leak
to the next user of a pooled server connection. With no tenant selected nothing
is set, and the row-level security policies match no row.

The scope travels in the same round trip as the statement: the ``set_config``
call is put in front of it in one query string (psycopg2 sends a string with
its parameters interpolated as one simple-protocol message). In a transaction
that is the transaction's own setting, as before. In autocommit mode the server
runs a multi-statement message as one implicit transaction, so the local
setting lasts exactly for the statement and dies with it — where before the
statement was wrapped in BEGIN, the ``set_config``, the statement and COMMIT:
four round trips for one read (a partner's API request made ten of them). A
named (server-side) cursor and ``executemany`` take one statement only; for
them the scope is set by its own statement, in a transaction, as before.
"""

from __future__ import annotations

from django.db import transaction
from django.db.backends.postgresql import base

from leadflow.tenancy.context import current_scope

_SET_SCOPE = "SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true)"
_UNKNOWN = object()


def _as_setting(value: int | None) -> str:
    return "" if value is None else str(value)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scope_applied: object = _UNKNOWN
        self.execute_wrappers.append(self._apply_scope)

    def _forget_scope(self) -> None:
        self._scope_applied = _UNKNOWN

    def _prefix(self, scope) -> str:
        """The ``set_config`` statement for ``scope`` as literal text (ids are integers)."""
        tenant, user = _as_setting(scope.tenant_id), _as_setting(scope.user_id)
        if not (tenant.isdigit() or tenant == "") or not (user.isdigit() or user == ""):
            raise ValueError("a tenant scope is made of integer ids")
        return (
            f"SELECT set_config('app.tenant_id', '{tenant}', true), "
            f"set_config('app.user_id', '{user}', true); "
        )

    def _set_scope(self, scope) -> None:
        # A plain cursor of its own: the statement being wrapped may run on a
        # named (server-side) cursor that accepts one statement only.
        with self.connection.cursor() as cursor:
            cursor.execute(_SET_SCOPE, [_as_setting(scope.tenant_id), _as_setting(scope.user_id)])
        self._scope_applied = scope

    def _apply_scope(self, execute, sql, params, many, context):
        scope = current_scope()
        alone = many or getattr(context["cursor"].cursor, "name", None) is not None
        if self.in_atomic_block:
            if self._scope_applied == scope:
                return execute(sql, params, many, context)
            if alone:
                self._set_scope(scope)
                return execute(sql, params, many, context)
            result = execute(self._prefix(scope) + sql, params, many, context)
            self._scope_applied = scope
            return result
        if scope.tenant_id is None and scope.user_id is None:
            # Nothing is ever set at session level, so an autocommit statement
            # with no scope runs with the settings empty: RLS shows no rows.
            return execute(sql, params, many, context)
        if not alone:
            # One message, one implicit transaction: the setting dies with it.
            return execute(self._prefix(scope) + sql, params, many, context)
        with transaction.atomic(using=self.alias):
            self._set_scope(scope)
            return execute(sql, params, many, context)

    # A transaction's end, or a rolled-back savepoint, undoes set_config(...,
    # true); the next statement must apply the scope again.
    def _commit(self):
        self._forget_scope()
        return super()._commit()

    def _rollback(self):
        self._forget_scope()
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        # Forget only afterwards: the ROLLBACK TO itself runs in an aborted
        # transaction, where setting the scope would fail.
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self._forget_scope()

    def _close(self):
        self._forget_scope()
        return super()._close()

    def _set_autocommit(self, autocommit):
        self._forget_scope()
        return super()._set_autocommit(autocommit)
