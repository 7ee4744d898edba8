"""Row-level security of deal registrations; each lead's reported weeks from its updates."""

from django.db import migrations

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity

# Bits 0..62 only: bit 63 is the sign of a bigint.
WEEKS_KEPT = 63


def reported_weeks_from_updates(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        Lead = apps.get_model("leads", "Lead")
        WeeklyUpdate = apps.get_model("leads", "WeeklyUpdate")
        for lead in Lead.objects.exclude(last_update_week=None).iterator():
            mask = 0
            weeks = WeeklyUpdate.objects.filter(lead_id=lead.pk).values_list("week", flat=True)
            for week in weeks:
                back = (lead.last_update_week - week).days // 7
                if 0 <= back < WEEKS_KEPT:
                    mask |= 1 << back
            Lead.objects.filter(pk=lead.pk).update(reported_weeks=mask)
        return
    # Every tenant's rows at once: the owner lifts the forced policy for this one statement.
    schema_editor.execute("ALTER TABLE leads_lead NO FORCE ROW LEVEL SECURITY")
    schema_editor.execute("ALTER TABLE leads_weeklyupdate NO FORCE ROW LEVEL SECURITY")
    schema_editor.execute(
        "UPDATE leads_lead l SET reported_weeks = s.mask FROM ("
        " SELECT u.lead_id, bit_or(1::bigint << ((x.last_update_week - u.week) / 7)) AS mask"
        " FROM leads_weeklyupdate u JOIN leads_lead x ON x.id = u.lead_id"
        " WHERE x.last_update_week IS NOT NULL"
        f" AND (x.last_update_week - u.week) / 7 BETWEEN 0 AND {WEEKS_KEPT - 1}"
        " GROUP BY u.lead_id) s WHERE l.id = s.lead_id"
    )
    schema_editor.execute("ALTER TABLE leads_weeklyupdate FORCE ROW LEVEL SECURITY")
    schema_editor.execute("ALTER TABLE leads_lead FORCE ROW LEVEL SECURITY")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0011_deal_registration_compliance"),
        ("tenancy", "0007_partner_compliance"),
    ]

    operations = [
        EnableRowLevelSecurity("dealregistration"),
        AddTenantForeignKey("dealregistration", "partner"),
        AddTenantForeignKey("dealregistration", "inquiry"),
        migrations.RunPython(reported_weeks_from_updates, migrations.RunPython.noop),
    ]
