"""Row-level security and tenant-bound keys of nurture; every tenant's long-term program;
every inquiry already in stage nurture enrolled in it.

The data steps run tenant by tenant with ``app.tenant_id`` set for the
transaction, so they pass through the same row-level security as the
application (no policy is lifted).
"""

from django.db import migrations
from django.utils import timezone

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity

# The long-term program every tenant has (nurture/services/programs.py makes the same).
LONG_TERM_NAME = "Long-term nurture"
LONG_TERM_DESCRIPTION = "A gentle monthly email for everyone not ready yet; it never ends."
LONG_TERM_SUBJECT = "News from {{ sender_name }}"
LONG_TERM_BODY = (
    "Hello {{ first_name }},\n\n"
    "Here is what is new this month. When the time is right for {{ company }}, "
    "reply to this email and we will set up a call.\n"
)


def long_term_and_enrollments(apps, schema_editor):
    Tenant = apps.get_model("tenancy", "Tenant")
    Program = apps.get_model("nurture", "NurtureProgram")
    Step = apps.get_model("nurture", "NurtureStep")
    Enrollment = apps.get_model("nurture", "Enrollment")
    Inquiry = apps.get_model("inquiries", "Inquiry")
    postgres = schema_editor.connection.vendor == "postgresql"
    now = timezone.now()
    db = schema_editor.connection.alias
    for tenant_id in Tenant.objects.using(db).values_list("pk", flat=True):
        if postgres:
            schema_editor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        program = Program.objects.using(db).filter(tenant_id=tenant_id, is_long_term=True).first()
        if program is None:
            program = Program.objects.using(db).create(
                tenant_id=tenant_id,
                name=LONG_TERM_NAME,
                description=LONG_TERM_DESCRIPTION,
                position=10_000,
                is_long_term=True,
                created_at=now,
                updated_at=now,
            )
            Step.objects.using(db).create(
                tenant_id=tenant_id,
                program=program,
                position=0,
                kind="email",
                subject=LONG_TERM_SUBJECT,
                body=LONG_TERM_BODY,
            )
            Step.objects.using(db).create(
                tenant_id=tenant_id, program=program, position=1, kind="wait", wait_days=30
            )
        enrolled = (
            Enrollment.objects.using(db)
            .filter(tenant_id=tenant_id, state="active")
            .values("inquiry_id")
        )
        waiting = (
            Inquiry.objects.using(db)
            .filter(tenant_id=tenant_id, stage="nurture")
            .exclude(pk__in=enrolled)
        )
        Enrollment.objects.using(db).bulk_create(
            [
                Enrollment(
                    tenant_id=tenant_id,
                    inquiry_id=inquiry_id,
                    program=program,
                    state="active",
                    position=0,
                    due_at=now,
                    step_started_at=now,
                    reason="migration",
                    enrolled_by="migration",
                    enrolled_at=now,
                )
                for inquiry_id in waiting.values_list("pk", flat=True)
            ],
            batch_size=1000,
        )
    if postgres:
        schema_editor.execute("SELECT set_config('app.tenant_id', '', true)")


class Migration(migrations.Migration):
    dependencies = [("nurture", "0001_programs_enrollments_consent")]

    operations = [
        EnableRowLevelSecurity("nurtureprogram"),
        EnableRowLevelSecurity("nurturestep"),
        EnableRowLevelSecurity("enrollment"),
        EnableRowLevelSecurity("nurturesend"),
        EnableRowLevelSecurity("nurturetask"),
        EnableRowLevelSecurity("contactconsent"),
        EnableRowLevelSecurity("consentevent"),
        EnableRowLevelSecurity("nurturesettings"),
        AddTenantForeignKey("nurturestep", "program"),
        AddTenantForeignKey("enrollment", "inquiry"),
        AddTenantForeignKey("enrollment", "program"),
        AddTenantForeignKey("nurturesend", "enrollment"),
        AddTenantForeignKey("nurturesend", "step"),
        AddTenantForeignKey("nurturesend", "inquiry"),
        AddTenantForeignKey("nurturetask", "enrollment"),
        AddTenantForeignKey("nurturetask", "inquiry"),
        AddTenantForeignKey("contactconsent", "inquiry"),
        AddTenantForeignKey("consentevent", "inquiry"),
        migrations.RunPython(long_term_and_enrollments, migrations.RunPython.noop),
    ]
