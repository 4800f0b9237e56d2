"""Browser WebSockets: pages join a group and receive federation updates. They can change nothing."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import live, selectors


class PushOnlyConsumer(AsyncJsonWebsocketConsumer):
    """Forwards group messages to the browser and ignores whatever the browser sends."""

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        pass

    async def federation_update(self, message):
        await self.send_json({"federation": message["federation"], "round": message["round"]})


class CatalogConsumer(PushOnlyConsumer):
    """Every federation's updates, for the catalog's rows."""

    groups = [live.CATALOG_GROUP]


@database_sync_to_async
def _current(federation_id: int) -> dict | None:
    federation = selectors.listed_federations().filter(pk=federation_id).first()
    if federation is None:
        return None
    return {"federation": selectors.snapshot(federation), "history": selectors.round_history(federation)}


class FederationConsumer(PushOnlyConsumer):
    """One federation's updates; on (re)connection it first sends the current state and curves."""

    async def connect(self):
        self.federation_id = self.scope["url_route"]["kwargs"]["federation_id"]
        current = await _current(self.federation_id)
        if current is None:
            await self.close(code=4404)
            return
        await self.channel_layer.group_add(live.federation_group(self.federation_id), self.channel_name)
        await self.accept()
        await self.send_json(current)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(live.federation_group(self.federation_id), self.channel_name)
