"""The digits federation's server: FedAvg over legacy Flower, optionally reporting to an F2F Indexer.

    python -m flower_integration.examples.digits.server --address 127.0.0.1:8080 --rounds 10 \\
        [--indexer http://127.0.0.1:8321 --federation 42 --token f2f_...]

Without ``--indexer`` it runs plain Flower, so the same script measures the reporter's cost.
The server holds no model: FedAvg takes the initial weights from one client, and every client
builds identical ones from the same seed. The cifar_mobilenet example reuses ``run``.
"""

import argparse
import json
import logging
import os
import random
import sys
import time

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

import flwr as fl  # noqa: E402

from flower_integration import Reporter, instrument  # noqa: E402

ROUND_TIMES_MARKER = "F2F_ROUND_TIMES"


def parse_args(argv, *, description: str, default_rounds: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--address", required=True, help="where to listen, host:port (e.g. 127.0.0.1:8080)")
    parser.add_argument("--rounds", type=int, default=default_rounds)
    parser.add_argument("--min-clients", type=int, default=2, help="clients to wait for, and to train each round")
    parser.add_argument("--epochs", type=int, default=1, help="local epochs each client trains per round")
    parser.add_argument("--seed", type=int, default=0, help="seeds Flower's client sampling")
    parser.add_argument("--indexer", help="the F2F Indexer's base URL; without it nothing is reported")
    parser.add_argument("--federation", type=int, help="the federation's id on the Indexer")
    parser.add_argument("--token", help="the federation's reporting token")
    parser.add_argument("--print-round-times", action="store_true",
                        help=f"print '{ROUND_TIMES_MARKER} <json list of seconds>' at the end (for benchmarks)")
    args = parser.parse_args(argv)
    reporting = [args.indexer, args.federation, args.token]
    if any(value is not None for value in reporting) and not all(value is not None for value in reporting):
        parser.error("--indexer, --federation and --token go together")
    return args


def weighted_means(results) -> dict:
    """Each numeric metric averaged over the clients, weighted by their number of examples.

    For evaluation this is the federation's accuracy; for fit it is empty with the example
    clients, and giving it keeps Flower from warning about a missing aggregation every round.
    """
    sums: dict[str, float] = {}
    weights: dict[str, int] = {}
    for num_examples, metrics in results:
        for name, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sums[name] = sums.get(name, 0.0) + num_examples * value
                weights[name] = weights.get(name, 0) + num_examples
    return {name: sums[name] / weights[name] for name in sorted(sums) if weights[name]}


def build_strategy(min_clients: int, epochs: int) -> fl.server.strategy.FedAvg:
    def fit_config(server_round: int) -> dict:
        return {"epochs": epochs, "round": server_round}

    return fl.server.strategy.FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=min_clients,
        min_evaluate_clients=min_clients,
        min_available_clients=min_clients,
        on_fit_config_fn=fit_config,
        fit_metrics_aggregation_fn=weighted_means,
        evaluate_metrics_aggregation_fn=weighted_means,
    )


class RoundClock:
    """Times each round from the strategy's outside: from configure_fit's call to aggregate_evaluate's return.

    Installed after ``instrument``, so the reporter's hooks fall inside what is measured.
    Round 1 also includes waiting for the clients to connect.
    """

    def __init__(self, strategy):
        self.started: dict[int, float] = {}
        self.durations: dict[int, float] = {}
        configure_fit, aggregate_evaluate = strategy.configure_fit, strategy.aggregate_evaluate

        def timed_configure_fit(server_round, parameters, client_manager):
            self.started[server_round] = time.perf_counter()
            return configure_fit(server_round, parameters, client_manager)

        def timed_aggregate_evaluate(server_round, results, failures):
            aggregated = aggregate_evaluate(server_round, results, failures)
            if server_round in self.started:
                self.durations[server_round] = time.perf_counter() - self.started[server_round]
            return aggregated

        strategy.configure_fit = timed_configure_fit
        strategy.aggregate_evaluate = timed_aggregate_evaluate

    def seconds(self) -> list[float]:
        return [round(self.durations[server_round], 6) for server_round in sorted(self.durations)]


def _log_reporter_events() -> None:
    """Show the reporter's warnings (Indexer unreachable, refused events) next to Flower's log."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    reporter_logger = logging.getLogger("flower_integration")
    reporter_logger.addHandler(handler)
    reporter_logger.setLevel(logging.INFO)


def run(argv=None, *, description: str, default_rounds: int, name: str) -> int:
    """Serve one federated training run; returns the process exit code."""
    args = parse_args(argv, description=description, default_rounds=default_rounds)
    random.seed(args.seed)
    strategy = build_strategy(args.min_clients, args.epochs)
    reporter = None
    if args.indexer:
        _log_reporter_events()
        reporter = Reporter(args.indexer, federation_id=args.federation, token=args.token)
        strategy = instrument(strategy, reporter, num_rounds=args.rounds)
    clock = RoundClock(strategy)
    try:
        history = fl.server.start_server(
            server_address=args.address,
            strategy=strategy,
            config=fl.server.ServerConfig(num_rounds=args.rounds),
        )
    finally:
        if reporter is not None:
            delivered_all = reporter.close()
            print(f"F2F reporter: delivered {reporter.delivered} events, dropped {reporter.dropped}, "
                  f"rejected {reporter.rejected}, all delivered: {delivered_all}", flush=True)
    finished = len(history.losses_distributed)
    accuracy = history.metrics_distributed.get("accuracy", [])
    final_accuracy = f", accuracy {accuracy[-1][1]:.3f}" if accuracy else ""
    print(f"{name} federation finished {finished} of {args.rounds} rounds{final_accuracy}", flush=True)
    if args.print_round_times:
        print(f"{ROUND_TIMES_MARKER} {json.dumps(clock.seconds())}", flush=True)
    return 0 if finished == args.rounds else 1


def main(argv=None) -> int:
    return run(argv, description="Serve the digits federation.", default_rounds=10, name="digits")


if __name__ == "__main__":
    sys.exit(main())
