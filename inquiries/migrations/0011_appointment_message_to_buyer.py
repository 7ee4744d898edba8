from django.db import migrations, models


class Migration(migrations.Migration):
    """The buyer's own message, apart from the internal notes; existing rows have none."""

    dependencies = [("inquiries", "0010_activity_keys_implied_by_the_inquiry")]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="message_to_buyer",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
    ]
