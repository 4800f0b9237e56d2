"""Turns what the strategy hooks observe into the reporter's events. No Flower or I/O here.

Both adapters (``legacy`` and ``modern``) call the same methods, in the order Flower runs a
round: fit starts (configured), fit aggregated, evaluate starts (or is skipped), evaluate
aggregated. A round ends when its evaluation is aggregated or skipped; the last one also
sends the final event. No state is sent that the next event implies (the Indexer takes a
finished round for "training, at that round", and the final event for "finished"). Every method
is safe to call twice for the same round.
"""

import logging
import time

logger = logging.getLogger("flower_integration")


class RoundTracker:
    def __init__(self, reporter, *, num_rounds: int, min_clients: int, fraction_fit: float, clock=time.perf_counter):
        self.reporter, self.num_rounds = reporter, num_rounds
        self.min_clients, self.fraction_fit = min_clients, fraction_fit
        self.clock = clock
        self.connected = 0
        self.round = 0
        self.started_at: float | None = None
        self.clock_round = 0
        self.fit: dict = {}
        self.finished_round = 0

    def _state(self, phase: str) -> None:
        self.reporter.state(phase=phase, round=self.round, total_rounds=self.num_rounds,
                            connected_clients=self.connected, min_clients=self.min_clients,
                            fraction_fit=self.fraction_fit)

    def waiting(self, connected: int = 0) -> None:
        self.connected = connected
        self._state("waiting")

    def fit_starting(self, server_round: int) -> None:
        """The round begins (its clients may still be awaited)."""
        self.round = server_round
        self._state("training")

    def fit_configured(self, server_round: int, *, connected: int) -> None:
        """The clients of the round are chosen and receive the model: the round's clock starts."""
        self.round, self.connected = server_round, connected
        if self.clock_round != server_round:
            self.clock_round, self.started_at, self.fit = server_round, self.clock(), {}
        self._state("training")

    def fit_aggregated(self, server_round: int, *, num_clients: int, num_examples: int, metrics: dict | None) -> None:
        self.fit = {"num_clients": num_clients, "num_examples": num_examples,
                    "metrics": {f"train_{name}": value for name, value in (metrics or {}).items()}}

    def evaluate_configured(self, server_round: int, *, selected: int) -> None:
        if selected:
            self._state("evaluating")
        else:  # no evaluation this round: it ends with the fit
            self.round_done(server_round, loss=None, metrics=None)

    def evaluate_aggregated(self, server_round: int, *, loss, metrics: dict | None, num_clients: int) -> None:
        self.round_done(server_round, loss=loss, metrics=metrics)

    def round_done(self, server_round: int, *, loss, metrics: dict | None) -> None:
        if server_round <= self.finished_round or self.started_at is None:
            return
        self.finished_round = server_round
        self.reporter.round_finished(
            round=server_round,
            duration=self.clock() - self.started_at,
            loss=loss,
            metrics={**self.fit.get("metrics", {}), **(metrics or {})},
            num_clients=self.fit.get("num_clients", 0),
            num_examples=self.fit.get("num_examples", 0),
        )
        # Nothing else: the round event itself tells the Indexer that the run trains on, at that round, and the
        # final event that it is finished (a state saying so was 3 segments on the wire for nothing).
        if server_round >= self.num_rounds:
            self.reporter.final(rounds=server_round)


def safely(function, *args, **kwargs) -> None:
    """Run a reporting step; a bug in reporting is logged and never reaches the training."""
    try:
        function(*args, **kwargs)
    except Exception:
        logger.exception("F2F reporting step failed; training continues unaffected")
