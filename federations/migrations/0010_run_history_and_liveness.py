from django.db import migrations, models
from django.db.models import Avg, Count, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce


def runs_from_stored_rounds(apps, schema_editor):
    """Runs recorded before their aggregates start from the rounds still stored of them (pruned ones are
    not known any more), and each live state's current run likewise."""
    TrainingRun = apps.get_model("federations", "TrainingRun")
    RoundRecord = apps.get_model("federations", "RoundRecord")
    LiveState = apps.get_model("federations", "LiveState")

    def of_run(run_field, aggregate):
        rounds = RoundRecord.objects.filter(federation_id=OuterRef("federation_id"), run=OuterRef(run_field))
        return Subquery(rounds.order_by().values("federation_id").annotate(value=aggregate).values("value")[:1])

    TrainingRun.objects.update(
        rounds_completed=Coalesce(of_run("name", Count("id")), 0),
        duration_total=Coalesce(of_run("name", Sum("duration")), 0.0),
        last_round_at=of_run("name", Max("finished_at")),
    )
    LiveState.objects.exclude(current_run="").update(
        run_rounds=Coalesce(of_run("current_run", Count("id")), 0),
        run_avg_duration=of_run("current_run", Avg("duration")),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('federations', '0009_open_spells_of_online_federations'),
    ]

    operations = [
        migrations.AddField(
            model_name='livestate',
            name='run_avg_duration',
            field=models.FloatField(blank=True, help_text='Seconds.', null=True),
        ),
        migrations.AddField(
            model_name='livestate',
            name='run_rounds',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='livestate',
            name='signals_alive',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='duration_total',
            field=models.FloatField(default=0.0, editable=False, help_text="Seconds, its rounds' sum."),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='last_round_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='rounds_completed',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(runs_from_stored_rounds, migrations.RunPython.noop),
    ]
