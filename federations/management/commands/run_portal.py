import hashlib
import os
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from f2f_site import collector

# In the var dir: the fingerprint of the static sources as of the last complete collectstatic.
STATIC_STAMP = "collectstatic.stamp"


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
        parser.add_argument("--prepare", action="store_true",
                            help="first migrate, collect the static files (unless their sources are unchanged since "
                                 "the last collection), add demo federations to an empty catalog and ensure the "
                                 "operator account, all in this process (what scripts/run does)")

    def handle(self, *args, host, port, no_workers, proxy_headers, access_log, prepare, **options):
        if prepare:
            self.prepare()

        from daphne.access import AccessLogGenerator
        from daphne.server import twisted_loop

        from f2f_site.asgi import application  # after prepare: whitenoise lists the collected files now
        from f2f_site.limits import CappedServer
        from federations import ingest, live

        live.bind_event_loop(twisted_loop)  # threads hand their pushes to the server's loop
        ingest.write_in_a_process()  # the ingest's writes on a core of their own (federations.writer)

        if settings.F2F_EMBEDDED_WORKERS and not no_workers:
            from f2f_site import embedded

            embedded.start_workers()
        collector.settle()
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

    def prepare(self) -> None:
        """The steps before serving, in this one process: starting Python and Django once for all of them is
        most of what a start costs. A step that fails stops the start with its own error."""
        steps = {
            "migrate": lambda: call_command("migrate", interactive=False, verbosity=0),
            "collectstatic": collect_static,
            "seed_demo --if-empty": lambda: call_command("seed_demo", if_empty=True, stdout=self.stdout),
            "ensure_operator": lambda: call_command("ensure_operator", stdout=self.stdout),
        }
        for name, step in steps.items():
            try:
                step()
            except Exception:
                self.stderr.write(f"The portal did not start: {name} failed.")
                raise
        connections.close_all()  # the server's threads open their own


def static_sources_fingerprint() -> str:
    """What collectstatic's output depends on: where and how it stores, and every source file it would
    copy, by path, size and modification time (stat calls only: hashing the files is what we avoid)."""
    lines = [repr(settings.STORAGES["staticfiles"])]
    names = [name for name in dir(settings) if name.startswith(("STATIC", "WHITENOISE_"))]
    lines += [f"{name}={getattr(settings, name)!r}" for name in names]
    ignore_patterns = apps.get_app_config("staticfiles").ignore_patterns
    for finder in get_finders():
        for path, source in finder.list(ignore_patterns):
            stat = os.stat(source.path(path))
            prefix = getattr(source, "prefix", None) or ""
            lines.append(f"{prefix}/{path} {source.path(path)} {stat.st_size} {stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def collect_static() -> bool:
    """collectstatic, skipped when the sources are those of the last complete collection. Returns
    whether it ran. The manifest storage hashes and compresses every file on each run (seconds), even
    when nothing changed, so this is most of a start that finds nothing to do."""
    stamp = Path(settings.VAR_DIR) / STATIC_STAMP
    fingerprint = static_sources_fingerprint()
    if Path(settings.STATIC_ROOT).is_dir() and stamp.is_file() and stamp.read_text() == fingerprint:
        return False
    stamp.unlink(missing_ok=True)  # an interrupted collection is not a complete one
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)
    return True
