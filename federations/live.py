"""Pushes of federation state to open pages.

Writers publish, after their transaction commits, one message per write (an ingest batch, a
heartbeat sweep, a download) carrying the new states of the federations it changed, on the one
channel-layer group ``LIVE_GROUP``. Every portal process has one ``Hub`` in that group. The hub
hands each open page (a ``Watcher``: the federations it shows) what concerns it, coalesced over
``TICK_SECONDS``: a page may skip intermediate states, never the latest one. A message may also
name federations just ``listed`` (added to the catalog): catalog pages are told of them.

Nothing is dropped in silence:

- every state carries its federation's ``live_version`` (a count of its writes), and a page keeps
  the highest it has seen, so pushes that cross on their way never leave it on an older state;
- every message carries its publisher and a sequence number: a hub that sees a gap (a message lost
  by the layer: a full channel, a Redis restart) logs it and sends every page it serves the current
  state read from the database, which is the truth.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import threading
import uuid

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from . import selectors

logger = logging.getLogger(__name__)

LIVE_GROUP = "live"
MESSAGE_TYPE = "live.states"
MAX_STATES_PER_MESSAGE = 1000
TICK_SECONDS = 0.05
GROUP_RENEWAL_SECONDS = 3600

_publisher: tuple[int, str, itertools.count] | None = None


def _next_sequence() -> tuple[str, int]:
    """This process's name as a publisher and its next sequence number (a forked child is a new publisher)."""
    global _publisher
    if _publisher is None or _publisher[0] != os.getpid():
        _publisher = (os.getpid(), uuid.uuid4().hex[:12], itertools.count(1))
    return _publisher[1], next(_publisher[2])

# The event loop of the server in this process. Threads (the ingest's writer, views, the embedded
# Celery worker) hand their sends to it and go on, instead of blocking on it (see ``bind_event_loop``).
_server_loop: asyncio.AbstractEventLoop | None = None


def bind_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Send pushes from any thread through ``loop``, the server's (called by ``run_portal``)."""
    global _server_loop
    _server_loop = loop


