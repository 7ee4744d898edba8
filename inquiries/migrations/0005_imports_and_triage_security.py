from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity

# Full-text search of the triage inbox (name, email, company): one expression
# index that the selector's tsvector expression matches word for word.
SEARCH_INDEX_SQL = """
CREATE INDEX IF NOT EXISTS inquiries_inquiry_search_idx ON inquiries_inquiry
USING gin (to_tsvector('simple'::regconfig,
    first_name || ' ' || last_name || ' ' || email || ' ' || company))
"""


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEARCH_INDEX_SQL)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS inquiries_inquiry_search_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0004_imports_and_triage"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        *[
            EnableRowLevelSecurity(model)
            for model in (
                "importjob",
                "importrowerror",
                "importmapping",
                "disqualifyreason",
                "savedview",
            )
        ],
        AddTenantForeignKey("importrowerror", "job"),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
