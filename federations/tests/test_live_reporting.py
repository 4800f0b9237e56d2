"""Real Flower servers and clients over gRPC, reporting through the reporter to a real daphne."""

import time

import numpy as np
import pytest

from conftest import free_port, start_portal, stop, database_url
from federations import services
from federations.models import Federation, LiveState, Phase, RoundRecord, Status
from flower_integration import Reporter
from flower_integration.tests.harness import Federation as FlowerFederation


@pytest.fixture
def reporting(make_federation):
    federation = make_federation(name="Digits softmax")
    return federation, services.reporting_token_issue(federation=federation)


def reporter_args(portal, federation, token):
    return ["--indexer", portal.url, "--federation", federation.pk, "--token", token]


def test_a_federation_reports_each_round_with_its_metrics(live_portal, reporting, tmp_path):
    federation, token = reporting
    output = FlowerFederation(tmp_path, rounds=3, server_args=reporter_args(live_portal, federation, token)).wait()

    assert "F2F reporter delivered all: True" in output
    federation.refresh_from_db()
    assert (federation.live.status, federation.live.phase, federation.live.completed_rounds) == (Status.ONLINE, Phase.FINISHED, 3)
    assert (federation.live.current_round, federation.live.total_rounds) == (3, 3)
    assert (federation.live.connected_clients, federation.live.min_clients) == (2, 2)
    records = list(RoundRecord.objects.filter(federation=federation).order_by("number"))
    assert [record.number for record in records] == [1, 2, 3]
    assert all(record.num_clients == 2 and record.num_examples == 1437 for record in records)
    assert records[0].loss > records[2].loss > 0
    assert 0.5 < records[2].metrics["accuracy"] <= 1
    assert federation.live.avg_round_duration == pytest.approx(sum(r.duration for r in records) / 3)


def test_training_is_bit_identical_with_the_reporter_reaching_the_indexer(live_portal, reporting, tmp_path):
    federation, token = reporting
    weights = []
    for name, extra in [("plain", []), ("reported", reporter_args(live_portal, federation, token))]:
        path = tmp_path / f"{name}.npz"
        FlowerFederation(tmp_path, rounds=3, server_args=["--save-weights", path, *extra]).wait()
        with np.load(path) as saved:
            weights.append([saved[key].tobytes() for key in sorted(saved.files)])
    assert weights[0] == weights[1]
    assert LiveState.objects.get(pk=federation.pk).completed_rounds == 3


def test_the_reporter_catches_up_after_an_indexer_outage(transactional_db, reporting, tmp_path):
    federation, token = reporting
    port = free_port()
    reporter = Reporter(f"http://127.0.0.1:{port}", federation_id=federation.pk, token=token, connect_timeout=1,
                        max_backoff=1)
    reporter.state(phase="training", round=3, total_rounds=3, connected_clients=2, min_clients=2, fraction_fit=1.0)
    for number in (1, 2, 3):
        reporter.round_finished(round=number, duration=1.0, loss=0.5, metrics={"accuracy": 0.7}, num_clients=2,
                                num_examples=10)
    reporter.final(rounds=3)

    portal = start_portal(tmp_path, {"DATABASE_URL": database_url()}, port=port)  # the Indexer comes back
    try:
        assert reporter.close(timeout=30) is True
    finally:
        stop(portal.process)
    federation.refresh_from_db()
    assert federation.live.completed_rounds == 3 and federation.live.phase == Phase.FINISHED
    assert reporter.delivered == 5 and reporter.rejected == 0


def test_a_burst_of_hooks_goes_as_the_latest_state_then_the_round_behind_it(live_portal, reporting):
    # A round ends, the next starts and its clients are chosen within milliseconds: one message for the latest state,
    # one for the round; the Indexer ends up where four messages took it.
    from flower_integration.experiment import ServerRun
    from flower_integration.traffic import CountingRelay, Traffic

    federation, token = reporting
    relay = CountingRelay(("127.0.0.1", int(live_portal.url.rsplit(":", 1)[1])), websocket=True).start()
    reporter = Reporter(f"http://127.0.0.1:{relay.port}", federation_id=federation.pk, token=token)
    plan = {"total_rounds": 5, "connected_clients": 2, "min_clients": 2, "fraction_fit": 1.0}
    try:
        reporter.state(phase="evaluating", round=1, **plan)
        time.sleep(0.1)  # the sender is awake, and waits for what follows
        reporter.round_finished(round=1, duration=2.0, loss=0.5, metrics={"accuracy": 0.7}, num_clients=2,
                                num_examples=100)
        reporter.state(phase="training", round=2, **plan)
        reporter.state(phase="training", round=2, **{**plan, "connected_clients": 3})
        deadline = time.monotonic() + 10
        while reporter.delivered < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # nothing more goes
    finally:
        reporter.close(timeout=0)
        relay.stop()

    events = ServerRun(federation.pk, Traffic(), Traffic(), relay.ledgers, 0, 0.0).events()
    assert [name for name, _ in events] == ["state", "round"]
    live = LiveState.objects.get(pk=federation.pk)
    assert (live.phase, live.current_round, live.connected_clients, live.completed_rounds) == (Phase.TRAINING, 2, 3, 1)
