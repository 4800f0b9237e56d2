import time

from flower_integration.reporter import Reporter, clean_metrics
from flower_integration.tracker import RoundTracker


class RecordingReporter:
    """Stands in for ``Reporter``: records the calls instead of sending them."""

    def __init__(self):
        self.calls = []

    def state(self, **event):
        self.calls.append(("state", event))

    def round_finished(self, **event):
        self.calls.append(("round_finished", event))

    def final(self, **event):
        self.calls.append(("final", event))

    def of(self, kind):
        return [event for name, event in self.calls if name == kind]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make(rounds=2):
    reporter, clock = RecordingReporter(), Clock()
    return reporter, clock, RoundTracker(reporter, num_rounds=rounds, min_clients=2, fraction_fit=0.5, clock=clock)


def play_round(tracker, clock, number, *, seconds, evaluate=True):
    tracker.fit_starting(number)
    clock.now += 30  # waiting for clients is not part of the round
    tracker.fit_configured(number, connected=3)
    clock.now += seconds
    tracker.fit_aggregated(number, num_clients=2, num_examples=80, metrics={"loss": 0.9})
    tracker.evaluate_configured(number, selected=2 if evaluate else 0)
    if evaluate:
        tracker.evaluate_aggregated(number, loss=0.5, metrics={"accuracy": 0.8}, num_clients=2)


def test_a_round_is_timed_from_the_chosen_clients_to_its_evaluation():
    reporter, clock, tracker = make()
    play_round(tracker, clock, 1, seconds=12.5)
    [event] = reporter.of("round_finished")
    assert event == {"round": 1, "duration": 12.5, "loss": 0.5, "metrics": {"train_loss": 0.9, "accuracy": 0.8},
                     "num_clients": 2, "num_examples": 80}


def test_a_round_without_evaluation_ends_with_its_fit():
    reporter, clock, tracker = make()
    play_round(tracker, clock, 1, seconds=4, evaluate=False)
    [event] = reporter.of("round_finished")
    assert event["duration"] == 4 and event["loss"] is None and event["metrics"] == {"train_loss": 0.9}


def test_the_last_round_finishes_the_training():
    reporter, clock, tracker = make(rounds=2)
    play_round(tracker, clock, 1, seconds=1)
    assert reporter.of("final") == []
    play_round(tracker, clock, 2, seconds=1)
    assert reporter.of("final") == [{"rounds": 2}]
    # Nothing after the final, and no state that a round or the final implies (what the Indexer does with them:
    # federations/tests/test_reporting_services.py).
    assert reporter.calls[-1] == ("final", {"rounds": 2})
    assert [state["phase"] for state in reporter.of("state")] == ["training", "training", "evaluating"] * 2


def test_states_carry_round_progress_and_clients():
    reporter, clock, tracker = make(rounds=5)
    tracker.waiting()
    play_round(tracker, clock, 1, seconds=1)
    first, *_, last = reporter.of("state")
    assert first == {"phase": "waiting", "round": 0, "total_rounds": 5, "connected_clients": 0, "min_clients": 2,
                     "fraction_fit": 0.5}
    assert last["round"] == 1 and last["connected_clients"] == 3
    assert "evaluating" in [state["phase"] for state in reporter.of("state")]


def test_a_round_is_reported_once_even_if_hooks_repeat():
    reporter, clock, tracker = make()
    play_round(tracker, clock, 1, seconds=1)
    tracker.evaluate_aggregated(1, loss=0.1, metrics={}, num_clients=2)
    assert len(reporter.of("round_finished")) == 1


def test_losses_and_metrics_go_with_six_significant_digits_and_durations_to_the_millisecond():
    reporter = Reporter("http://127.0.0.1:9", federation_id=1, token="t", connect_timeout=0.5)
    try:
        reporter.round_finished(round=1, duration=0.6004604810000274, loss=2.302585092994046,
                                metrics={"accuracy": 0.10000000149011612, "count": 123456789, "big": 123456789.25},
                                num_clients=2, num_examples=10)
        [event] = list(reporter._rounds)
    finally:
        reporter.close(timeout=0)
    assert (event["duration"], event["loss"]) == (0.6, 2.30259)
    assert event["metrics"] == {"accuracy": 0.1, "count": 123456789.0, "big": 123457000.0}


def test_only_reportable_metrics_are_kept():
    metrics = {"accuracy": 0.9, "f1": 1, "flag": True, "text": "x", "nan": float("nan"), "bad name!": 1.0,
               **{f"m{i}": i for i in range(30)}}
    cleaned = clean_metrics(metrics)
    assert cleaned["accuracy"] == 0.9 and cleaned["f1"] == 1.0
    assert not {"flag", "text", "nan", "bad name!"} & set(cleaned)
    assert len(cleaned) == 16


def test_a_diverged_loss_or_odd_duration_still_reports_the_round():
    reporter = Reporter("http://127.0.0.1:9", federation_id=1, token="t", connect_timeout=0.5)
    try:
        reporter.round_finished(round=1, duration=float("inf"), loss=1e13, metrics={}, num_clients=1, num_examples=1)
        reporter.round_finished(round=2, duration=-3.0, loss=float("nan"), metrics={}, num_clients=1, num_examples=1)
        first, second = list(reporter._rounds)
    finally:
        reporter.close(timeout=0)
    assert (first["loss"], first["duration"]) == (None, 0.0)
    assert (second["loss"], second["duration"]) == (None, 0.0)


def test_every_event_the_reporter_builds_passes_the_shared_protocol():
    from flower_integration import protocol

    before = int(time.time() * 1000)
    reporter = Reporter("http://127.0.0.1:9", federation_id=1, token="t", connect_timeout=0.5)
    try:
        reporter.state(phase="training", round=2, total_rounds=3, connected_clients=2, min_clients=2, fraction_fit=1.0)
        reporter.round_finished(round=2, duration=1.5, loss=0.3, metrics={"accuracy": 0.9}, num_clients=2,
                                num_examples=10)
        reporter.final(rounds=3)
        state, (round_event,), final = reporter._state, list(reporter._rounds), reporter._final
    finally:
        reporter.close(timeout=0)
    events = [protocol.parse_state(state), protocol.parse_round(round_event), protocol.parse_final(final)]
    assert {(event.run, event.started) for event in events} == {(reporter.run, reporter.started)}
    assert before <= reporter.started <= int(time.time() * 1000)
    assert events[2].order > events[1].order and events[0].order == events[1].order
