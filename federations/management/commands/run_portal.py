import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the portal (HTTP, browser WebSockets, Socket.IO ingest) with daphne, request bodies "
        "capped at F2F_MAX_REQUEST_BYTES while they are read. In the embedded mode (no REDIS_URL) "
        "the Celery worker and beat run inside this process too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.F2F_HOST)
        parser.add_argument("--port", type=int, default=settings.F2F_PORT)
        parser.add_argument("--no-workers", action="store_true", help="do not start embedded Celery threads")
        parser.add_argument("--proxy-headers", action="store_true",
                            help="take the client's address and scheme from X-Forwarded-* (only behind a proxy "
                                 "that overwrites them: daphne believes the leftmost X-Forwarded-For; the ingest's "
                                 "limits use F2F_TRUSTED_PROXIES instead)")
        parser.add_argument("--access-log", action="store_true", help="log every request to stdout")

    def handle(self, *args, host, port, no_workers, proxy_headers, access_log, **options):
        from daphne.access import AccessLogGenerator
        from daphne.server import twisted_loop

        from f2f_site.asgi import application
        from f2f_site.limits import CappedServer
        from federations import live

        live.bind_event_loop(twisted_loop)  # threads hand their pushes to the server's loop

        if settings.F2F_EMBEDDED_WORKERS and not no_workers:
            from f2f_site import embedded

            embedded.start_workers()
        self.stdout.write(f"F2F portal on http://{host}:{port}/  (Ctrl+C to stop)", ending="\n")
        self.stdout.flush()
        CappedServer(
            application=application,
            endpoints=[f"tcp:port={port}:interface={host}"],
            max_request_bytes=settings.F2F_MAX_REQUEST_BYTES,
            proxy_forwarded_address_header="X-Forwarded-For" if proxy_headers else None,
            proxy_forwarded_port_header="X-Forwarded-Port" if proxy_headers else None,
            proxy_forwarded_proto_header="X-Forwarded-Proto" if proxy_headers else None,
            action_logger=AccessLogGenerator(sys.stdout) if access_log else None,
            verbosity=0,
        ).run()
