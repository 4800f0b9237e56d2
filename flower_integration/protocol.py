"""The F2F reporting protocol, version 2: the one module that both sides read it from.

The reporter (this package) builds its events with these names and limits; the Indexer's
ingest (``federations.protocol`` re-exports this module) checks them with the parsers below.
Plain Python, no Django, no I/O, so that the reporter can be installed on its own.

Events travel over Socket.IO as JSON objects. Every one carries ``"v": 2``, the training
``run`` (an id the reporter draws when the server starts, so a restarted training is a new
run) and ``started``: when that run started, by the reporter's clock, in integer
milliseconds since the Unix epoch.

- ``state``: ``phase`` (waiting|training|evaluating|finished), ``round``, ``total_rounds``,
  ``connected_clients``, ``min_clients``, ``fraction_fit``;
- ``round``: a finished round: ``round``, ``duration`` (s), ``loss`` (or null), ``metrics``
  (name → number, at most 16), ``num_clients``, ``num_examples``;
- ``final``: the training is over: ``rounds`` completed;
- ``alive``: nothing but the envelope: the server is alive and still on this run. A reporter sends it
  only when it has sent nothing else for the time the Indexer asks, in the ``indexer`` message it
  emits to each reporter once connected: ``{"v": 2, "alive_every": seconds}``. Rounds can last longer
  than the silence the Indexer allows; these few bytes keep a healthy training from being taken for a
  dead one, and let the Indexer notice a dead one sooner.

Anything else (unknown keys, wrong types, out-of-range values, a federation id) is refused.

Order. Events can arrive late, twice, or from a server process that an operator restarted,
so the Indexer orders each federation's events (``order``): by run start, then, within a
run, finishing above any round, then by round. An event that is behind the federation's live
state leaves that state as it is. ``started`` comes from the federation's own machine, so the
Indexer uses it for this order within that federation and for nothing else (never as a time it
shows, never to compare federations), and refuses a start more than ``MAX_CLOCK_AHEAD_MS``
ahead of its own clock: such a run would hide the federation's later runs until then.
"""

import math
import re
import time
from dataclasses import dataclass

VERSION = 2
EVENTS = ("state", "round", "final", "alive")
HELLO = "indexer"  # the message the Indexer emits to a reporter once connected
PHASES = ("waiting", "training", "evaluating", "finished")
MAX_ROUNDS = 100_000
MAX_CLIENTS = 1_000_000
MAX_EXAMPLES = 10**12
MAX_DURATION = 7 * 24 * 3600.0
MAX_ABS_LOSS = 1e12
MAX_METRICS = 16
MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000
METRIC_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
RUN = re.compile(r"[A-Za-z0-9_\-]{1,32}")

# The answers an event or a connection can get besides {"ok": true}: {"ok": false, "code": CODE,
# "error": text for a log}. A reporter acts on the code, never on the text: an event refused with
# a code in RETRIABLE is sent again later; any other refusal is final. A refused connection
# carries the same two fields in its Socket.IO error: ``message`` (the text) and ``data.code``.
THROTTLED = "throttled"
RETRY_LATER = "unavailable"
TOKEN_REVOKED = "token_revoked"
INVALID = "invalid"
REFUSED_TOKEN = "refused_token"
REFUSED_ADDRESS = "refused_address"
RETRIABLE = frozenset({THROTTLED, RETRY_LATER})
MESSAGES = {
    THROTTLED: "throttled: slow down",
    RETRY_LATER: "unavailable: try again later",
    TOKEN_REVOKED: "token revoked, or the federation suspended by the Indexer's operators",
    INVALID: "invalid event",
    REFUSED_TOKEN: "unknown federation, invalid token, or federation suspended by the Indexer's operators",
    REFUSED_ADDRESS: "too many failed connection attempts from this address: try again later",
}


def refusal(code: str, message: str | None = None) -> dict:
    """The answer to an event refused with ``code`` (``message`` for INVALID, which says what is wrong)."""
    return {"ok": False, "code": code, "error": message or MESSAGES[code]}


def retriable(answer) -> bool:
    """Whether an answer asks for the same event again later."""
    if not isinstance(answer, dict) or answer.get("ok"):
        return False
    if "code" not in answer:  # an Indexer from before the codes (F2F 0.2) said it in its text only
        return str(answer.get("error", "")).startswith(tuple(MESSAGES[code].split(":")[0] for code in RETRIABLE))
    return answer["code"] in RETRIABLE


class ProtocolError(ValueError):
    """The payload breaks the protocol; the message says how, for the reporter's log."""


def order(*, started: int, run: str, finished: bool, round: int) -> tuple:
    """Where a training state stands in its federation's history; a later state compares greater.

    Runs by their start (ties, which only a clock could make, by run id), then within a run a
    finished training above all of its rounds (finishing is final), then rounds.
    """
    return (started, run, finished, round)


