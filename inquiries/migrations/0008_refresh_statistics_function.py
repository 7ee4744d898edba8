"""Let the runtime role refresh the planner's statistics of the inquiry tables.

A first import into a new tenant of a big table is planned with statistics
that do not know the tenant: the planner takes it for one row, and every
lookup of a chunk (its people by email and phone, their stored rows, their
activities) reads the whole new tenant instead of probing the key indexes —
quadratic in the file. Only the table owner may ANALYZE; this function lets
the import ask for it (``import_writing.PlannerStatistics``). PostgreSQL only.
"""

from django.db import migrations

FUNCTION = "inquiries_refresh_statistics"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The tenant and the keys a chunk looks people up by; the row count comes with them.
    ANALYZE public.inquiries_inquiry (tenant_id, email, phone_normalized, external_id);
    ANALYZE public.inquiries_activity (tenant_id, inquiry_id);
END
$$
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0007_bulk_jobs"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
