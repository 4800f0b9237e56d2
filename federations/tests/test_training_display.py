"""What pages say of a training: its progress, and its status and phase once it ended or stopped."""

from datetime import timedelta

from federations import selectors, services
from federations.models import Phase, Status, labels, progress_percent


def test_progress_counts_rounds_that_have_ended():
    assert progress_percent(0, 4, Phase.WAITING) == 0
    assert progress_percent(1, 4, Phase.TRAINING) == 0  # round 1 under way
    assert progress_percent(4, 4, Phase.TRAINING) == 75  # the last round has started, not ended
    assert progress_percent(4, 4, Phase.EVALUATING) == 75
    assert progress_percent(4, 4, Phase.FINISHED) == 100
    assert progress_percent(2, 0, Phase.TRAINING) == 0  # length unknown
    assert progress_percent(9, 4, Phase.TRAINING) == 100  # a server that ran past its announced length


def test_a_finished_training_says_finished_and_a_silent_one_stopped():
    assert labels(Status.ONLINE, Phase.TRAINING) == ("Online", "Training")
    assert labels(Status.ONLINE, Phase.FINISHED) == ("Finished", "Finished")
    assert labels(Status.OFFLINE, Phase.FINISHED) == ("Finished", "Finished")
    assert labels(Status.OFFLINE, Phase.TRAINING) == ("Offline", "Stopped")
    assert labels(Status.OFFLINE, Phase.EVALUATING) == ("Offline", "Stopped")
    assert labels(Status.OFFLINE, Phase.WAITING) == ("Offline", "Waiting for clients")
    assert labels("asleep", "dreaming") == ("asleep", "dreaming")  # a value outside the choices: shown as it is


def test_the_page_and_the_pushes_say_so(client, make_federation):
    killed = make_federation(status=Status.OFFLINE, phase=Phase.TRAINING, current_round=42, total_rounds=300,
                             connected_clients=2, min_clients=2)
    page = client.get(killed.get_absolute_url()).content.decode()
    assert '<span data-field="phase">Stopped</span>' in page
    # It says the training stopped and when the server was last heard from, and shows no clients as connected now.
    assert '<p class="small text-danger mb-1" data-field="stopped" data-testid="stopped">' in page
    assert '<span data-field="clients_label">—</span> / <span data-field="min_clients">2</span>' in page
    state = selectors.federation_snapshots([killed.pk])[0]
    assert (state["status_label"], state["phase_label"], state["stopped"], state["clients_label"]) == (
        "Offline", "Stopped", True, "—")

    running = make_federation(status=Status.ONLINE, phase=Phase.TRAINING, connected_clients=2, min_clients=2)
    page = client.get(running.get_absolute_url()).content.decode()
    assert 'data-testid="stopped" hidden>' in page
    assert '<span data-field="clients_label">2</span>' in page
    state = selectors.federation_snapshots([running.pk])[0]
    assert (state["stopped"], state["clients_label"]) == (False, "2")


def test_the_page_shows_the_current_run_and_earlier_runs_as_history(client, federation):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from federations.protocol import RoundEvent, StateEvent

    token = services.reporting_token_authenticate(
        federation_id=federation.pk, token=services.reporting_token_issue(federation=federation))
    start = 1_750_000_000_000

    def report(*events):
        services.federations_apply_reports(reports=[services.Report(federation.pk, token, e) for e in events])

    report(StateEvent("first-run", start, "training", 1, 3, 2, 2, 1.0),
           *[RoundEvent("first-run", start, n, 10.0, 1.0 / n, {}, 2, 10) for n in (1, 2, 3)])
    with CaptureQueriesContext(connection) as queries:
        page = client.get(federation.get_absolute_url()).content.decode()
    assert 'data-testid="earlier-runs"' not in page
    assert not [query for query in queries if "federations_trainingrun" in query["sql"]]  # one run: nothing to read

    report(StateEvent("second-run", start + 1, "training", 2, 300, 2, 2, 1.0),
           RoundEvent("second-run", start + 1, 1, 4.0, 0.9, {}, 2, 10))
    page = client.get(federation.get_absolute_url()).content.decode()
    assert '<dd class="col-5" data-field="run_rounds">1</dd>' in page
    assert '<dd class="col-5" data-field="run_avg_duration">4.0 s</dd>' in page
    assert '<dd class="col-5" data-field="completed_rounds">4</dd>' in page
    history = page.split('data-testid="earlier-runs"')[1].split("</section>")[0]
    assert '<td class="font-monospace">first-run</td>' in history
    assert '<td class="text-end">3</td><td class="text-end">10.0 s</td>' in history
    assert "second-run" not in history
    state = selectors.federation_snapshots([federation.pk])[0]
    assert (state["run_rounds"], state["run_avg_duration"], state["completed_rounds"]) == (1, 4.0, 4)


def test_a_finished_training_goes_offline_after_the_floor_not_ten_rounds(settings):
    from django.utils import timezone

    settings.F2F_OFFLINE_AFTER = 60
    now = timezone.now()
    assert services.offline_deadline(last_update=now, avg_round_duration=100) == now + timedelta(seconds=1000)
    assert services.offline_deadline(last_update=now, avg_round_duration=100, finished=True) == now + timedelta(seconds=60)
    # A server that says it is alive between its events is judged by the floor alone.
    assert services.offline_deadline(last_update=now, avg_round_duration=100,
                                     signals_alive=True) == now + timedelta(seconds=60)
    assert services.alive_every() == 20
