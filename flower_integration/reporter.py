"""The reporter: sends a federation's training events to an F2F Indexer without ever slowing it.

Hooks call ``state``, ``round_finished`` and ``final``; each only records the event and
returns (microseconds). A background thread owns the Socket.IO connection: it sends the
latest state first, then the finished rounds in order, then the final event; it waits for
each acknowledgement (what comes in a burst, within a quarter of a second, goes together: the latest
state, then the rounds), reconnects with exponential backoff when
the Indexer is slow or down, and then catches up. Until the final event, when it has sent
nothing for the time the Indexer asked (``protocol.hello``), it says the server is alive. Only the latest state is kept (older
states are worthless); finished rounds wait in a bounded queue (the oldest are dropped,
and counted, when it is full). The Indexer applies a round at most once, so resending
after a lost acknowledgement is safe.
"""

import collections
import logging
import math
import threading
import time
import uuid

import socketio

from . import protocol

logger = logging.getLogger("flower_integration")


QUIET = 0.25  # seconds without a new event before the pending ones go (``Reporter._settling``)
MOST_DELAY = 1.0  # ... and never later than this after the first of them
SIGNIFICANT_DIGITS = 6  # of a loss or a metric: what a curve shows, in about half the bytes of a full double


def shortened(value: float) -> float:
    """``value`` to ``SIGNIFICANT_DIGITS`` significant digits (0.9012345678901234 is sent as 0.901235); a whole
    number as it is (a count of 123456789 stays one)."""
    if value.is_integer():
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def round_ms(seconds: float) -> float:
    """A duration to the millisecond (the clock's own digits beyond it were 13 bytes a round)."""
    return round(seconds, 3)  # (in ``round_finished`` a parameter takes the name)


def clean_metrics(metrics) -> dict:
    """The reportable part of Flower metrics: finite numbers under short plain names, shortened."""
    clean = {}
    for name, value in (metrics or {}).items():
        if len(clean) == protocol.MAX_METRICS:
            break
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(name, str) and protocol.METRIC_NAME.fullmatch(name) and math.isfinite(value):
            clean[name] = shortened(float(value))
    return clean


