"""What reporting to an Indexer costs a training round (run on demand; results go to docs/benchmarks.md).

    .venv/bin/python bench/reporter_overhead.py --pairs 3 --rounds 5 \\
        [--indexer http://127.0.0.1:8321 --federation 42 --token f2f_...]

Runs the digits federation (server + 2 clients, real processes) without the reporter and with
it, interleaved in one run so that every variant sees the same machine state; the order
alternates from one repetition to the next. "with, unreachable" points the reporter at a port
where nothing listens (http://127.0.0.1:9): its events pile up and it keeps retrying, with backoff.
With --indexer, a real Indexer is a third variant.

The server measures each round from the strategy's outside (``--print-round-times``), so the
reporter's hooks fall inside the measurement. Round 1 also waits for the clients to connect
and for TensorFlow's first tracing, so it is left out. Prints the median round time per
variant and its ratio to the run without the reporter, then what the reporting steps cost the
training thread per round when timed in isolation (the whole-run comparison is noisy).
"""

import argparse
import contextlib
import io
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flower_integration import demo  # noqa: E402
from flower_integration import Reporter  # noqa: E402
from flower_integration.examples.digits.server import ROUND_TIMES_MARKER  # noqa: E402
from flower_integration.tracker import RoundTracker, safely  # noqa: E402

UNREACHABLE_INDEXER = "http://127.0.0.1:9"
WITHOUT = "without reporter"


def round_times(output: str) -> list[float]:
    for line in output.splitlines():
        if line.startswith(ROUND_TIMES_MARKER + " "):
            return json.loads(line[len(ROUND_TIMES_MARKER) + 1:])
    raise RuntimeError(f"the server printed no {ROUND_TIMES_MARKER} line:\n{output[-3000:]}")


def run_once(server_args: list[str], *, rounds: int, clients: int) -> tuple[list[float], float]:
    """One whole federation; returns its per-round seconds (round 1 left out) and its wall time."""
    with tempfile.TemporaryFile("w+") as server_output, contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        code = demo.run_federation("digits", clients=clients, rounds=rounds,
                                   server_args=["--print-round-times", *server_args],
                                   server_output=server_output, client_output=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        server_output.seek(0)
        output = server_output.read()
    if code != 0:
        raise RuntimeError(f"the federation failed with exit code {code}:\n{output[-3000:]}")
    return round_times(output)[1:], wall


def hook_cost(rounds: int = 20_000) -> float:
    """Seconds per round that the reporting steps take on the training thread, measured in isolation.

    The federation's round times vary by tens of percent on a shared machine; this is the cost
    the hooks add, without that noise (the reporter's thread is live and its Indexer unreachable).
    """
    reporter_logger = logging.getLogger("flower_integration")
    level = reporter_logger.level
    reporter_logger.setLevel(logging.CRITICAL)  # the retry warnings would flood the output
    reporter = Reporter(UNREACHABLE_INDEXER, federation_id=1, token="bench-unreachable", queue_size=rounds)
    tracker = RoundTracker(reporter, num_rounds=rounds + 1, min_clients=2, fraction_fit=1.0)
    try:
        started = time.perf_counter()
        for server_round in range(1, rounds + 1):
            safely(tracker.fit_starting, server_round)
            safely(tracker.fit_configured, server_round, connected=2)
            safely(tracker.fit_aggregated, server_round, num_clients=2, num_examples=1436, metrics={})
            safely(tracker.evaluate_configured, server_round, selected=2)
            safely(tracker.evaluate_aggregated, server_round, loss=0.5, metrics={"accuracy": 0.9}, num_clients=2)
        return (time.perf_counter() - started) / rounds
    finally:
        reporter.close(timeout=0)
        reporter_logger.setLevel(level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="repetitions of every variant")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per federation run")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--indexer", help="a real Indexer to report to as well")
    parser.add_argument("--federation", type=int)
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (round 1 is not measured)")

    variants = {WITHOUT: [], "with, unreachable": ["--indexer", UNREACHABLE_INDEXER, "--federation", "1",
                                                   "--token", "bench-unreachable"]}
    if args.indexer:
        if args.federation is None or not args.token:
            parser.error("--indexer needs --federation and --token")
        variants["with, real Indexer"] = ["--indexer", args.indexer, "--federation", str(args.federation),
                                          "--token", args.token]

    times = {name: [] for name in variants}
    walls = {name: [] for name in variants}
    pair_ratios = {name: [] for name in variants}
    for repetition in range(args.pairs):
        order = list(variants) if repetition % 2 == 0 else list(reversed(variants))
        medians = {}
        for name in order:
            seconds, wall = run_once(variants[name], rounds=args.rounds, clients=args.clients)
            times[name].extend(seconds)
            walls[name].append(wall)
            medians[name] = statistics.median(seconds)
            print(f"repetition {repetition + 1}, {name}: median round {medians[name] * 1000:.1f} ms, "
                  f"run {wall:.1f} s", flush=True)
        for name in variants:
            pair_ratios[name].append(medians[name] / medians[WITHOUT])

    baseline = statistics.median(times[WITHOUT])
    print(f"\n{args.pairs} repetitions x {args.rounds} rounds, {args.clients} clients "
          f"(rounds 2..{args.rounds} measured)")
    print("ratio: median round time / the median without the reporter; "
          "pair ratio: the median of the same ratio taken within each repetition")
    print(f"{'variant':<22} {'rounds':>6} {'median ms':>10} {'mean ms':>9} {'ratio':>7} {'pair ratio':>11} "
          f"{'run s (median)':>15}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<22} {len(values):>6} {median * 1000:>10.1f} {statistics.fmean(values) * 1000:>9.1f} "
              f"{median / baseline:>7.3f} {statistics.median(pair_ratios[name]):>11.3f} "
              f"{statistics.median(walls[name]):>15.1f}")
    per_round = hook_cost()
    print(f"\nreporting hooks alone: {per_round * 1e6:.1f} µs per round, "
          f"{per_round / baseline * 100:.4f} % of the median round without the reporter")


if __name__ == "__main__":
    main()
