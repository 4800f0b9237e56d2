"""The Socket.IO server that federation servers report to, mounted at /socket.io/ in the ASGI app."""

import socketio

from f2f_site import __version__ as portal_version

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[], logger=False, engineio_logger=False)


@sio.event
async def health(sid, data=None):
    """Answers a reporter's liveness probe; proves the Socket.IO mount is wired."""
    return {"ok": True, "service": "f2f-indexer", "version": portal_version}