class Reporter:
    """Reports one training run of one federation to an Indexer.

    ``indexer_url`` is the portal's base URL (e.g. ``http://127.0.0.1:8321``); ``federation_id``
    and ``token`` are the federation's id and the reporting token the Indexer issued. ``run``
    names the run (new for each training) and ``started`` (ms since the epoch, by default now)
    places it among the federation's runs: the Indexer shows the latest run.
    """

    def __init__(
        self,
        indexer_url: str,
        federation_id: int,
        token: str,
        *,
        run: str | None = None,
        started: int | None = None,
        queue_size: int = 10_000,
        connect_timeout: float = 5.0,
        ack_timeout: float = 10.0,
        max_backoff: float = 30.0,
    ):
        self.indexer_url = indexer_url.rstrip("/")
        self.federation_id = federation_id
        self.run = run or uuid.uuid4().hex[:16]
        self.started = int(time.time() * 1000) if started is None else int(started)
        self._auth = {"federation": federation_id, "token": token}
        self._connect_timeout, self._ack_timeout, self._max_backoff = connect_timeout, ack_timeout, max_backoff
        self._lock = threading.Condition()
        self._state: dict | None = None
        self._rounds: collections.deque = collections.deque(maxlen=queue_size)
        self._final: dict | None = None
        self._changed_at = 0.0
        self._settled_since: float | None = None  # when what is pending began to pend
        self._closing = False
        self._client: socketio.Client | None = None
        self._alive_every: float | None = None  # the Indexer's, once it has said it
        self._alive_refused = False
        self._last_heard = time.monotonic()  # the last answer the Indexer gave that was not a refusal
        self._finished = False
        self.delivered = 0
        self.alive_signals = 0
        self.dropped = 0
        self.rejected = 0
        self._warned_stale = False
        self._thread = threading.Thread(target=self._send_forever, name="f2f-reporter", daemon=True)
        self._thread.start()

    # The hook side: record and return at once.

    def state(self, *, phase: str, round: int, total_rounds: int, connected_clients: int, min_clients: int,
              fraction_fit: float) -> None:
        self._put_state({
            "phase": phase, "round": int(round), "total_rounds": int(total_rounds),
            "connected_clients": int(connected_clients), "min_clients": int(min_clients),
            "fraction_fit": float(min(max(fraction_fit, 0.0), 1.0)),
        })

    def round_finished(self, *, round: int, duration: float, loss: float | None, metrics: dict | None,
                       num_clients: int, num_examples: int) -> None:
        # A diverged loss or an absurd duration must not get the whole round refused.
        if loss is not None and not (isinstance(loss, (int, float)) and math.isfinite(loss)
                                     and abs(loss) <= protocol.MAX_ABS_LOSS):
            loss = None
        duration = min(max(float(duration), 0.0), protocol.MAX_DURATION) if math.isfinite(duration) else 0.0
        event = {"round": int(round), "duration": round_ms(duration), "loss": None if loss is None else shortened(loss),
                 "metrics": clean_metrics(metrics), "num_clients": int(num_clients), "num_examples": int(num_examples)}
        with self._lock:
            if len(self._rounds) == self._rounds.maxlen:
                self.dropped += 1
            self._rounds.append(self._envelope(event))
            self._changed()

    def final(self, *, rounds: int) -> None:
        with self._lock:
            self._final = self._envelope({"rounds": int(rounds)})
            self._changed()

    def close(self, timeout: float = 10.0) -> bool:
        """Try to deliver what is pending for up to ``timeout`` seconds, then stop. True if all went."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            self._lock.notify_all()
            while self._pending() and time.monotonic() < deadline:
                self._lock.wait(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
            delivered_all = not self._pending()
            self._closing = None  # tells the thread to stop now
            self._lock.notify_all()
        self._thread.join(timeout=2)
        return delivered_all

    # The sending side.

    def _envelope(self, event: dict) -> dict:
        return {"v": protocol.VERSION, "run": self.run, "started": self.started, **event}

    def _put_state(self, event: dict) -> None:
        with self._lock:
            self._state = self._envelope(event)
            self._changed()

    def _changed(self) -> None:
        """Something new to send (under the lock): the sender waits for what follows it (``_settling``)."""
        now = time.monotonic()
        if self._settled_since is None:
            self._settled_since = now
        self._changed_at = now
        self._lock.notify()

    def _settling(self) -> float:
        """Seconds the sender still waits before sending what is pending (under the lock).

        The hooks of a round come in bursts (a round ends, the next one starts and its clients are chosen,
        within milliseconds): what comes within ``QUIET`` of the last change goes together, as the latest
        state and the rounds behind it, never more than ``MOST_DELAY`` after the first. Each message the
        burst does not take was 3 TCP segments on the wire. Closing sends at once.
        """
        if self._settled_since is None or self._closing:
            return 0.0
        now = time.monotonic()
        return max(0.0, min(self._changed_at + QUIET, self._settled_since + MOST_DELAY) - now)

    def _pending(self) -> bool:
        return bool(self._state or self._rounds or self._final)

    def _alive_due(self) -> float | None:
        """Seconds until the Indexer is to hear that the server is alive (0: now); None when it is not to."""
        if self._alive_every is None or self._finished or self._closing:
            return None
        return max(0.0, self._last_heard + self._alive_every - time.monotonic())

    def _next(self):
        """The next event to send, in order: the current state, finished rounds, the final event; else, when
        it is due, the liveness signal."""
        if self._state is not None:
            return "state", self._state
        if self._rounds:
            return "round", self._rounds[0]
        if self._final is not None:
            return "final", self._final
        return "alive", self._envelope({})

    def _delivered(self, kind: str, payload: dict) -> None:
        with self._lock:
            if kind == "state" and self._state is payload:
                self._state = None
            elif kind == "round" and self._rounds and self._rounds[0] is payload:
                self._rounds.popleft()
            elif kind == "final" and self._final is payload:
                self._final, self._finished = None, True
            if not self._pending():
                self._settled_since = None
            self._lock.notify_all()

    def _send_forever(self) -> None:
        backoff = 0.5
        while True:
            with self._lock:
                while self._closing is not None and not self._pending() and self._alive_due() != 0:
                    self._lock.wait(timeout=self._alive_due())
                while self._closing is not None and self._pending() and (settling := self._settling()) > 0:
                    self._lock.wait(timeout=settling)
                if self._closing is None:
                    break
                kind, payload = self._next()
            try:
                client = self._connected()
                answer = client.call(kind, payload, timeout=self._ack_timeout)
            except Exception as error:  # the Indexer is down, slow or refused us: back off and retry
                logger.warning("F2F reporter: cannot reach %s (%s); retrying in %.1fs", self.indexer_url, error, backoff)
                self._disconnect()
                if self._wait(backoff):
                    break
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if isinstance(answer, dict) and answer.get("ok"):
                backoff = 0.5
                if kind == "alive":
                    self.alive_signals += 1
                else:
                    self.delivered += 1
                self._last_heard = time.monotonic()
                if kind == "state" and answer.get("stale") and not self._warned_stale:
                    # The Indexer orders runs by their start: a live run called stale means this machine's
                    # clock is behind the one that started the federation's current run. Say it once.
                    self._warned_stale = True
                    logger.warning("F2F reporter: the Indexer keeps a run that started later than this one as "
                                   "current, so this training is not shown live; is this machine's clock behind?")
                self._delivered(kind, payload)
            elif protocol.retriable(answer):
                if self._wait(backoff):  # "not now": the same event goes again after a pause
                    break
                backoff = min(backoff * 2, self._max_backoff)
            else:
                backoff = 0.5
                self.rejected += 1
                logger.error("F2F reporter: the Indexer refused a %s event: %s", kind, answer)
                if kind == "alive":  # what refuses one refuses the next: no more signals for this run
                    with self._lock:
                        self._alive_every, self._alive_refused = None, True
                self._delivered(kind, payload)  # resending an invalid event cannot succeed
        self._disconnect()

    def _wait(self, seconds: float) -> bool:
        """Sleep unless told to stop; True when stopping."""
        with self._lock:
            self._lock.wait_for(lambda: self._closing is None, timeout=seconds)
            return self._closing is None

    def _connected(self) -> socketio.Client:
        if self._client is None or not self._client.connected:
            self._disconnect()
            client = socketio.Client(reconnection=False, handle_sigint=False)
            refusals = []  # the Indexer's reason, which python-socketio reports only to this handler
            client.on("connect_error", lambda data=None: refusals.append(data))
            client.on(protocol.HELLO, self._hello)
            try:
                client.connect(self.indexer_url, auth=self._auth, transports=["websocket"],
                               wait_timeout=self._connect_timeout)
            except socketio.exceptions.ConnectionError as error:
                reason = refusals[-1].get("message") if refusals and isinstance(refusals[-1], dict) else None
                raise socketio.exceptions.ConnectionError(f"refused: {reason}" if reason else str(error)) from error
            self._client = client
            logger.info("F2F reporter: connected to %s as federation %s", self.indexer_url, self.federation_id)
        return self._client

    def _hello(self, message=None) -> None:
        every = protocol.alive_every(message)
        if every is not None and not self._alive_refused:
            with self._lock:
                self._alive_every = every
                self._lock.notify_all()

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            except Exception:  # already gone
                pass
