"""Under row-level security the inbox search still uses its full-text index (PostgreSQL)."""

import pytest
from django.db import connection, connections

from inquiries.models import Inquiry
from inquiries.selectors.inbox import inbox_base, search
from leadflow.tenancy.context import tenant_context
from tests.conftest import transactional_databases
from tests.factories import InquiryFactory

pytestmark = pytest.mark.postgres

SEARCH_FUNCTIONS = (
    "pg_catalog.textcat(text, text)",
    "pg_catalog.ts_match_vq(tsvector, tsquery)",
    "pg_catalog.to_tsvector(regconfig, text)",
)


def _plan(tenant, text: str) -> str:
    with tenant_context(tenant), connection.cursor() as cursor:
        # Unordered, so that the plan shows which indexes the condition can use at all.
        matching = search(inbox_base(), text).order_by().values("id")
        sql, params = matching.query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_functions_are_leakproof_in_the_test_database(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.oid = ANY(%s::regprocedure[]) AND p.proleakproof",
            [list(SEARCH_FUNCTIONS)],
        )
        leakproof = {row[0] for row in cursor.fetchall()}
    expected = {name.removeprefix("pg_catalog.").replace(", ", ",") for name in SEARCH_FUNCTIONS}
    assert leakproof == expected, (
        "run scripts/postgres_search_leakproof.sql as a superuser on the test database "
        "(tests/conftest.py does it after creating it when the plugin manages PostgreSQL)"
    )


# Committed and analysed, so that the planner weighs the indexes on real statistics.
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_a_word_search_as_the_app_role_reads_the_full_text_index(actors):
    with tenant_context(actors.tenant_a):
        Inquiry.objects.bulk_create(
            Inquiry(tenant=actors.tenant_a, first_name="Pat", email=f"pat{n}@example.test")
            for n in range(3000)
        )
    InquiryFactory(tenant=actors.tenant_a, first_name="Dana", company="Freight Co")
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE inquiries_inquiry")
    plan = _plan(actors.tenant_a, "freight")
    assert "inquiries_inquiry_search_idx" in plan
