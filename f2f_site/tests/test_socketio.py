import socketio

from f2f_site import __version__


def test_the_socketio_ingest_is_mounted_in_the_asgi_app_served_by_daphne(live_portal):
    client = socketio.Client()
    client.connect(live_portal.url, transports=["websocket"], wait_timeout=10)
    try:
        assert client.call("health", timeout=10) == {"ok": True, "service": "f2f-indexer", "version": __version__}
    finally:
        client.disconnect()
