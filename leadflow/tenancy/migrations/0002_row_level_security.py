from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("partner"),
        EnableRowLevelSecurity("membership", user_column="user_id"),
        EnableRowLevelSecurity("apikey"),
        EnableRowLevelSecurity("usertoken"),
        EnableRowLevelSecurity("auditevent"),
        EnableRowLevelSecurity("idempotencyrecord"),
        AddTenantForeignKey("membership", "partner"),
        AddTenantForeignKey("apikey", "partner"),
    ]
