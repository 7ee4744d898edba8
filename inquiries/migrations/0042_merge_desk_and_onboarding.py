"""The qualifier's desk (0017–0020) and the onboarding import (0040–0041) were built side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0020_custom_field_required"),
        ("inquiries", "0041_analyze_written_function"),
    ]

    operations = []
