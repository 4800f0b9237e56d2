"""The Socket.IO server that federation servers report to, mounted at /socket.io/ in the ASGI app.

A connection authenticates once, in the Socket.IO ``auth`` payload (``federation`` id and
``token``); the federation is then bound to the session and nothing in an event can name
another. Each event is throttled per federation, checked against ``protocol`` and applied by
``services.federation_apply_event``. Every event is acknowledged with ``{"ok": true}`` or
``{"ok": false, "error": ...}`` so that the reporter knows what to resend.

The limits (``Throttle``) are counted in Redis when the portal has one, so that every portal
process serving the ingest shares them; in the embedded mode there is one process, and they
are counted in its memory.
"""

import asyncio
import ipaddress
import logging

import socketio
from channels.db import database_sync_to_async
from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from f2f_site import __version__ as portal_version

from . import protocol, services

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024

sio = socketio.AsyncServer(
    async_mode="asgi",
    # Same origin only (engineio's default, proxy headers included): reporters send their own
    # target as Origin; pages of other sites are refused. Note that [] would disable the check.
    cors_allowed_origins=None,
    max_http_buffer_size=MAX_FRAME_BYTES,
    logger=False,
    engineio_logger=False,
)


class Throttle:
    """The ingest's limits: events per federation, failed connection attempts per client address.

    A moving window: at most ``settings.F2F_INGEST_EVENTS`` events of one federation in any
    ``F2F_INGEST_EVENTS_SECONDS``, whichever connection or process they come through.
    """

    KEY_PREFIX = "f2f"

    def __init__(self, storage):
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.events = RateLimitItemPerSecond(settings.F2F_INGEST_EVENTS, settings.F2F_INGEST_EVENTS_SECONDS)
        self.auth_failures = RateLimitItemPerSecond(
            settings.F2F_INGEST_AUTH_FAILURES, settings.F2F_INGEST_AUTH_FAILURES_SECONDS
        )

    @classmethod
    def from_settings(cls) -> "Throttle":
        if settings.REDIS_URL:
            return cls(RedisStorage(f"async+{settings.REDIS_URL}", implementation="redispy", key_prefix=cls.KEY_PREFIX))
        return cls(MemoryStorage())

    async def take_event(self, federation_id: int) -> bool:
        """Count one event of the federation; False when it is over its limit (nothing counted then)."""
        return await self.limiter.hit(self.events, "ingest-events", str(federation_id))

    async def address_blocked(self, address: str) -> bool:
        return not await self.limiter.test(self.auth_failures, "ingest-auth-failures", address)

    async def count_failure(self, address: str) -> None:
        await self.limiter.hit(self.auth_failures, "ingest-auth-failures", address)


_throttle: tuple[asyncio.AbstractEventLoop, Throttle] | None = None


def throttle() -> Throttle:
    """The throttle of the running event loop (the Redis client's connections belong to one loop)."""
    global _throttle
    loop = asyncio.get_running_loop()
    if _throttle is None or _throttle[0] is not loop:
        _throttle = (loop, Throttle.from_settings())
    return _throttle[1]


def client_address(environ) -> str:
    """The address that failed connection attempts are counted against.

    The peer's, unless the peer is one of ``settings.F2F_TRUSTED_PROXIES``: then the nearest
    address in X-Forwarded-For that is not a trusted proxy (proxies append, so only the part a
    trusted proxy wrote is believed). IPv6 clients count per /64, the block one host usually holds.
    """
    client = environ.get("asgi.scope", {}).get("client") or ("unknown", 0)
    hops = [client[0]] + [hop.strip() for hop in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(","))]
    address = None
    for hop in hops:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            break  # what follows a hop we cannot read is not believed
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not any(address in network for network in settings.F2F_TRUSTED_PROXIES):
            break
    if address is None:
        return str(client[0])
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4, not a /64 shared by all
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@sio.event
async def connect(sid, environ, auth):
    address = client_address(environ)
    try:
        auth = auth if isinstance(auth, dict) else {}
        federation_id = auth.get("federation")
        # Failures count per address and federation: reporters behind one proxy or NAT are not locked out
        # by someone failing against another federation from the same address.
        address = f"{address} federation {str(federation_id)[:24]}"
        if await throttle().address_blocked(address):
            raise socketio.exceptions.ConnectionRefusedError(protocol.REFUSED_ADDRESS)
        token_id = await database_sync_to_async(services.reporting_token_authenticate)(
            federation_id=federation_id, token=auth.get("token")
        )
        if token_id is None:
            await throttle().count_failure(address)
            logger.info("Refused a reporting connection from %s: %s", address, protocol.REFUSED_TOKEN)
            raise socketio.exceptions.ConnectionRefusedError(protocol.REFUSED_TOKEN)
    except socketio.exceptions.ConnectionRefusedError:
        raise
    except Exception:
        logger.exception("Checking a reporting connection from %s failed", address)
        raise socketio.exceptions.ConnectionRefusedError(protocol.RETRY_LATER) from None
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
    try:
        if not await throttle().take_event(federation_id):
            return {"ok": False, "error": protocol.THROTTLED}
        event = protocol.PARSERS[kind](data)
        applied = await database_sync_to_async(services.federation_apply_event)(
            federation_id=federation_id, token_id=session["token_id"], event=event
        )
    except protocol.ProtocolError as error:
        return {"ok": False, "error": str(error)}
    except services.TokenRevoked:
        sio.start_background_task(_disconnect_after_ack, sid)
        return {"ok": False, "error": protocol.TOKEN_REVOKED}
    except Exception:
        logger.exception("Applying a %s event of federation %s failed", kind, federation_id)
        return {"ok": False, "error": protocol.RETRY_LATER}
    # Received and kept, or received and behind what the Indexer already has: either way, not to be resent.
    return {"ok": True} if applied else {"ok": True, "stale": True}


@sio.on("state")
async def state(sid, data):
    return await _apply(sid, "state", data)


@sio.on("round")
async def round_finished(sid, data):
    return await _apply(sid, "round", data)


@sio.on("final")
async def final(sid, data):
    return await _apply(sid, "final", data)
