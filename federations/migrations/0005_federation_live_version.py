from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_stored_rounds(apps, schema_editor):
    TrainingRun = apps.get_model("federations", "TrainingRun")
    RoundRecord = apps.get_model("federations", "RoundRecord")
    stored = (RoundRecord.objects.filter(federation_id=OuterRef("federation_id"), run=OuterRef("name"))
              .values("federation_id").annotate(n=Count("id")).values("n"))
    TrainingRun.objects.update(rounds_stored=Coalesce(Subquery(stored), 0))


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
        migrations.AddField(
            model_name="trainingrun",
            name="rounds_stored",
            field=models.PositiveIntegerField(default=0, editable=False, help_text="Its rounds kept now."),
        ),
        migrations.RunPython(count_stored_rounds, migrations.RunPython.noop),
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
