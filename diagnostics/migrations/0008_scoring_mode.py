from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0007_reviews")]

    operations = [
        migrations.AddField(
            model_name="scoringjob",
            name="mode",
            field=models.CharField(
                choices=[
                    ("score_only", "Score only (no patients or panels stored)"),
                    ("store", "Store the panels for their patients, with their predictions"),
                ],
                default="store",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="scoringjob",
            name="preview",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
