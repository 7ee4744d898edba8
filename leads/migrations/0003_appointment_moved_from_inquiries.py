"""``Appointment`` moves from ``inquiries`` to ``leads``: state only, the table stays.

The table keeps its name (``inquiries_appointment``), its row-level security
policy and its composite tenant keys; only Django's idea of which app owns it
changes. The content type follows, so permissions and admin links keep working.
"""

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def _content_type_to(app_label: str):
    def move(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        others = {"leads": "inquiries", "inquiries": "leads"}
        content_type.objects.using(schema_editor.connection.alias).filter(
            app_label=others[app_label], model="appointment"
        ).update(app_label=app_label)

    return move


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_row_level_security"),
        ("inquiries", "0015_campaign_archived_at"),
        ("tenancy", "0002_row_level_security"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Appointment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("starts_at", models.DateTimeField()),
                        ("duration_minutes", models.PositiveIntegerField(default=30)),
                        ("location", models.CharField(blank=True, max_length=500)),
                        ("notes", models.TextField(blank=True)),
                        ("message_to_buyer", models.TextField(blank=True)),
                        ("uid", models.CharField(max_length=100)),
                        ("sequence", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("confirmation_sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "booked_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "rep",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                db_index=False,
                                editable=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenancy.tenant",
                            ),
                        ),
                        (
                            "inquiry",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="inquiries.inquiry",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inquiries_appointment",
                        "ordering": ["-starts_at", "-id"],
                        "abstract": False,
                        "base_manager_name": "dangerously_all_tenants",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("tenant", "id"), name="inquiries_appointment_tenant_pk"
                            ),
                            models.UniqueConstraint(
                                fields=("tenant", "inquiry"),
                                name="inquiries_appointment_one_per_inquiry",
                            ),
                        ],
                    },
                    managers=[
                        ("objects", django.db.models.manager.Manager()),
                        ("dangerously_all_tenants", django.db.models.manager.Manager()),
                    ],
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="appointment",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="leads.appointment",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(_content_type_to("leads"), _content_type_to("inquiries")),
    ]
