from django.db import migrations, models


class Migration(migrations.Migration):
    """A custom field is on the public form only when someone says so.

    Adding the column with its default writes ``false`` into every existing
    row in the ALTER TABLE itself (no UPDATE, so row-level security cannot
    hide a row from it): every field made so far, by hand or by an import,
    leaves the public form until an admin or marketer turns it on.
    """

    dependencies = [("inquiries", "0011_appointment_message_to_buyer")]

    operations = [
        migrations.AddField(
            model_name="customfield",
            name="on_public_form",
            field=models.BooleanField(default=False),
        ),
    ]
