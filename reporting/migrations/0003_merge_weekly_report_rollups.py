"""The Monday report's tables and the dashboards' rollups were built side by side; one graph again."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_rollups_rls"),
        ("reporting", "0002_weekly_report_rls"),
    ]

    operations = []
