"""The ceiling for bench/ingest.py: python-socketio under daphne doing the minimum.

It accepts any connection and acknowledges every event at once, exactly as the portal's ingest
is reached (same server, same Socket.IO path and options), so the difference between the two is
what the portal does with an event.

    .venv/bin/daphne -p 8601 bench.bare_ingest:application
"""

import socketio

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=None, logger=False, engineio_logger=False)
application = socketio.ASGIApp(sio, socketio_path="socket.io")


@sio.event
async def connect(sid, environ, auth):
    return True


@sio.on("*")
async def acknowledge(event, sid, data=None):
    return {"ok": True}
