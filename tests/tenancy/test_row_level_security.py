"""Row-level security, proven on PostgreSQL as the application role."""

import pytest
from django.apps import apps
from django.db import connection

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import TenantOwnedModel
from tests.factories import PartnerFactory

pytestmark = pytest.mark.postgres

GLOBAL_TABLES = {"tenancy_tenant", "tenancy_user"}


def tenant_tables() -> list[str]:
    return sorted(
        model._meta.db_table for model in apps.get_models() if issubclass(model, TenantOwnedModel)
    )


def raw_partner_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM tenancy_partner ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def two_partners(actors):
    PartnerFactory(tenant=actors.tenant_a, name="A-dealer")
    PartnerFactory(tenant=actors.tenant_b, name="B-dealer")


def test_app_role_is_neither_superuser_nor_owner_nor_bypassrls(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE c.relname = ANY(%s) AND r.rolname = current_user",
            [tenant_tables()],
        )
        assert cursor.fetchone()[0] == 0


def test_raw_select_without_tenant_returns_no_rows(two_partners):
    assert raw_partner_names() == []


def test_raw_select_with_tenant_a_returns_only_a_rows(actors, two_partners):
    with tenant_context(actors.tenant_a):
        assert raw_partner_names() == ["A-dealer"]


def test_switching_from_a_to_b_on_one_connection_hides_a(actors, two_partners):
    with tenant_context(actors.tenant_a):
        assert raw_partner_names() == ["A-dealer"]
    with tenant_context(actors.tenant_b):
        assert raw_partner_names() == ["B-dealer"]
    assert raw_partner_names() == []


def test_unscoped_manager_still_sees_only_the_current_tenant(actors, two_partners):
    from leadflow.tenancy.models import Partner

    with tenant_context(actors.tenant_b):
        names = list(Partner.dangerously_all_tenants.values_list("name", flat=True))
    assert names == ["B-dealer"]


def test_inserting_a_row_for_another_tenant_is_refused(actors):
    from django.db import ProgrammingError, transaction

    with (
        tenant_context(actors.tenant_a),
        pytest.raises(ProgrammingError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO tenancy_partner (tenant_id, name, kind, status, contact_email, "
            "created_at) VALUES (%s, 'Smuggled', 'var', 'active', '', now())",
            [actors.tenant_b.pk],
        )


def test_policy_is_evaluated_once_and_uses_the_tenant_index(actors, two_partners):
    with tenant_context(actors.tenant_a), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT * FROM tenancy_partner")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "InitPlan" in plan
    assert "tenancy_partner_tenant" in plan  # an index leading with tenant_id


def _catalog_cursor():
    return connection.cursor()


def test_every_tenant_table_enables_and_forces_row_level_security(db):
    with _catalog_cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) "
            "AND relrowsecurity AND relforcerowsecurity",
            [tenant_tables()],
        )
        protected = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT DISTINCT tablename FROM pg_policies WHERE policyname = 'tenant_isolation'"
        )
        with_policy = {row[0] for row in cursor.fetchall()}
    assert set(tenant_tables()) - protected == set()
    assert set(tenant_tables()) - with_policy == set()


def test_every_unique_constraint_of_a_tenant_table_includes_tenant_id(db):
    with _catalog_cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname
            FROM pg_index x
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indisunique AND NOT x.indisprimary AND t.relname = ANY(%s)
              AND NOT EXISTS (
                SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = t.oid AND a.attname = 'tenant_id'
                  AND a.attnum = x.indkey[0]
              )
            """,
            [tenant_tables()],
        )
        offenders = cursor.fetchall()
    assert offenders == []


def test_every_foreign_key_between_tenant_tables_includes_tenant_id(db):
    with _catalog_cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, c.conname, r.relname
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            JOIN pg_class r ON r.oid = c.confrelid
            WHERE c.contype = 'f' AND t.relname = ANY(%s)
              AND NOT (r.relname = ANY(%s))
              AND NOT EXISTS (
                SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = t.oid AND a.attname = 'tenant_id' AND a.attnum = ANY(c.conkey)
              )
            """,
            [tenant_tables(), sorted(GLOBAL_TABLES)],
        )
        offenders = cursor.fetchall()
    assert offenders == []


