"""The Message-API wrapper, run in-process: a real flwr FedAvg and real ClientApps, no network.

``LocalGrid`` is the only stand-in: it hands each message straight to the destination
node's ClientApp instead of going through a SuperLink.
"""

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from flower_integration import ReportingStrategy  # noqa: E402
from flower_integration.tests.numpy_federation import initial_weights, loss_and_accuracy, shard  # noqa: E402
from flower_integration.tests.test_tracker import RecordingReporter  # noqa: E402


def digits_app(partition: int, partitions: int) -> ClientApp:
    app = ClientApp()
    (x, y), (x_test, y_test) = shard(partition, partitions)

    @app.train()
    def train(message: Message, context: Context) -> Message:
        weights = message.content["arrays"].to_numpy_ndarrays()
        for _ in range(10):
            _, _, probabilities = loss_and_accuracy(weights, x, y)
            probabilities[np.arange(len(y)), y] -= 1
            gradient = probabilities / len(y)
            weights = [weights[0] - 0.5 * (x.T @ gradient), weights[1] - 0.5 * gradient.sum(axis=0)]
        content = RecordDict({"arrays": ArrayRecord(weights), "metrics": MetricRecord({"num-examples": len(x)})})
        return Message(content=content, reply_to=message)

    @app.evaluate()
    def evaluate(message: Message, context: Context) -> Message:
        weights = message.content["arrays"].to_numpy_ndarrays()
        loss, accuracy, _ = loss_and_accuracy(weights, x_test, y_test)
        metrics = MetricRecord({"loss": loss, "accuracy": accuracy, "num-examples": len(x_test)})
        return Message(content=RecordDict({"metrics": metrics}), reply_to=message)

    return app


@pytest.fixture(autouse=True)
def server_identity():
    """What a ServerApp process knows about itself before it creates messages."""
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


class LocalGrid(Grid):
    def __init__(self, apps: dict):
        self.apps = apps

    def set_run(self, run):
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content=content, message_type=message_type, dst_node_id=dst_node_id)

    def get_node_ids(self):
        return list(self.apps)

    def get_nodes(self):
        raise NotImplementedError

    def push_messages(self, messages):
        raise NotImplementedError

    def pull_messages(self, message_ids):
        raise NotImplementedError

    def send_and_receive(self, messages, *, timeout=None):
        replies = []
        for message in messages:
            node = message.metadata.dst_node_id
            context = Context(run_id=1, node_id=node, node_config={}, state=RecordDict(), run_config={})
            replies.append(self.apps[node](message, context))
        return replies


def run(strategy, rounds=3):
    grid = LocalGrid({1: digits_app(0, 2), 2: digits_app(1, 2)})
    arrays = ArrayRecord(initial_weights(seed=7))
    return strategy.start(grid=grid, initial_arrays=arrays, num_rounds=rounds)


def make_fedavg():
    return FedAvg(fraction_train=1.0, fraction_evaluate=1.0, min_available_nodes=2, min_train_nodes=2,
                  min_evaluate_nodes=2)


def test_the_wrapper_reports_every_round_with_loss_and_metrics():
    reporter = RecordingReporter()
    run(ReportingStrategy(make_fedavg(), reporter), rounds=3)

    rounds = reporter.of("round_finished")
    assert [event["round"] for event in rounds] == [1, 2, 3]
    assert all(event["num_clients"] == 2 and event["num_examples"] > 0 for event in rounds)
    assert rounds[0]["loss"] > rounds[-1]["loss"] > 0
    assert 0 < rounds[-1]["metrics"]["accuracy"] <= 1
    assert reporter.of("final") == [{"rounds": 3}]
    states = reporter.of("state")
    assert states[0]["phase"] == "waiting" and states[-1]["phase"] == "evaluating"
    assert reporter.calls[-1] == ("final", {"rounds": 3})  # the final says it is finished: no state after it
    assert {state["connected_clients"] for state in states} == {2}
    assert {state["min_clients"] for state in states} == {2}


def test_the_wrapper_changes_nothing_in_the_training():
    plain = run(make_fedavg()).arrays.to_numpy_ndarrays()
    wrapped = run(ReportingStrategy(make_fedavg(), RecordingReporter())).arrays.to_numpy_ndarrays()
    assert len(plain) == len(wrapped)
    for a, b in zip(plain, wrapped):
        assert a.tobytes() == b.tobytes()


def test_a_broken_reporter_never_breaks_the_training():
    class Broken(RecordingReporter):
        def state(self, **event):
            raise RuntimeError("reporting bug")

    result = run(ReportingStrategy(make_fedavg(), Broken()), rounds=2)
    assert result.arrays is not None


def test_the_wrapper_exposes_the_wrapped_strategy():
    strategy = ReportingStrategy(make_fedavg(), RecordingReporter())
    assert strategy.fraction_train == 1.0
    with pytest.raises(AttributeError):
        strategy.no_such_attribute
