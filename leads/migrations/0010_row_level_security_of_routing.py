"""Row-level security and the tenant-bound foreign keys of teams, rules, assignments, targets."""

from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_routing_teams_rules_targets"),
        ("tenancy", "0006_member_availability_partner_tier"),
    ]

    operations = [
        EnableRowLevelSecurity("team"),
        EnableRowLevelSecurity("teammember"),
        EnableRowLevelSecurity("routingrule"),
        EnableRowLevelSecurity("assignment"),
        EnableRowLevelSecurity("target"),
        AddTenantForeignKey("leadsettings", "default_team"),
        AddTenantForeignKey("lead", "team"),
        AddTenantForeignKey("teammember", "team"),
        AddTenantForeignKey("teammember", "membership"),
        AddTenantForeignKey("teammember", "partner"),
        AddTenantForeignKey("routingrule", "team"),
        AddTenantForeignKey("assignment", "lead"),
        AddTenantForeignKey("assignment", "partner"),
        AddTenantForeignKey("assignment", "previous_partner"),
        AddTenantForeignKey("target", "partner"),
        AddTenantForeignKey("target", "team"),
    ]
