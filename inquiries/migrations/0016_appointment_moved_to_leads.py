"""``Appointment`` now belongs to ``leads`` (its table stays): forget it here, state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0015_campaign_archived_at"),
        ("leads", "0003_appointment_moved_from_inquiries"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Appointment")],
            database_operations=[],
        ),
    ]
