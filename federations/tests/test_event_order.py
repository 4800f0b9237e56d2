"""An event from an older run, or an older round, never moves a federation's live state backwards."""

import pytest

from federations import services
from federations.models import Federation, LiveState, Phase, RoundRecord, Status
from federations.protocol import FinalEvent, RoundEvent, StateEvent

EARLY, LATE = 1_750_000_000_000, 1_750_000_900_000  # two runs' starts (ms), a quarter of an hour apart


@pytest.fixture
def report(federation):
    raw = services.reporting_token_issue(federation=federation)
    token = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)

    def report(event) -> bool:
        applied = services.federation_apply_event(federation_id=federation.pk, token_id=token, event=event)
        federation.refresh_from_db()
        return applied

    return report


def state(round, *, run="new", started=LATE, phase="training", total=10):
    return StateEvent(run, started, phase, round, total, 3, 2, 1.0)


def round_finished(number, *, run="new", started=LATE):
    return RoundEvent(run, started, number, 5.0, 0.5, {"accuracy": 0.8}, 2, 100)


def live_state(federation):
    return federation.live.current_run, federation.live.run_started, federation.live.phase, federation.live.current_round


def test_a_replayed_older_state_leaves_the_round_where_it_is(federation, report):
    assert report(state(5)) is True
    assert report(state(1)) is False
    assert live_state(federation) == ("new", LATE, Phase.TRAINING, 5)
    assert federation.live.status == Status.ONLINE  # the server did speak


def test_an_older_run_never_becomes_current_again(federation, report):
    report(state(1, run="old", started=EARLY))
    report(state(2, run="new"))
    assert report(state(9, run="old", started=EARLY)) is False
    assert report(FinalEvent("old", EARLY, 10)) is False
    assert live_state(federation) == ("new", LATE, Phase.TRAINING, 2)


def test_a_later_run_takes_over_even_at_round_zero(federation, report):
    report(state(9, run="old", started=EARLY))
    report(FinalEvent("old", EARLY, 10))
    assert report(state(0, run="new", phase="waiting")) is True
    assert live_state(federation) == ("new", LATE, Phase.WAITING, 0)


def test_phases_of_the_current_round_follow_each_other(federation, report):
    report(state(3))
    assert report(state(3, phase="evaluating")) is True
    assert report(state(3)) is True  # the round is over, training goes on
    assert live_state(federation) == ("new", LATE, Phase.TRAINING, 3)


def test_a_finished_run_stays_finished(federation, report):
    report(state(10, phase="finished"))
    report(FinalEvent("new", LATE, 10))
    assert report(state(10)) is False
    assert report(state(9, phase="evaluating")) is False
    assert live_state(federation) == ("new", LATE, Phase.FINISHED, 10)


def test_the_final_event_never_lowers_the_round(federation, report):
    report(state(7))
    report(FinalEvent("new", LATE, 5))
    assert live_state(federation) == ("new", LATE, Phase.FINISHED, 7)


def test_a_round_of_an_older_run_is_kept_as_history_but_not_shown_live(
    federation, report, live_pushes, django_capture_on_commit_callbacks
):
    report(state(4))

    with django_capture_on_commit_callbacks(execute=True):
        assert report(round_finished(3, run="old", started=EARLY)) is True

    assert live_state(federation) == ("new", LATE, Phase.TRAINING, 4)
    assert RoundRecord.objects.filter(federation=federation, run="old", number=3).exists()
    assert federation.live.completed_rounds == 1
    assert live_pushes[-1]["rounds"] == []  # the page draws the current run only


def test_a_round_of_a_run_not_seen_yet_moves_the_state_to_it(federation, report):
    report(state(10, run="old", started=EARLY, phase="finished"))
    report(round_finished(1))
    assert live_state(federation) == ("new", LATE, Phase.TRAINING, 1)


def test_the_reporters_clock_orders_but_is_never_the_servers_time(federation, report):
    report(state(1, started=0))  # a machine whose clock says 1970
    assert federation.live.run_started == 0
    assert LiveState.objects.get(pk=federation.pk).last_update.year > 2000