@dataclass(frozen=True)
class StateEvent:
    run: str
    started: int
    phase: str
    round: int
    total_rounds: int
    connected_clients: int
    min_clients: int
    fraction_fit: float

    @property
    def order(self) -> tuple:
        return order(started=self.started, run=self.run, finished=self.phase == "finished", round=self.round)


@dataclass(frozen=True)
class RoundEvent:
    run: str
    started: int
    round: int
    duration: float
    loss: float | None
    metrics: dict
    num_clients: int
    num_examples: int

    @property
    def order(self) -> tuple:
        return order(started=self.started, run=self.run, finished=False, round=self.round)


@dataclass(frozen=True)
class FinalEvent:
    run: str
    started: int
    rounds: int

    @property
    def order(self) -> tuple:
        return order(started=self.started, run=self.run, finished=True, round=self.rounds)


@dataclass(frozen=True)
class AliveEvent:  # no place in the order: it moves nothing, it only says the server is alive
    run: str
    started: int


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


def _envelope(data, keys: set, now_ms: int | None) -> tuple[str, int]:
    if not isinstance(data, dict):
        raise ProtocolError("the payload must be a JSON object")
    if data.get("v") == 1:
        raise ProtocolError(f"protocol version 1 is no longer accepted: this indexer speaks {VERSION} "
                            "(events carry the run's start); upgrade f2f-flower-integration to 0.2 or later")
    if data.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {data.get('v')!r}; this indexer speaks {VERSION}")
    unknown = set(data) - keys - {"v", "run", "started"}
    if unknown:
        raise ProtocolError(f"unknown fields: {', '.join(sorted(map(str, unknown)))[:200]}")
    run = data.get("run")
    if not isinstance(run, str) or not RUN.fullmatch(run):
        raise ProtocolError("run must be 1 to 32 letters, digits, '-' or '_'")
    started = data.get("started")
    if type(started) is not int or started < 0:
        raise ProtocolError("started must be the run's start in integer milliseconds since the Unix epoch")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if started > now_ms + MAX_CLOCK_AHEAD_MS:
        raise ProtocolError(f"started is {(started - now_ms) // 1000} s ahead of the indexer's clock (at most "
                            f"{MAX_CLOCK_AHEAD_MS // 1000} s allowed): check the federation server's clock")
    return run, started


def parse_state(data, *, now_ms: int | None = None) -> StateEvent:
    run, started = _envelope(
        data, {"phase", "round", "total_rounds", "connected_clients", "min_clients", "fraction_fit"}, now_ms)
    if data.get("phase") not in PHASES:
        raise ProtocolError(f"phase must be one of {', '.join(PHASES)}")
    event = StateEvent(
        run=run,
        started=started,
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


def parse_round(data, *, now_ms: int | None = None) -> RoundEvent:
    run, started = _envelope(data, {"round", "duration", "loss", "metrics", "num_clients", "num_examples"}, now_ms)
    metrics = data.get("metrics", {})
    if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
        raise ProtocolError(f"metrics must be an object of at most {MAX_METRICS} entries")
    clean_metrics = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
            raise ProtocolError("metric names are 1 to 40 letters, digits, '_', '.' or '-'")
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ProtocolError(f"metric {name} must be a finite number")
        clean_metrics[name] = float(value)
    return RoundEvent(
        run=run,
        started=started,
        round=_integer(data, "round", 1, MAX_ROUNDS),
        duration=_number(data, "duration", 0.0, MAX_DURATION),
        loss=_number(data, "loss", -MAX_ABS_LOSS, MAX_ABS_LOSS, nullable=True),
        metrics=clean_metrics,
        num_clients=_integer(data, "num_clients", 0, MAX_CLIENTS),
        num_examples=_integer(data, "num_examples", 0, MAX_EXAMPLES),
    )


def parse_final(data, *, now_ms: int | None = None) -> FinalEvent:
    run, started = _envelope(data, {"rounds"}, now_ms)
    return FinalEvent(run=run, started=started, rounds=_integer(data, "rounds", 0, MAX_ROUNDS))


def parse_alive(data, *, now_ms: int | None = None) -> AliveEvent:
    run, started = _envelope(data, set(), now_ms)
    return AliveEvent(run=run, started=started)


def hello(*, alive_every: int) -> dict:
    """What the Indexer tells a reporter once connected: how often to say it is alive when it has nothing else to send."""
    return {"v": VERSION, "alive_every": alive_every}


MAX_ALIVE_EVERY = 24 * 3600


def alive_every(message) -> float | None:
    """The interval a reporter takes from the Indexer's ``indexer`` message (at most a day); None when it names
    none."""
    value = message.get("alive_every") if isinstance(message, dict) else None
    if type(value) in (int, float) and math.isfinite(value) and value >= 1:
        return float(min(value, MAX_ALIVE_EVERY))
    return None


PARSERS = {"state": parse_state, "round": parse_round, "final": parse_final, "alive": parse_alive}
