"""Row-level security and the tenant-bound foreign keys of the lead settings, touches and updates.

Existing leads count as assigned when they were created (the field's default
would otherwise stamp the migration's time on every one of them).
"""

from django.db import migrations
from django.db.models import F

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


def assigned_when_created(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        apps.get_model("leads", "Lead").objects.update(assigned_at=F("created_at"))
        return
    # Every tenant's rows at once: the owner lifts the forced policy for this one statement.
    schema_editor.execute("ALTER TABLE leads_lead NO FORCE ROW LEVEL SECURITY")
    schema_editor.execute("UPDATE leads_lead SET assigned_at = created_at")
    schema_editor.execute("ALTER TABLE leads_lead FORCE ROW LEVEL SECURITY")


class Migration(migrations.Migration):
    dependencies = [("leads", "0005_lifecycle_touches_updates")]

    operations = [
        EnableRowLevelSecurity("leadsettings"),
        EnableRowLevelSecurity("touch"),
        EnableRowLevelSecurity("weeklyupdate"),
        AddTenantForeignKey("touch", "inquiry"),
        AddTenantForeignKey("touch", "lead"),
        AddTenantForeignKey("touch", "partner"),
        AddTenantForeignKey("weeklyupdate", "lead"),
        AddTenantForeignKey("weeklyupdate", "touch"),
        AddTenantForeignKey("weeklyupdate", "partner"),
        migrations.RunPython(assigned_when_created, migrations.RunPython.noop),
    ]
