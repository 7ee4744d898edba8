"""The tenant scope travels with the statement: one round trip, and it never outlives it.

These run outside a test transaction (``transactional_db``): autocommit is what
they are about.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Partner
from tests.conftest import transactional_databases
from tests.factories import PartnerFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


@pytest.fixture
def two_partners(actors):
    PartnerFactory(tenant=actors.tenant_a, name="A-dealer")
    PartnerFactory(tenant=actors.tenant_b, name="B-dealer")


def current_tenant_setting() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        return cursor.fetchone()[0]


def test_an_autocommit_read_is_one_message_with_no_begin_or_commit(actors, two_partners):
    with tenant_context(actors.tenant_a), CaptureQueriesContext(connection) as queries:
        names = list(Partner.objects.values_list("name", flat=True))
    assert names == ["A-dealer"]
    assert len(queries.captured_queries) == 1
    assert "BEGIN" not in [query["sql"] for query in queries.captured_queries]


def test_the_scope_of_an_autocommit_statement_dies_with_it(actors, two_partners):
    with tenant_context(actors.tenant_a):
        assert list(Partner.objects.values_list("name", flat=True)) == ["A-dealer"]
    assert current_tenant_setting() in ("", None)
    assert list(Partner.dangerously_all_tenants.values_list("name", flat=True)) == []


def test_a_server_side_cursor_in_autocommit_still_sees_only_its_tenant(actors, two_partners):
    with tenant_context(actors.tenant_b):
        names = [partner.name for partner in Partner.objects.iterator(chunk_size=1)]
    assert names == ["B-dealer"]


def test_a_transaction_sets_the_scope_once_with_its_first_statement(actors, two_partners):
    with (
        tenant_context(actors.tenant_a),
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
    ):
        first = Partner.objects.count()
        second = Partner.objects.count()
    statements = [query["sql"] for query in queries.captured_queries]
    assert (first, second) == (1, 1)
    assert sum("set_config" in sql for sql in statements) == 1
    assert len(statements) == 4  # BEGIN, two reads, COMMIT


def test_a_write_in_autocommit_is_checked_against_its_tenant(actors):
    with tenant_context(actors.tenant_a):
        Partner.objects.create(tenant=actors.tenant_a, name="Made in A")
    with tenant_context(actors.tenant_b):
        assert not Partner.objects.filter(name="Made in A").exists()
    with tenant_context(actors.tenant_a):
        assert Partner.objects.filter(name="Made in A").exists()
