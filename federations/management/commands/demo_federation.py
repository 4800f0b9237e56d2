import importlib.util
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from federations import demo, services


class Command(BaseCommand):
    help = ("Run a demo federation (a Flower server and its clients, as processes) that reports to this portal, "
            "so that its training can be watched live. Needs requirements/ml.txt.")

    def add_arguments(self, parser):
        parser.add_argument("--example", choices=sorted(demo.EXAMPLE_CARDS), default="digits")
        parser.add_argument("--clients", type=int, default=2)
        parser.add_argument("--rounds", type=int, default=30)
        parser.add_argument("--port", type=int, default=9080, help="the Flower server's port (not the portal's)")
        parser.add_argument("--indexer", default=f"http://{settings.F2F_HOST}:{settings.F2F_PORT}",
                            help="the running portal's URL")
        parser.add_argument("--verbose", action="store_true",
                            help="also show TensorFlow's and Flower's start-up notices")

    def handle(self, *args, example, clients, rounds, port, indexer, verbose, **options):
        # Found, not imported: importing TensorFlow here would print its start-up notices, which the demo's
        # children keep out of the output (flower_integration.demo), and cost this process two seconds.
        if not all(importlib.util.find_spec(name) for name in ("flwr", "tensorflow")):
            raise CommandError("The demo needs Flower and TensorFlow: .venv/bin/pip install -r requirements/ml.txt")
        federation = demo.example_federation(card=demo.EXAMPLE_CARDS[example], example=example,
                                             server_address=f"127.0.0.1:{port}")
        token = services.reporting_token_issue(federation=federation)
        self.stdout.write(f"Watch it at {indexer}{federation.get_absolute_url()}")
        command = [sys.executable, "-m", "flower_integration.demo", "--example", example, "--clients", str(clients),
                   "--rounds", str(rounds), "--port", str(port), "--indexer", indexer,
                   "--federation", str(federation.pk), "--token", token, *(["--verbose"] if verbose else [])]
        process = subprocess.Popen(command, cwd=settings.BASE_DIR)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            process.wait()
            code = 130
        if code:
            raise CommandError(f"the demo federation exited with status {code}")
