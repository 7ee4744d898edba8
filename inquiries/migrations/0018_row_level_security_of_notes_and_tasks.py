"""Row-level security and tenant-bound foreign keys of the inquiry's notes and tasks."""

from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0017_notes_and_tasks")]

    operations = [
        EnableRowLevelSecurity("inquirynote"),
        EnableRowLevelSecurity("inquirytask"),
        AddTenantForeignKey("inquirynote", "inquiry"),
        AddTenantForeignKey("inquirytask", "inquiry"),
    ]
