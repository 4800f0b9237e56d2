"""Pushes of federation state to open pages through the Channels layer.

The database is the truth and pages refetch it when they reconnect, so a push is
best-effort: one that fails is logged and never raised into the write that caused it.
Call ``push_after_commit`` inside a transaction: the push leaves only once the write is visible.
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import selectors

logger = logging.getLogger(__name__)

CATALOG_GROUP = "catalog"

# The in-memory channel layer's queues belong to the server's event loop; threads without it
# (the embedded Celery worker) must hand their sends to that loop. See ``bind_event_loop``.
_layer_loop: asyncio.AbstractEventLoop | None = None


def bind_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Route pushes through ``loop``: needed when the layer is in-memory and other threads push."""
    global _layer_loop
    _layer_loop = loop


def _group_send(layer, group: str, message: dict) -> None:
    if _layer_loop is None:
        async_to_sync(layer.group_send)(group, message)
    else:
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _layer_loop).result(timeout=10)


def federation_group(federation_id: int) -> str:
    return f"federation.{federation_id}"


def push(federation_ids, *, round_point: dict | None = None) -> None:
    """Send the current state of each federation to the catalog and to its own page."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for snapshot in selectors.federation_snapshots(federation_ids):
            message = {"type": "federation.update", "federation": snapshot, "round": round_point}
            _group_send(layer, CATALOG_GROUP, message)
            _group_send(layer, federation_group(snapshot["id"]), message)
    except Exception:
        logger.exception("Live push of federations %s failed; pages will catch up on reconnect", federation_ids)


def push_after_commit(federation_ids, *, round_point: dict | None = None) -> None:
    ids = list(federation_ids)
    if ids:
        transaction.on_commit(lambda: push(ids, round_point=round_point))
