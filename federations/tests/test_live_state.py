"""A federation's training state lives in its own narrow row, which training traffic writes alone."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from federations import services
from federations.models import Federation, LiveState
from federations.protocol import RoundEvent, StateEvent

START = 1_750_000_000_000


def test_every_federation_has_its_live_state_from_the_start(make_federation):
    created = make_federation(total_rounds=30, min_clients=3)
    saved = Federation.objects.create(name="Saved directly", slug="saved-directly", client_file=created.client_file,
                                      category="tabular", application="Finance", description="-",
                                      model_name="-", data_expected="-", flower_version="1.42.0",
                                      flower_api="legacy", compute_needs="-", license="MIT",
                                      owner_contact="a@example.org", server_address="fl.example.org:8080")
    assert LiveState.objects.get(pk=created.pk).total_rounds == 30
    assert LiveState.objects.get(pk=created.pk).min_clients == 3
    assert LiveState.objects.get(pk=saved.pk).status == "offline"


def test_training_traffic_never_writes_a_federations_card_row(federation):
    raw = services.reporting_token_issue(federation=federation)
    token = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)
    reports = [services.Report(federation.pk, token, StateEvent("r", START, "training", 1, 5, 2, 2, 1.0)),
               services.Report(federation.pk, token, RoundEvent("r", START, 1, 4.0, 0.5, {}, 2, 100))]

    with CaptureQueriesContext(connection) as queries:
        assert services.federations_apply_reports(reports=reports) == [services.Outcome.APPLIED] * 2
        services.federations_mark_silent_offline()

    writes = [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert any('"federations_livestate"' in sql or "federations_livestate" in sql for sql in writes)
    assert not [sql for sql in writes if "federations_federation" in sql.split(" WHERE ")[0].split(" FROM ")[0]]
    assert LiveState.objects.get(pk=federation.pk).completed_rounds == 1


def test_a_card_save_leaves_the_live_state_alone(federation):
    LiveState.objects.filter(pk=federation.pk).update(status="online", completed_rounds=7)
    federation.description = "Edited."
    federation.save()
    assert LiveState.objects.filter(pk=federation.pk, status="online", completed_rounds=7).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_each_federations_state_to_its_row():
    with Migrations("0005_federation_live_version", "0006_live_state") as migrations:
        federation = migrations.old_federation(
            "old", status="online", phase="training", current_round=4, total_rounds=9, completed_rounds=3,
            current_run="r7", run_started=START, live_version=12)
        live = migrations.forward().get_model("federations", "LiveState").objects.get(pk=federation.pk)
        assert (live.status, live.phase, live.current_round, live.total_rounds, live.completed_rounds) == (
            "online", "training", 4, 9, 3)
        assert (live.current_run, live.run_started, live.live_version) == ("r7", START, 12)


def test_a_batch_stores_exactly_the_values_it_computed(make_federation, settings):
    """The writer hands the database its rows as JSON (PostgreSQL) or parameters (SQLite): times keep their
    microseconds and zone, floats their digits, metrics their keys, a run name its full length."""
    settings.F2F_OFFLINE_AFTER = 30
    first, second = make_federation(name="First"), make_federation(name="Second")
    reports = []
    for federation, run in ((first, "r" * 32), (second, "Run_2-b")):
        token = services.reporting_token_authenticate(
            federation_id=federation.pk, token=services.reporting_token_issue(federation=federation))
        reports += [services.Report(federation.pk, token, RoundEvent(run, START, 1, 12.345678901, 0.1 + 0.2,
                                                                     {"acc.top-1": 0.987654321, "f1_macro": 1e-9},
                                                                     2, 100)),
                    services.Report(federation.pk, token, RoundEvent(run, START, 2, 7.5, 0.25, {}, 3, 50))]

    assert services.federations_apply_reports(reports=reports) == [services.Outcome.APPLIED] * 4

    for federation, run in ((first, "r" * 32), (second, "Run_2-b")):
        live = LiveState.objects.get(pk=federation.pk)
        assert (live.current_run, live.current_round, live.completed_rounds) == (run, 2, 2)
        assert live.avg_round_duration == (12.345678901 + 7.5) / 2
        assert live.last_update.tzinfo is not None
        assert live.offline_after == services.offline_deadline(last_update=live.last_update,
                                                               avg_round_duration=live.avg_round_duration)
        records = list(federation.rounds.order_by("number").values_list("run", "duration", "loss", "metrics",
                                                                          "num_clients", "num_examples"))
        assert records == [(run, 12.345678901, 0.1 + 0.2, {"acc.top-1": 0.987654321, "f1_macro": 1e-9}, 2, 100),
                           (run, 7.5, 0.25, {}, 3, 50)]
        assert federation.runs.get().rounds_stored == 2


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_runs_their_aggregates_from_the_rounds_still_stored():
    with Migrations("0009_open_spells_of_online_federations", "0010_run_history_and_liveness") as migrations:
        old = migrations.old
        federation = migrations.old_federation("old-runs")
        old.get_model("federations", "LiveState").objects.create(federation=federation, current_run="b",
                                                                  completed_rounds=3)
        for run, started in (("a", START), ("b", START + 1)):
            old.get_model("federations", "TrainingRun").objects.create(federation=federation, name=run,
                                                                        started=started)
        rounds = old.get_model("federations", "RoundRecord")
        for run, number, duration in (("a", 1, 2.0), ("a", 2, 4.0), ("b", 1, 9.0)):
            rounds.objects.create(federation=federation, run=run, number=number, duration=duration)
        new = migrations.forward()
        runs = {run.name: (run.rounds_completed, run.duration_total, run.last_round_at is not None)
                for run in new.get_model("federations", "TrainingRun").objects.filter(federation_id=federation.pk)}
        assert runs == {"a": (2, 6.0, True), "b": (1, 9.0, True)}
        live = new.get_model("federations", "LiveState").objects.get(pk=federation.pk)
        assert (live.run_rounds, live.run_avg_duration, live.signals_alive) == (1, 9.0, False)


class Migrations:
    """The database migrated back to ``before`` (``old``: the models as they were), then ``forward()`` to
    ``after`` (returns the models as they are there); back to the latest migrations whatever happens."""

    def __init__(self, before: str, after: str):
        self.before, self.after = [("federations", before)], [("federations", after)]

    def __enter__(self):
        executor = MigrationExecutor(connection)
        executor.migrate(self.before)
        self.old = executor.loader.project_state(self.before).apps
        return self

    def forward(self):
        executor = MigrationExecutor(connection)
        executor.migrate(self.after)
        return executor.loader.project_state(self.after).apps

    def __exit__(self, *exc):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    def old_federation(self, slug: str, **fields):
        client_file = self.old.get_model("federations", "ClientFile").objects.create(
            content=slug.encode(), sha256=slug.ljust(64, "0")[:64], size=len(slug))
        return self.old.get_model("federations", "Federation").objects.create(
            name="Old", slug=slug, client_file=client_file, category="tabular", application="Finance",
            description="-", model_name="-", data_expected="-", flower_version="1.42.0", flower_api="legacy",
            compute_needs="-", license="MIT", owner_contact="a@example.org", server_address="fl.example.org:8080",
            **fields)
