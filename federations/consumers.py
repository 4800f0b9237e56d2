"""Browser WebSockets: a page names the federations it shows and receives their new states. It can change nothing.

Every message is ``{"federations": [state, ...], "rounds": [point, ...]}`` and, on (re)connection
or after a lost push, also ``"history"``: a federation page's curves. A state is sent only when its
``live_version`` is above the last one this page got, so the page always ends on the latest state.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import live, selectors

MAX_WATCHED = 100  # federations one catalog page may watch (a page shows 25)


@database_sync_to_async
def _current(federation_ids, *, history: bool) -> dict:
    current = {"federations": selectors.federation_snapshots(federation_ids), "rounds": []}
    if history:
        current["history"] = selectors.round_history_of(federation_ids)
    return current


class LiveConsumer(AsyncJsonWebsocketConsumer, live.Watcher):
    """Pushes the new states of ``federation_ids`` (set by ``connect``) to the browser."""

    wants_rounds = False
    # Pages talk to this process's hub, never to the channel layer: no channel of their own in it.
    channel_layer_alias = None

    async def watch(self, federation_ids) -> bool:
        """Join the hub for these federations and send their current state; False if none is listed."""
        self.federation_ids, self.sent_versions, self.backlog, self.stale = frozenset(federation_ids), {}, [], False
        self.hub = await live.hub()
        self.hub.watch(self)  # before reading the current state, so that no later write is missed
        try:
            current = await _current(self.federation_ids, history=self.wants_rounds)
            if not current["federations"]:
                self.hub.unwatch(self)
                return False
            await self.accept()
            await self._send(current)
            backlog, self.backlog = self.backlog, None
            for states, rounds in backlog:
                await self.deliver(states, rounds)
            if self.stale:  # a message was lost while the current state was read: read it again
                await self.resync(await database_sync_to_async(selectors.federation_snapshots)(self.federation_ids))
        except BaseException:
            self.hub.unwatch(self)
            raise
        return True

    async def disconnect(self, code):
        if getattr(self, "hub", None) is not None:
            self.hub.unwatch(self)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        pass

    async def deliver(self, states, rounds):
        if self.backlog is not None:  # still sending the current state
            self.backlog.append((states, rounds))
            return
        states = [state for state in states if state["live_version"] > self.sent_versions.get(state["id"], -1)]
        if states or rounds:
            await self._send({"federations": states, "rounds": rounds})

    async def resync(self, states):
        if self.backlog is not None:
            self.stale = True
            return
        message = {"federations": states, "rounds": []}
        if self.wants_rounds:  # rounds may have been lost too: the curves again
            message["history"] = await database_sync_to_async(selectors.round_history_of)(self.federation_ids)
        await self._send(message)

    async def _send(self, message):
        for state in message["federations"]:
            self.sent_versions[state["id"]] = state["live_version"]
        await self.send_json(message)


class CatalogConsumer(LiveConsumer):
    """The rows of one catalog page: ``/ws/catalog/?ids=1,2,3``."""

    async def connect(self):
        raw = dict(pair.split("=", 1) for pair in self.scope["query_string"].decode().split("&") if "=" in pair)
        ids = raw.get("ids", "").split(",")
        if not 0 < len(ids) <= MAX_WATCHED or not all(i.isascii() and i.isdigit() and len(i) <= 18 for i in ids):
            await self.close(code=4400)
            return
        if not await self.watch({int(i) for i in ids}):
            await self.close(code=4404)


class FederationConsumer(LiveConsumer):
    """One federation's page: its state and, as rounds finish, the points of its learning curves."""

    wants_rounds = True

    async def connect(self):
        if not await self.watch({self.scope["url_route"]["kwargs"]["federation_id"]}):
            await self.close(code=4404)
