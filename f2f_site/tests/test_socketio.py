import socketio

from f2f_site import __version__
from federations import services


def test_the_socketio_ingest_is_mounted_in_the_asgi_app_served_by_daphne(live_portal, federation):
    token = services.reporting_token_issue(federation=federation)
    client = socketio.Client()
    client.connect(live_portal.url, auth={"federation": federation.pk, "token": token}, transports=["websocket"],
                   wait_timeout=10)
    try:
        assert client.call("health", timeout=10) == {"ok": True, "service": "f2f-indexer", "version": __version__}
    finally:
        client.disconnect()
