# The history of stage moves written by leadflow/lib/stages.py.

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from leadflow.tenancy.migration_ops import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0004_member_status_and_invitations"),
    ]

    operations = [
        migrations.CreateModel(
            name="StageChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("machine", models.CharField(max_length=30)),
                ("object_id", models.BigIntegerField()),
                ("from_stage", models.CharField(max_length=30)),
                ("to_stage", models.CharField(max_length=30)),
                ("reason", models.CharField(blank=True, max_length=200)),
                ("actor_label", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
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
            ],
            options={
                "ordering": ["created_at", "id"],
                "abstract": False,
                "base_manager_name": "dangerously_all_tenants",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "id"), name="tenancy_stagechange_tenant_pk"
                    ),
                ],
                "indexes": [
                    models.Index(
                        fields=["tenant", "machine", "object_id", "created_at"],
                        name="tenancy_stagechange_obj_idx",
                    ),
                    models.Index(
                        fields=["tenant", "machine", "to_stage", "created_at"],
                        name="tenancy_stagechange_to_idx",
                    ),
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("dangerously_all_tenants", django.db.models.manager.Manager()),
            ],
        ),
        EnableRowLevelSecurity("stagechange"),
    ]
