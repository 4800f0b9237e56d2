"""A tiny, deterministic Flower federation for the tests: softmax regression on sklearn's digits.

    python numpy_federation.py server --port P --rounds 3 [--indexer URL --federation ID --token T]
    python numpy_federation.py client --server-address 127.0.0.1:P --partition 0 --partitions 2

Real Flower server and clients over gRPC, no TensorFlow, a fraction of a second per round.
The server can save the final global weights (``--save-weights``) to compare runs bit for bit.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

import flwr as fl  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CLASSES, FEATURES = 10, 64


def initial_weights(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.01, (FEATURES, CLASSES)), np.zeros(CLASSES)]


def shard(partition: int, partitions: int):
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    x, y = x[partition::partitions], y[partition::partitions]
    cut = int(len(x) * 0.8)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def loss_and_accuracy(weights, x, y):
    logits = x @ weights[0] + weights[1]
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.log(probabilities[np.arange(len(y)), y] + 1e-12).mean()
    return float(loss), float((probabilities.argmax(axis=1) == y).mean()), probabilities


class DigitsClient(fl.client.NumPyClient):
    def __init__(self, partition, partitions, delay):
        (self.x, self.y), (self.x_test, self.y_test) = shard(partition, partitions)
        self.delay = delay

    def fit(self, parameters, config):
        weights = [np.array(p, dtype=np.float64) for p in parameters]
        for _ in range(int(config.get("steps", 20))):
            _, _, probabilities = loss_and_accuracy(weights, self.x, self.y)
            probabilities[np.arange(len(self.y)), self.y] -= 1
            gradient = probabilities / len(self.y)
            weights = [weights[0] - 0.5 * (self.x.T @ gradient), weights[1] - 0.5 * gradient.sum(axis=0)]
        time.sleep(self.delay)
        return weights, len(self.x), {}

    def evaluate(self, parameters, config):
        loss, accuracy, _ = loss_and_accuracy(parameters, self.x_test, self.y_test)
        return loss, len(self.x_test), {"accuracy": accuracy}


class SavingFedAvg(fl.server.strategy.FedAvg):
    """FedAvg that keeps the latest global weights, to write them out at the end."""

    final = None

    def aggregate_fit(self, server_round, results, failures):
        aggregated = super().aggregate_fit(server_round, results, failures)
        self.final = aggregated[0]
        return aggregated


def weighted_accuracy(metrics):
    total = sum(n for n, _ in metrics)
    return {"accuracy": sum(n * m["accuracy"] for n, m in metrics) / total} if total else {}


def serve(args) -> None:
    strategy = SavingFedAvg(
        fraction_fit=1.0, fraction_evaluate=1.0, min_fit_clients=args.min_clients,
        min_evaluate_clients=args.min_clients, min_available_clients=args.min_clients,
        initial_parameters=fl.common.ndarrays_to_parameters(initial_weights(args.seed)),
        on_fit_config_fn=lambda server_round: {"steps": 20},
        evaluate_metrics_aggregation_fn=weighted_accuracy,
    )
    reporter = None
    if args.indexer:
        from flower_integration import Reporter, instrument

        reporter = Reporter(args.indexer, federation_id=args.federation, token=args.token)
        instrument(strategy, reporter, num_rounds=args.rounds)
    fl.server.start_server(server_address=f"127.0.0.1:{args.port}", strategy=strategy,
                           config=fl.server.ServerConfig(num_rounds=args.rounds))
    if args.save_weights:
        np.savez(args.save_weights, *fl.common.parameters_to_ndarrays(strategy.final))
    if reporter is not None:
        print("F2F reporter delivered all:", reporter.close(timeout=args.close_timeout), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--rounds", type=int, default=3)
    server.add_argument("--min-clients", type=int, default=2)
    server.add_argument("--seed", type=int, default=7)
    server.add_argument("--indexer")
    server.add_argument("--federation", type=int)
    server.add_argument("--token")
    server.add_argument("--save-weights")
    server.add_argument("--close-timeout", type=float, default=10.0)
    client = sub.add_parser("client")
    client.add_argument("--server-address", required=True)
    client.add_argument("--partition", type=int, default=0)
    client.add_argument("--partitions", type=int, default=2)
    client.add_argument("--delay", type=float, default=0.0, help="seconds each fit waits, to slow rounds")
    args = parser.parse_args(argv)
    if args.role == "server":
        serve(args)
    else:
        fl.client.start_client(server_address=args.server_address,
                               client=DigitsClient(args.partition, args.partitions, args.delay).to_client())


if __name__ == "__main__":
    main()
