from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0001_initial"), ("tenancy", "0002_row_level_security")]

    operations = [
        *[
            EnableRowLevelSecurity(model)
            for model in (
                "campaign",
                "customfield",
                "leaddefinition",
                "definitionsignoff",
                "inquiry",
                "activity",
                "rescorejob",
                "appointment",
            )
        ],
        AddTenantForeignKey("definitionsignoff", "definition"),
        AddTenantForeignKey("inquiry", "campaign"),
        AddTenantForeignKey("inquiry", "partner"),
        AddTenantForeignKey("inquiry", "definition"),
        AddTenantForeignKey("activity", "inquiry"),
        AddTenantForeignKey("rescorejob", "definition"),
        AddTenantForeignKey("appointment", "inquiry"),
    ]
