from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the portal (HTTP, browser WebSockets, Socket.IO ingest) with daphne. In the embedded "
        "mode (no REDIS_URL) the Celery worker and beat run inside this process too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.F2F_HOST)
        parser.add_argument("--port", type=int, default=settings.F2F_PORT)
        parser.add_argument("--no-workers", action="store_true", help="do not start embedded Celery threads")

    def handle(self, *args, host, port, no_workers, **options):
        from daphne.server import Server, twisted_loop

        from f2f_site.asgi import application
        from federations import live

        if settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer":
            live.bind_event_loop(twisted_loop)

        if settings.F2F_EMBEDDED_WORKERS and not no_workers:
            from f2f_site import embedded

            embedded.start_workers()
        self.stdout.write(f"F2F portal on http://{host}:{port}/  (Ctrl+C to stop)", ending="\n")
        self.stdout.flush()
        Server(application=application, endpoints=[f"tcp:port={port}:interface={host}"], verbosity=0).run()
