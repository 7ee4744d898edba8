"""Let the runtime role ANALYZE the inquiry tables after a job wrote many rows.

``inquiries_refresh_statistics()`` (0008) analyses only the key columns an
import looks people up by. After a job, the next statement (a rescore, the
inbox, a report) may filter or join on any column, so this one analyses the
whole tables the jobs write (``inquiries/services/planner.py``). PostgreSQL only.
"""

from django.db import migrations

FUNCTION = "inquiries_analyze_written"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    ANALYZE public.inquiries_inquiry;
    ANALYZE public.inquiries_activity;
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
        ("inquiries", "0040_import_value_maps"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
