"""Keyset pages of the triage inbox: every sort ends with the id, and so does its index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0005_imports_and_triage_security"),
    ]

    operations = [
        # "Newest first": (created_at, id) — the cursor's row comparison is one index bound.
        migrations.AddIndex(
            model_name="inquiry",
            index=models.Index(
                fields=["tenant", "-created_at", "-id"], name="inquiries_inquiry_newest_idx"
            ),
        ),
        # A stage filter sorted by score: without the id, ties of a score would be sorted
        # again on every page.
        migrations.AddIndex(
            model_name="inquiry",
            index=models.Index(
                fields=["tenant", "stage", "-score", "-id"], name="inquiries_inquiry_stage_idx"
            ),
        ),
    ]
