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
    killed = make_federation(status=Status.OFFLINE, phase=Phase.TRAINING, current_round=42, total_rounds=300)
    page = client.get(killed.get_absolute_url()).content.decode()
    assert '<span data-field="phase">Stopped</span>' in page
    state = selectors.federation_snapshots([killed.pk])[0]
    assert (state["status_label"], state["phase_label"]) == ("Offline", "Stopped")


def test_a_finished_training_goes_offline_after_the_floor_not_ten_rounds(settings):
    from django.utils import timezone

    settings.F2F_OFFLINE_AFTER = 60
    now = timezone.now()
    assert services.offline_deadline(last_update=now, avg_round_duration=100) == now + timedelta(seconds=1000)
    assert services.offline_deadline(last_update=now, avg_round_duration=100, finished=True) == now + timedelta(seconds=60)
