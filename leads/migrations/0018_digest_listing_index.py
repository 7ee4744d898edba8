"""The Monday digest's listing index: each rep's open leads in id order, with the columns the
digest's rules read, so an owner's first 25 leads are an index-only read that stops early."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0017_touch_written_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("stage__in", ["accepted", "sql"])),
                fields=["tenant", "rep", "id"],
                include=(
                    "partner",
                    "inquiry",
                    "assigned_at",
                    "accepted_at",
                    "last_update_week",
                    "reported_weeks",
                ),
                name="leads_lead_digest_listing_idx",
            ),
        ),
    ]