def test_every_django_relation_between_tenant_models_has_a_composite_key(db):
    expected = set()
    for model in apps.get_models():
        if not issubclass(model, TenantOwnedModel):
            continue
        for field in model._meta.concrete_fields:
            related = getattr(field, "related_model", None)
            if related is not None and issubclass(related, TenantOwnedModel):
                expected.add((model._meta.db_table, field.column))
    with _catalog_cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, a.attname
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.conkey[2]
            JOIN pg_attribute a0 ON a0.attrelid = t.oid AND a0.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 2 AND a0.attname = 'tenant_id'
            """
        )
        present = set(cursor.fetchall())
    assert expected
    assert expected - present == set()


def test_every_tenant_table_holds_its_tenant_to_one_that_exists(db):
    # Either its own key to tenancy_tenant, or a composite key through a
    # required column to a tenant table that has one (inquiries_activity).
    with _catalog_cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname
            FROM pg_class t
            WHERE t.relname = ANY(%s) AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c
                JOIN pg_attribute a0 ON a0.attrelid = t.oid AND a0.attnum = c.conkey[1]
                LEFT JOIN pg_attribute a1 ON a1.attrelid = t.oid AND a1.attnum = c.conkey[2]
                WHERE c.contype = 'f' AND c.conrelid = t.oid AND a0.attname = 'tenant_id'
                  AND (c.confrelid = 'tenancy_tenant'::regclass
                       OR (array_length(c.conkey, 1) = 2 AND a1.attnotnull))
            )
            """,
            [tenant_tables()],
        )
        offenders = cursor.fetchall()
    assert offenders == []


def test_an_activity_for_a_tenant_that_does_not_exist_is_refused(actors):
    from django.db import IntegrityError, transaction

    from inquiries.models import Activity
    from tests.factories import InquiryFactory

    with tenant_context(actors.tenant_a):
        inquiry = InquiryFactory(tenant=actors.tenant_a)
    missing = actors.tenant_b.pk + 1000
    with (
        tenant_context(actors.tenant_a),
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The policy reads the tenant from the session; point it at the missing one.
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(missing)])
        cursor.execute(
            "INSERT INTO inquiries_activity (tenant_id, inquiry_id, kind, occurred_at, "
            "details, created_at) VALUES (%s, %s, 'webinar', now(), '{}', now())",
            [missing, inquiry.pk],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert Activity.dangerously_all_tenants.filter(tenant_id=missing).count() == 0


def _insert_assignment(cursor, tenant_id: int, lead_id: int) -> None:
    cursor.execute(
        "INSERT INTO leads_assignment (tenant_id, lead_id, kind, previous_rep_id, "
        "previous_partner_id, rule, team, skips, actor_label, created_at) "
        "VALUES (%s, %s, 'routed', NULL, NULL, '', '', '[]', 'tests', now())",
        [tenant_id, lead_id],
    )


@pytest.fixture
def lead_of_a(actors):
    from tests.factories import LeadFactory

    with tenant_context(actors.tenant_a):
        return LeadFactory(tenant=actors.tenant_a)


def test_a_routing_record_for_another_tenant_is_refused_by_the_policy(actors, lead_of_a):
    # leads_assignment has no key of its own to the tenant (leads 0015): the policy still
    # refuses a row naming another tenant than the session's.
    from django.db import ProgrammingError, transaction

    with (
        tenant_context(actors.tenant_a),
        pytest.raises(ProgrammingError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        _insert_assignment(cursor, actors.tenant_b.pk, lead_of_a.pk)


def test_a_routing_record_of_one_tenant_to_another_tenants_lead_is_refused(actors, lead_of_a):
    # Session and row both say tenant B, the lead is A's: the composite key to the lead
    # (tenant_id, lead_id) refuses it (B has no such lead).
    from django.db import IntegrityError, transaction

    with (
        tenant_context(actors.tenant_b),
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        _insert_assignment(cursor, actors.tenant_b.pk, lead_of_a.pk)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
