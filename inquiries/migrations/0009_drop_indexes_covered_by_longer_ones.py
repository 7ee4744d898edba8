"""Drop two inquiry indexes that a longer one answers as well.

``(tenant, stage, -score)`` is the start of ``inquiries_inquiry_stage_idx``
``(tenant, stage, -score, -id)`` and ``(tenant, -created_at)`` the start of
``inquiries_inquiry_newest_idx`` ``(tenant, -created_at, -id)`` (both from
0006): every query the short ones served, the long ones serve, and every
insert and non-HOT update of an inquiry (capture, import, rescoring) kept
both up to date for nothing.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0008_refresh_statistics_function"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="inquiry",
            name="inquiries_inquiry_queue_idx",
        ),
        migrations.RemoveIndex(
            model_name="inquiry",
            name="inquiries_inquiry_recent_idx",
        ),
    ]
