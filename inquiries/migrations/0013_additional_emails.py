"""A person's additional emails, kept by a merge: a tenant table with row-level security."""

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

from leadflow.tenancy.migration_ops import AddTenantForeignKey, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0012_customfield_on_public_form"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="InquiryEmail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.EmailField(max_length=254)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "inquiry",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="additional_emails",
                        to="inquiries.inquiry",
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
                "ordering": ["email", "id"],
                "abstract": False,
                "base_manager_name": "dangerously_all_tenants",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "id"), name="inquiries_inquiryemail_tenant_pk"
                    ),
                    models.UniqueConstraint(
                        fields=("tenant", "email"), name="inquiries_inqemail_uniq"
                    ),
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("dangerously_all_tenants", django.db.models.manager.Manager()),
            ],
        ),
        EnableRowLevelSecurity("inquiryemail"),
        # Its index (tenant_id, inquiry_id) serves "the addresses of these inquiries".
        AddTenantForeignKey("inquiryemail", "inquiry"),
    ]
