"""The reporting protocol, version 1: what a federation server may send, checked field by field.

Events arrive over Socket.IO as JSON objects, each with ``"v": 1`` and the training ``run``
(an id the reporter draws when the server starts, so a restarted training is a new run):

- ``state``: ``phase`` (waiting|training|evaluating|finished), ``round``, ``total_rounds``,
  ``connected_clients``, ``min_clients``, ``fraction_fit``;
- ``round``: a finished round: ``round``, ``duration`` (s), ``loss`` (or null), ``metrics``
  (name → number, at most 16), ``num_clients``, ``num_examples``;
- ``final``: the training is over: ``rounds`` completed.

Anything else (unknown keys, wrong types, out-of-range values, a federation id) is refused.
"""

import math
import re
from dataclasses import dataclass

VERSION = 1
PHASES = ("waiting", "training", "evaluating", "finished")
MAX_ROUNDS = 100_000
MAX_CLIENTS = 1_000_000
MAX_EXAMPLES = 10**12
MAX_DURATION = 7 * 24 * 3600.0
MAX_METRICS = 16
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
_RUN = re.compile(r"[A-Za-z0-9_\-]{1,32}")


class ProtocolError(ValueError):
    """The payload breaks the protocol; the message says how, for the reporter's log."""


@dataclass(frozen=True)
class StateEvent:
    run: str
    phase: str
    round: int
    total_rounds: int
    connected_clients: int
    min_clients: int
    fraction_fit: float


@dataclass(frozen=True)
class RoundEvent:
    run: str
    round: int
    duration: float
    loss: float | None
    metrics: dict
    num_clients: int
    num_examples: int


@dataclass(frozen=True)
class FinalEvent:
    run: str
    rounds: int


def _integer(data, key, low, high):
    value = data.get(key)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{key} must be an integer from {low} to {high}")
    return value


def _number(data, key, low, high, *, nullable=False):
    value = data.get(key)
    if value is None and nullable:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        raise ProtocolError(f"{key} must be a finite number from {low} to {high}")
    return float(value)


def _envelope(data, keys: set) -> str:
    if not isinstance(data, dict):
        raise ProtocolError("the payload must be a JSON object")
    if data.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {data.get('v')!r}; this indexer speaks {VERSION}")
    unknown = set(data) - keys - {"v", "run"}
    if unknown:
        raise ProtocolError(f"unknown fields: {', '.join(sorted(map(str, unknown)))[:200]}")
    run = data.get("run")
    if not isinstance(run, str) or not _RUN.fullmatch(run):
        raise ProtocolError("run must be 1 to 32 letters, digits, '-' or '_'")
    return run


def parse_state(data) -> StateEvent:
    run = _envelope(data, {"phase", "round", "total_rounds", "connected_clients", "min_clients", "fraction_fit"})
    if data.get("phase") not in PHASES:
        raise ProtocolError(f"phase must be one of {', '.join(PHASES)}")
    event = StateEvent(
        run=run,
        phase=data["phase"],
        round=_integer(data, "round", 0, MAX_ROUNDS),
        total_rounds=_integer(data, "total_rounds", 0, MAX_ROUNDS),
        connected_clients=_integer(data, "connected_clients", 0, MAX_CLIENTS),
        min_clients=_integer(data, "min_clients", 0, MAX_CLIENTS),
        fraction_fit=_number(data, "fraction_fit", 0.0, 1.0),
    )
    if event.total_rounds and event.round > event.total_rounds:
        raise ProtocolError("round cannot be past total_rounds")
    return event


def parse_round(data) -> RoundEvent:
    run = _envelope(data, {"round", "duration", "loss", "metrics", "num_clients", "num_examples"})
    metrics = data.get("metrics", {})
    if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
        raise ProtocolError(f"metrics must be an object of at most {MAX_METRICS} entries")
    clean_metrics = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ProtocolError("metric names are 1 to 40 letters, digits, '_', '.' or '-'")
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ProtocolError(f"metric {name} must be a finite number")
        clean_metrics[name] = float(value)
    return RoundEvent(
        run=run,
        round=_integer(data, "round", 1, MAX_ROUNDS),
        duration=_number(data, "duration", 0.0, MAX_DURATION),
        loss=_number(data, "loss", -1e12, 1e12, nullable=True),
        metrics=clean_metrics,
        num_clients=_integer(data, "num_clients", 0, MAX_CLIENTS),
        num_examples=_integer(data, "num_examples", 0, MAX_EXAMPLES),
    )


def parse_final(data) -> FinalEvent:
    run = _envelope(data, {"rounds"})
    return FinalEvent(run=run, rounds=_integer(data, "rounds", 0, MAX_ROUNDS))


PARSERS = {"state": parse_state, "round": parse_round, "final": parse_final}
