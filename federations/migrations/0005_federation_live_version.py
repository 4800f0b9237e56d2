from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("federations", "0004_bounded_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="federation",
            name="live_version",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        # The ingest writes every federation it hears from, and each write updates every index of the
        # table: the status index is covered by the heartbeat's (status, offline_after), and round
        # lookups by federation by the unique (federation, run, number).
        migrations.AlterField(
            model_name="federation",
            name="status",
            field=models.CharField(
                choices=[("online", "Online"), ("offline", "Offline")], default="offline", max_length=8
            ),
        ),
        migrations.AlterField(
            model_name="roundrecord",
            name="federation",
            field=models.ForeignKey(
                db_index=False,
                on_delete=models.deletion.CASCADE,
                related_name="rounds",
                to="federations.federation",
            ),
        ),
    ]
