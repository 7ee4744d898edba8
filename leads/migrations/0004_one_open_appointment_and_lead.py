"""Re-booking: at most one *open* appointment and one *open* lead per inquiry.

Before, an inquiry could have one appointment and one lead ever. Now an
appointment is closed with its lead (``closed_at``), and a lead is closed when
won, lost or postponed; a closed one stays as history and the inquiry may be
booked again. The appointment's ``(tenant, id)`` key takes this app's name
(PostgreSQL renames it in place, keeping the foreign keys that use it).
"""

from django.db import migrations, models

CLOSED = ["won", "lost", "postponed"]


def _rename(old: str, new: str):
    def rename(apps, schema_editor):
        # SQLite rebuilds tables from Django's state whenever it alters one: names don't matter.
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"ALTER TABLE inquiries_appointment RENAME CONSTRAINT {old} TO {new}")

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_appointment_moved_from_inquiries"),
        ("inquiries", "0016_appointment_moved_to_leads"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="appointment", name="inquiries_appointment_tenant_pk"
                ),
                migrations.AddConstraint(
                    model_name="appointment",
                    constraint=models.UniqueConstraint(
                        fields=("tenant", "id"), name="leads_appointment_tenant_pk"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    _rename("inquiries_appointment_tenant_pk", "leads_appointment_tenant_pk"),
                    _rename("leads_appointment_tenant_pk", "inquiries_appointment_tenant_pk"),
                )
            ],
        ),
        migrations.AddField(
            model_name="appointment",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RemoveConstraint(
            model_name="appointment", name="inquiries_appointment_one_per_inquiry"
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("closed_at__isnull", True)),
                fields=("tenant", "inquiry"),
                name="leads_appointment_one_open_per_inquiry",
            ),
        ),
        migrations.RemoveConstraint(model_name="lead", name="leads_lead_inquiry_uniq"),
        migrations.AddConstraint(
            model_name="lead",
            constraint=models.UniqueConstraint(
                condition=models.Q(("stage__in", CLOSED), _negated=True),
                fields=("tenant", "inquiry"),
                name="leads_lead_one_open_per_inquiry",
            ),
        ),
    ]
