"""The legacy path for real: a Flower server and two clients over gRPC, with and without reporting."""

import time

import numpy as np

from flower_integration import Reporter
from flower_integration.tests.harness import Federation, free_port

UNREACHABLE = f"http://127.0.0.1:{free_port()}"  # nothing listens there


def final_weights(tmp_path, name, *server_args):
    path = tmp_path / f"{name}.npz"
    Federation(tmp_path, rounds=3, server_args=["--save-weights", path, *server_args]).wait()
    with np.load(path) as saved:
        return [saved[key] for key in sorted(saved.files)]


def test_training_is_bit_identical_with_the_reporter_and_the_indexer_unreachable(tmp_path):
    plain = final_weights(tmp_path, "plain")
    reported = final_weights(tmp_path, "reported", "--indexer", UNREACHABLE, "--federation", 1,
                             "--token", "t", "--close-timeout", 0.5)
    assert [a.tobytes() for a in plain] == [b.tobytes() for b in reported]


def test_an_unreachable_indexer_costs_the_hooks_nothing_and_close_gives_up_in_time():
    reporter = Reporter(UNREACHABLE, federation_id=1, token="t", connect_timeout=1)
    started = time.perf_counter()
    for number in range(1, 1001):
        reporter.state(phase="training", round=number, total_rounds=1000, connected_clients=2, min_clients=2,
                       fraction_fit=1.0)
        reporter.round_finished(round=number, duration=0.1, loss=0.5, metrics={"accuracy": 0.9}, num_clients=2,
                                num_examples=10)
    per_call = (time.perf_counter() - started) / 2000
    closing = time.perf_counter()
    assert reporter.close(timeout=1.0) is False
    assert time.perf_counter() - closing < 5
    assert per_call < 0.001  # recording an event never waits for the network
    assert reporter.delivered == 0


def test_the_round_queue_is_bounded_and_counts_what_it_drops():
    reporter = Reporter(UNREACHABLE, federation_id=1, token="t", queue_size=5, connect_timeout=1)
    for number in range(1, 9):
        reporter.round_finished(round=number, duration=1, loss=None, metrics=None, num_clients=1, num_examples=1)
    assert reporter.dropped == 3
    reporter.close(timeout=0)
