"""The Socket.IO server that federation servers report to, mounted at /socket.io/ in the ASGI app.

A connection authenticates once, in the Socket.IO ``auth`` payload (``federation`` id and
``token``); the federation is then bound to the session and nothing in an event can name
another. Each event is throttled per federation, checked against ``protocol`` and applied by
``services.federation_apply_event``. Every event is acknowledged with ``{"ok": true}`` or
``{"ok": false, "error": ...}`` so that the reporter knows what to resend.
"""

import logging
import time

import socketio
from channels.db import database_sync_to_async

from f2f_site import __version__ as portal_version

from . import protocol, services

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
RETRY_LATER = "unavailable: try again later"  # the reporter resends events answered with this
EVENTS_PER_SECOND = 20.0
EVENT_BURST = 60

sio = socketio.AsyncServer(
    async_mode="asgi",
    # Same origin only (engineio's default, proxy headers included): reporters send their own
    # target as Origin; pages of other sites are refused. Note that [] would disable the check.
    cors_allowed_origins=None,
    max_http_buffer_size=MAX_FRAME_BYTES,
    logger=False,
    engineio_logger=False,
)


class TokenBucket:
    """Allows ``rate`` events a second on average, ``burst`` at once."""

    def __init__(self, rate: float = EVENTS_PER_SECOND, burst: int = EVENT_BURST):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


# One bucket per federation in this process, shared by all of its connections.
_buckets: dict[int, TokenBucket] = {}


@sio.event
async def connect(sid, environ, auth):
    auth = auth if isinstance(auth, dict) else {}
    federation_id = auth.get("federation")
    token_id = await database_sync_to_async(services.reporting_token_authenticate)(
        federation_id=federation_id, token=auth.get("token")
    )
    if token_id is None:
        raise socketio.exceptions.ConnectionRefusedError("unknown federation or invalid token")
    await sio.save_session(sid, {"federation_id": federation_id, "token_id": token_id})
    logger.info("Federation %s connected to report (sid %s)", federation_id, sid)


@sio.event
async def health(sid, data=None):
    """Answers a reporter's liveness probe."""
    return {"ok": True, "service": "f2f-indexer", "version": portal_version}


async def _disconnect_after_ack(sid):
    await sio.sleep(0.1)
    await sio.disconnect(sid)


async def _apply(sid, kind, data):
    session = await sio.get_session(sid)
    federation_id = session["federation_id"]
    if not _buckets.setdefault(federation_id, TokenBucket()).take():
        return {"ok": False, "error": "throttled: slow down"}
    try:
        event = protocol.PARSERS[kind](data)
    except protocol.ProtocolError as error:
        return {"ok": False, "error": str(error)}
    try:
        await database_sync_to_async(services.federation_apply_event)(
            federation_id=federation_id, token_id=session["token_id"], event=event
        )
    except services.TokenRevoked:
        sio.start_background_task(_disconnect_after_ack, sid)
        return {"ok": False, "error": "token revoked"}
    except Exception:
        logger.exception("Applying a %s event of federation %s failed", kind, federation_id)
        return {"ok": False, "error": RETRY_LATER}
    return {"ok": True}


@sio.on("state")
async def state(sid, data):
    return await _apply(sid, "state", data)


@sio.on("round")
async def round_finished(sid, data):
    return await _apply(sid, "round", data)


@sio.on("final")
async def final(sid, data):
    return await _apply(sid, "final", data)
