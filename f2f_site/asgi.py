"""The one ASGI application: Socket.IO for federation servers, Channels for browsers, Django for HTTP.

Serve it with ``manage.py run_portal``: request bodies are capped by that server while it reads
them (f2f_site.limits), because by the time this application runs daphne has read them whole.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "f2f_site.settings.local")

from f2f_site.handler import get_asgi_application  # noqa: E402  (reuses threads, so DB connections)

django_asgi_app = get_asgi_application()

import socketio  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from federations import routing as federation_routing  # noqa: E402
from federations.ingest import sio  # noqa: E402

channels_app = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(federation_routing.websocket_urlpatterns))
        ),
    }
)

application = socketio.ASGIApp(sio, other_asgi_app=channels_app, socketio_path="socket.io")
