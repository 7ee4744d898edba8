from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial"), ("inquiries", "0002_row_level_security")]

    operations = [
        EnableRowLevelSecurity("lead"),
        AddTenantForeignKey("lead", "inquiry"),
        AddTenantForeignKey("lead", "appointment"),
        AddTenantForeignKey("lead", "partner"),
    ]
