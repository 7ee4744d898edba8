"""Migration operations for tenant tables: row-level security and composite keys.

Both are PostgreSQL features. On SQLite they do nothing and the Python layer
(scoped managers) is the only guard; README says so.
"""

from __future__ import annotations

from django.db import migrations

# Evaluated once per statement (an InitPlan), so the planner can use the
# tenant_id index; an unset or empty setting yields NULL, which matches no row.
CURRENT_TENANT = "(SELECT NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
CURRENT_USER = "(SELECT NULLIF(current_setting('app.user_id', true), '')::bigint)"


def _is_postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """ENABLE + FORCE row-level security on a tenant table, with the tenant policy.

    ``user_column`` adds a read-only policy letting the acting user see their
    own rows in every tenant (the tenant switcher lists a user's memberships).
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, user_column: str | None = None):
        self.model_name = model_name
        self.user_column = user_column

    def state_forwards(self, app_label, state):
        pass

    def _table(self, app_label, state) -> str:
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _is_postgres(schema_editor):
            return
        table = schema_editor.quote_name(self._table(app_label, to_state))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
        if self.user_column:
            column = schema_editor.quote_name(self.user_column)
            schema_editor.execute(
                f"CREATE POLICY own_rows ON {table} FOR SELECT USING ({column} = {CURRENT_USER})"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _is_postgres(schema_editor):
            return
        table = schema_editor.quote_name(self._table(app_label, from_state))
        if self.user_column:
            schema_editor.execute(f"DROP POLICY IF EXISTS own_rows ON {table}")
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"

    def deconstruct(self):
        kwargs = {"model_name": self.model_name}
        if self.user_column:
            kwargs["user_column"] = self.user_column
        return (self.__class__.__qualname__, [], kwargs)


def _index_name(constraint_name: str) -> str:
    return f"{constraint_name[:59]}_idx"


class AddTenantForeignKey(migrations.operations.base.Operation):
    """The composite foreign key ``(tenant_id, <column>) → target (tenant_id, id)``."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, field_name: str):
        self.model_name = model_name
        self.field_name = field_name

    def state_forwards(self, app_label, state):
        pass

    def _parts(self, app_label, state):
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        table = model._meta.db_table
        target = field.related_model._meta.db_table
        name = f"{table}_{field.column}_tenant_fk"[:63]
        return table, field.column, target, name

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _is_postgres(schema_editor):
            return
        table, column, target, name = self._parts(app_label, to_state)
        q = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} FOREIGN KEY (tenant_id, {q(column)}) "
            f"REFERENCES {q(target)} (tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
        )
        schema_editor.execute(
            f"CREATE INDEX {q(_index_name(name))} ON {q(table)} (tenant_id, {q(column)})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _is_postgres(schema_editor):
            return
        table, _column, _target, name = self._parts(app_label, from_state)
        q = schema_editor.quote_name
        schema_editor.execute(f"DROP INDEX IF EXISTS {q(_index_name(name))}")
        schema_editor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(name)}")

    def describe(self):
        return f"Composite tenant foreign key on {self.model_name}.{self.field_name}"

    @property
    def migration_name_fragment(self):
        return f"tenant_fk_{self.model_name.lower()}_{self.field_name}"

    def deconstruct(self):
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "field_name": self.field_name},
        )
