"""Drop what the scheduler's writes paid for twice (issue 20's tick).

* The send log's own key ``tenant_id → tenancy_tenant``: the composite key
  ``(tenant_id, enrollment_id) → nurture_enrollment (tenant_id, id)`` (a
  required column) already holds every send to a tenant that exists. Checked
  at commit for every send, it was one of four checks a tick paid per email
  (as ``inquiries`` 0010 did for activities).
* The send log's composite key ``(tenant_id, inquiry_id) → inquiries_inquiry``:
  ``inquiry_id`` is a copy of the enrollment's inquiry (for the frequency
  cap's index), which the enrollment's own composite key holds; no longer a
  Django relation, the column stays as it was. Its check at commit took a
  row lock on every person a tick mailed — a write to 10,000 inquiry pages.
* Three indexes a longer one answers as well, each kept up to date by every
  email a tick queues: the send log's ``(tenant_id, enrollment_id)`` (the
  start of ``nurture_send_once`` (tenant, enrollment, step)) and
  ``(tenant_id, inquiry_id)`` (the start of ``nurture_send_cap_idx``
  (tenant, inquiry, created_at)), both made by ``AddTenantForeignKey`` with
  their composite keys, which stay; and the enrollment's
  ``(tenant_id, program_id)`` (the start of ``nurture_enrollment_prog_idx``
  (tenant, program, state)), which every non-HOT update of an enrollment
  (each tick moves every enrollment it sends for) kept for nothing.

Deleting a tenant still deletes its sends: Django cascades in Python.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "nurture_nurturesend_enrollment_id_tenant_fk_idx": "nurture_nurturesend (tenant_id, enrollment_id)",
    "nurture_nurturesend_inquiry_id_tenant_fk_idx": "nurture_nurturesend (tenant_id, inquiry_id)",
    "nurture_enrollment_program_id_tenant_fk_idx": "nurture_enrollment (tenant_id, program_id)",
}


INQUIRY_KEY = "nurture_nurturesend_inquiry_id_tenant_fk"


def drop_inquiry_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE nurture_nurturesend DROP CONSTRAINT IF EXISTS {INQUIRY_KEY}"
        )


def add_inquiry_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE nurture_nurturesend ADD CONSTRAINT {INQUIRY_KEY} "
            "FOREIGN KEY (tenant_id, inquiry_id) REFERENCES inquiries_inquiry (tenant_id, id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, on in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")


class Migration(migrations.Migration):
    dependencies = [
        ("nurture", "0010_tracked_clicks_and_opens"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        migrations.AlterField(
            model_name="nurturesend",
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
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="nurturesend", name="nurture_send_cap_idx"),
                migrations.RemoveField(model_name="nurturesend", name="inquiry"),
                migrations.AddField(
                    model_name="nurturesend",
                    name="inquiry_id",
                    field=models.BigIntegerField(),
                    preserve_default=False,
                ),
                migrations.AddIndex(
                    model_name="nurturesend",
                    index=models.Index(
                        fields=["tenant", "inquiry_id", "created_at"],
                        name="nurture_send_cap_idx",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_inquiry_key, add_inquiry_key, elidable=False),
            ],
        ),
        migrations.RunPython(drop_indexes, create_indexes, elidable=False),
    ]
