"""The data migration: every tenant gets its long-term program, every nurture inquiry enrolled."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from inquiries.models import Stage
from leadflow.tenancy.context import no_tenant, tenant_context
from nurture.models import Enrollment, NurtureProgram
from tests.factories import InquiryFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "nurture.migrations.0002_row_level_security_long_term_and_enrollment"
)


def run_migration() -> None:
    """The migration's data step, on the models as the migration sees them."""
    loader = MigrationLoader(connection)
    state = loader.project_state(("nurture", "0002_row_level_security_long_term_and_enrollment"))
    with no_tenant(), connection.schema_editor() as editor:
        migration.long_term_and_enrollments(state.apps, editor)


def test_the_migration_enrolls_every_inquiry_already_in_nurture(actors):
    waiting = [InquiryFactory(tenant=actors.tenant_a, stage=Stage.NURTURE) for _ in range(2)]
    InquiryFactory(tenant=actors.tenant_a, stage=Stage.MQL)
    elsewhere = InquiryFactory(tenant=actors.tenant_b, stage=Stage.NURTURE)
    run_migration()
    run_migration()  # twice changes nothing
    for tenant, people in ((actors.tenant_a, waiting), (actors.tenant_b, [elsewhere])):
        with tenant_context(tenant):
            long_term = NurtureProgram.objects.get(is_long_term=True)
            assert long_term.steps.count() == 2
            rows = Enrollment.objects.filter(state="active")
            assert sorted(rows.values_list("inquiry_id", flat=True)) == sorted(p.pk for p in people)
            assert set(rows.values_list("program_id", "reason")) == {(long_term.pk, "migration")}
