"""Row-level security of the weekly report's tables, their tenant-bound keys, and immutability.

A snapshot is never rewritten: a trigger refuses every UPDATE of a report or a
line (PostgreSQL; on SQLite only the services' discipline holds). Deleting
stays possible so a tenant can be removed.
"""

from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity

IMMUTABLE = """
CREATE OR REPLACE FUNCTION reporting_weekly_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'a weekly report snapshot is immutable (' || TG_TABLE_NAME || ')',
        ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reporting_weeklyreport_immutable BEFORE UPDATE ON reporting_weeklyreport
    FOR EACH ROW EXECUTE FUNCTION reporting_weekly_immutable();
CREATE TRIGGER reporting_weeklyreportline_immutable BEFORE UPDATE ON reporting_weeklyreportline
    FOR EACH ROW EXECUTE FUNCTION reporting_weekly_immutable();
"""
MUTABLE = """
DROP TRIGGER IF EXISTS reporting_weeklyreportline_immutable ON reporting_weeklyreportline;
DROP TRIGGER IF EXISTS reporting_weeklyreport_immutable ON reporting_weeklyreport;
DROP FUNCTION IF EXISTS reporting_weekly_immutable();
"""


def immutable(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(IMMUTABLE)


def mutable(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(MUTABLE)


class Migration(migrations.Migration):
    dependencies = [("reporting", "0001_weekly_report")]

    operations = [
        EnableRowLevelSecurity("reportsettings"),
        EnableRowLevelSecurity("weeklyreport"),
        EnableRowLevelSecurity("weeklyreportline"),
        AddTenantForeignKey("weeklyreportline", "report"),
        AddTenantForeignKey("weeklyreportline", "partner"),
        migrations.RunPython(immutable, mutable),
    ]