def reaches_every_process() -> bool:
    """Whether a push sent from this process reaches the pages of every process (a Redis layer), not only the
    pages of this one (the embedded mode's in-memory layer)."""
    from channels.layers import InMemoryChannelLayer

    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def send_from_a_thread_of_its_own() -> None:
    """Send this process's pushes through an event loop on a thread of its own (a process without a server:
    the ingest's writer, whose pushes the server's core then does not pay for)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="f2f-live-pushes", daemon=True).start()
    bind_event_loop(loop)


def _messages(states: list[dict], rounds: list[dict], listed: list[int] = ()) -> list[dict]:
    chunks = [states[at:at + MAX_STATES_PER_MESSAGE] for at in range(0, len(states), MAX_STATES_PER_MESSAGE)] or [[]]
    return [{"type": MESSAGE_TYPE, "federations": chunk, "rounds": rounds if first else [],
             "listed": list(listed) if first else []}
            for first, chunk in zip([True] + [False] * len(chunks), chunks)]


async def _send(layer, messages: list[dict]) -> None:
    for message in messages:
        # Numbered as it enters the layer, not when the writer made it: sends scheduled from several
        # threads reach the loop in any order, and the layer keeps the order in which they enter it.
        message["source"], message["seq"] = _next_sequence()
        await layer.group_send(LIVE_GROUP, message)


def _logged(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("A live push failed; pages will catch up on their next message", exc_info=future.exception())


# Pushes made while ``collecting``, in the thread that collects them (see ``collecting``).
_collecting = threading.local()


@contextlib.contextmanager
def collecting():
    """Keep the pushes this thread makes in this block, instead of sending them: yields the list they are added to.

    For the ingest's writer process, whose pushes the server process sends: the in-process channel
    layer of the embedded mode reaches only the pages of the process that holds it.
    """
    outer = getattr(_collecting, "pushes", None)
    _collecting.pushes = []
    try:
        yield _collecting.pushes
    finally:
        _collecting.pushes = outer


def push(*, federation_ids=(), states=(), rounds=(), listed=()) -> None:
    """Send these new states to open pages: ``states`` as given, and those of ``federation_ids`` as read now;
    ``listed``: federations just added to the catalog, for catalog pages.

    Best-effort for the writer: a push that fails is logged, never raised into it.
    """
    try:
        states = [*states, *(selectors.federation_snapshots(federation_ids) if federation_ids else [])]
        collected = getattr(_collecting, "pushes", None)
        if collected is not None:
            collected.append({"states": states, "rounds": list(rounds), "listed": list(listed)})
            return
        layer = get_channel_layer()
        if layer is None or not (states or listed):
            return
        messages = _messages(states, list(rounds), list(listed))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            running.create_task(_send(layer, messages)).add_done_callback(_logged)
        elif _server_loop is not None and _server_loop.is_running():
            asyncio.run_coroutine_threadsafe(_send(layer, messages), _server_loop).add_done_callback(_logged)
        else:
            async_to_sync(_send)(layer, messages)
    except Exception:
        logger.exception("Live push of %d federation state(s) failed; pages will catch up on their next message",
                         len(states))


def push_after_commit(*, federation_ids=(), states=(), rounds=(), listed=()) -> None:
    """``push`` once the current transaction commits, so that pages never see a write that is rolled back."""
    federation_ids, states, rounds, listed = list(federation_ids), list(states), list(rounds), list(listed)
    if federation_ids or states or listed:
        transaction.on_commit(lambda: push(federation_ids=federation_ids, states=states, rounds=rounds,
                                           listed=listed))


class Watcher:
    """An open page, as the hub sees it: the federations it shows and where their new states go."""

    federation_ids: frozenset
    wants_rounds: bool
    wants_listings = False  # told of federations added to the catalog (a catalog page)

    async def deliver(self, states: list[dict], rounds: list[dict], listed: list[int] = ()) -> None:
        raise NotImplementedError

    async def resync(self, states: list[dict]) -> None:
        """Send the page ``states``, read from the database after a lost message (its federations' current ones)."""
        raise NotImplementedError


class Hub:
    """This process's member of ``LIVE_GROUP``: hands new states to the pages open here."""

    def __init__(self, layer):
        self.layer = layer
        self.watchers: dict[int, set[Watcher]] = {}
        self.listing_watchers: set[Watcher] = set()
        self.sequences: dict[str, int] = {}
        self.pending_states: dict[int, dict] = {}
        self.pending_rounds: list[dict] = []
        self.pending_listed: list[int] = []
        self.flush_scheduled = self.resync_scheduled = False
        self.tasks: set[asyncio.Task] = set()
        self.missed = 0
        self.subscribed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._receive_forever())

    def watch(self, watcher: Watcher) -> None:
        for federation_id in watcher.federation_ids:
            self.watchers.setdefault(federation_id, set()).add(watcher)
        if watcher.wants_listings:
            self.listing_watchers.add(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        self.listing_watchers.discard(watcher)
        for federation_id in watcher.federation_ids:
            watchers = self.watchers.get(federation_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self.watchers[federation_id]

    async def _receive_forever(self) -> None:
        channel = await self.layer.new_channel()
        await self.layer.group_add(LIVE_GROUP, channel)
        self.subscribed.set()
        renewal = asyncio.get_running_loop().create_task(self._renew_forever(channel))
        try:
            await self._take_forever(channel)
        finally:
            renewal.cancel()

    async def _renew_forever(self, channel) -> None:
        # Layers forget a group member after a day (channels' group_expiry): renew well before.
        while True:
            await asyncio.sleep(GROUP_RENEWAL_SECONDS)
            try:
                await self.layer.group_add(LIVE_GROUP, channel)
            except Exception:
                logger.exception("Could not renew the live hub's membership; retrying")

    async def _take_forever(self, channel) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("The live hub could not receive from the channel layer; resyncing its pages")
                await asyncio.sleep(1)
                self._resync_all()
                continue
            try:
                self.receive(message)
            except Exception:  # a message of another version, say: drop it, keep the others coming
                logger.exception("The live hub dropped a message it could not read")

    def receive(self, message: dict) -> None:
        source, seq = message["source"], message["seq"]
        last = self.sequences.get(source)
        self.sequences[source] = max(seq, last or 0)
        if last is not None and seq > last + 1:
            self.missed += seq - last - 1
            logger.warning("Live pushes: %d message(s) from %s were lost on the way; resending the current "
                           "state to %d open page(s)", seq - last - 1, source, self._page_count())
            self._resync_all()
        for state in message["federations"]:
            if state["id"] in self.watchers:
                known = self.pending_states.get(state["id"])
                if known is None or known["live_version"] <= state["live_version"]:
                    self.pending_states[state["id"]] = state
        self.pending_rounds += [point for point in message["rounds"] if point["federation"] in self.watchers]
        if self.listing_watchers:
            self.pending_listed += message.get("listed", [])
        if (self.pending_states or self.pending_rounds or self.pending_listed) and not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_later(TICK_SECONDS, self._flush)

    def _pages(self) -> set[Watcher]:
        return set().union(self.listing_watchers, *self.watchers.values())

    def _page_count(self) -> int:
        return len(self._pages())

    def _resync_all(self) -> None:
        """Send every page here its federations' current state: soon, once, however many losses were seen."""
        if not self.resync_scheduled:
            self.resync_scheduled = True
            self._keep(asyncio.get_running_loop().create_task(self._resync()))

    async def _resync(self) -> None:
        await asyncio.sleep(TICK_SECONDS)
        self.resync_scheduled = False
        watchers = self._pages()
        ids = set().union(*(watcher.federation_ids for watcher in watchers)) if watchers else set()
        current = {state["id"]: state for state in await database_sync_to_async(selectors.federation_snapshots)(ids)}
        for watcher in watchers:
            states = [current[i] for i in watcher.federation_ids if i in current]
            self._keep(asyncio.get_running_loop().create_task(watcher.resync(states)))

    def _keep(self, task) -> None:
        """Hold a task until it is done (the loop keeps only a weak reference) and log its failure."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_logged)

    def _flush(self) -> None:
        self.flush_scheduled = False
        states, rounds, listed = self.pending_states, self.pending_rounds, self.pending_listed
        self.pending_states, self.pending_rounds, self.pending_listed = {}, [], []
        per_watcher: dict[Watcher, tuple[list, list, list]] = {}
        for federation_id, state in states.items():
            for watcher in self.watchers.get(federation_id, ()):
                per_watcher.setdefault(watcher, ([], [], []))[0].append(state)
        for point in rounds:
            for watcher in self.watchers.get(point["federation"], ()):
                if watcher.wants_rounds:
                    per_watcher.setdefault(watcher, ([], [], []))[1].append(point)
        if listed:
            for watcher in self.listing_watchers:
                per_watcher.setdefault(watcher, ([], [], []))[2].extend(listed)
        loop = asyncio.get_running_loop()
        for watcher, (watcher_states, watcher_rounds, watcher_listed) in per_watcher.items():
            self._keep(loop.create_task(watcher.deliver(watcher_states, watcher_rounds, watcher_listed)))


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


async def hub() -> Hub:
    """The hub of the running event loop, started on first use and subscribed when returned."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs or _hubs[loop].task.done() or _hubs[loop].layer is not get_channel_layer():
        for other in [other for other in _hubs if other.is_closed()]:
            del _hubs[other]
        if loop in _hubs:
            _hubs[loop].task.cancel()
        _hubs[loop] = Hub(get_channel_layer())
    live_hub = _hubs[loop]
    if not live_hub.subscribed.is_set():
        waiter = loop.create_task(live_hub.subscribed.wait())
        await asyncio.wait({waiter, live_hub.task}, return_when=asyncio.FIRST_COMPLETED)
        if not live_hub.subscribed.is_set():
            waiter.cancel()
            live_hub.task.result()  # raises what stopped it (the layer is unreachable)
    return live_hub
