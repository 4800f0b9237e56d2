"""Browser WebSockets: a page names the federations it shows and receives their new states. It can change nothing.

Every message is ``{"federations": [state, ...], "rounds": [point, ...]}`` and, on (re)connection
or after a lost push, also ``"history"``: a federation page's curves. A state is sent only when its
``live_version`` is above the last one this page got, so the page always ends on the latest state.
A catalog page also gets ``"listed"``: the ids of federations added to the catalog since it was
made (``since``), on connection, as they are added, and again after a lost push.
"""

from datetime import UTC, datetime, timedelta

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import QueryDict
from django.utils import timezone

from . import live, selectors
from .forms import CatalogFilterForm

MAX_WATCHED = 100  # federations one catalog page may watch (a page shows 25)
LISTED_LOOKBACK = timedelta(hours=1)  # how far back a catalog page's ``since`` may reach


@database_sync_to_async
def _current(federation_ids, *, history: bool, listed_since: datetime | None, filters: dict) -> dict:
    current = {"federations": selectors.federation_snapshots(federation_ids) if federation_ids else [], "rounds": []}
    if history:
        current["history"] = selectors.round_history_of(federation_ids)
    if listed_since is not None:
        current["listed"] = selectors.listed_since(listed_since, limit=MAX_WATCHED, **filters)
    return current


class LiveConsumer(AsyncJsonWebsocketConsumer, live.Watcher):
    """Pushes the new states of ``federation_ids`` (set by ``connect``) to the browser."""

    wants_rounds = False
    listed_since: datetime | None = None  # a catalog page's: when it was made
    filters: dict = {}  # and its search and filters, which a federation listed since must match to be told of
    # Pages talk to this process's hub, never to the channel layer: no channel of their own in it.
    channel_layer_alias = None

    async def watch(self, federation_ids) -> bool:
        """Join the hub for these federations and send their current state; False if none is listed (and the
        page is not one to be told of new listings)."""
        self.federation_ids, self.sent_versions, self.backlog, self.stale = frozenset(federation_ids), {}, [], False
        self.hub = await live.hub()
        self.hub.watch(self)  # before reading the current state, so that no later write is missed
        try:
            current = await _current(self.federation_ids, history=self.wants_rounds, listed_since=self.listed_since,
                                     filters=self.filters)
            if not current["federations"] and not self.wants_listings:
                self.hub.unwatch(self)
                return False
            await self.accept()
            await self._send(current)
            backlog, self.backlog = self.backlog, None
            for states, rounds, listed in backlog:
                await self.deliver(states, rounds, listed)
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

    async def deliver(self, states, rounds, listed=()):
        if self.backlog is not None:  # still sending the current state
            self.backlog.append((states, rounds, listed))
            return
        states = [state for state in states if state["live_version"] > self.sent_versions.get(state["id"], -1)]
        message = {"federations": states, "rounds": rounds}
        if listed:  # those this page's search and filters would show (rare: one query per page then)
            listed = await database_sync_to_async(selectors.listed_among)(listed, **self.filters)
        if listed:
            message["listed"] = listed
        if states or rounds or listed:
            await self._send(message)

    async def resync(self, states):
        if self.backlog is not None:
            self.stale = True
            return
        message = {"federations": states, "rounds": []}
        if self.wants_rounds:  # rounds may have been lost too: the curves again
            message["history"] = await database_sync_to_async(selectors.round_history_of)(self.federation_ids)
        if self.wants_listings:  # and listings: those since the page was made, again
            message["listed"] = await database_sync_to_async(selectors.listed_since)(
                self.listed_since, limit=MAX_WATCHED, **self.filters)
        await self._send(message)

    async def _send(self, message):
        for state in message["federations"]:
            self.sent_versions[state["id"]] = state["live_version"]
        await self.send_json(message)


class CatalogConsumer(LiveConsumer):
    """The rows of one catalog page, and the federations listed since it was made that its search and filters
    would show: ``/ws/catalog/?ids=1,2,3&since=<ms since the epoch>&q=...&category=...`` (the page's own query
    string; ``ids`` may be empty: a page that lists none)."""

    wants_listings = True

    async def connect(self):
        query = QueryDict(self.scope["query_string"].decode("ascii", "replace"))
        ids = [i for i in query.get("ids", "").split(",") if i]
        since = query.get("since")
        now = timezone.now()
        if (len(ids) > MAX_WATCHED or not all(i.isascii() and i.isdigit() and len(i) <= 18 for i in ids)
                or not (since is None or since.isascii() and since.isdigit() and len(since) <= 15
                        and int(since) <= (now.timestamp() + 86400) * 1000)):  # at most a day ahead
            await self.close(code=4400)
            return
        # No further back than the lookback (an old page reloaded from a cache is told of the last hour at most);
        # a page that does not say when it was made is told of what is listed from now on.
        made = now if since is None else datetime.fromtimestamp(int(since) / 1000, tz=UTC)
        self.listed_since = max(made, now - LISTED_LOOKBACK)
        form = CatalogFilterForm(query, applications=query.getlist("application")[:1])
        self.filters = {name: value for name, value in form.filters().items() if name != "sort"}
        if not await self.watch({int(i) for i in ids}):
            await self.close(code=4404)


class FederationConsumer(LiveConsumer):
    """One federation's page: its state and, as rounds finish, the points of its learning curves."""

    wants_rounds = True

    async def connect(self):
        if not await self.watch({self.scope["url_route"]["kwargs"]["federation_id"]}):
            await self.close(code=4404)
