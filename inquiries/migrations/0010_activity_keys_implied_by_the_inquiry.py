"""Drop an activity's constraint and index that the inquiry key already gives.

* The foreign key ``tenant_id → tenancy_tenant``: the composite key
  ``(tenant_id, inquiry_id) → inquiries_inquiry (tenant_id, id)`` already
  holds every activity to an inquiry of the same tenant, and so to a tenant
  that exists. Checked at commit for every activity, it cost as much as the
  composite check (0.4 s per 76,000 activities an import adds).
* The index ``(tenant_id, inquiry_id)`` that ``AddTenantForeignKey`` made with
  the composite key: ``inq_activity_timeline_idx`` (0003) begins with the same
  two columns and answers the same lookups, the key's own checks included.

Deleting a tenant still deletes its activities: Django cascades in Python.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "inquiries_activity_inquiry_id_tenant_fk_idx"


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON inquiries_activity (tenant_id, inquiry_id)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0009_drop_indexes_covered_by_longer_ones"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        migrations.AlterField(
            model_name="activity",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tenancy.tenant",
            ),
        ),
        migrations.RunPython(drop_index, create_index, elidable=False),
    ]
