"""``manage.py traffic_experiment``: the paper's experiment (its Figure 4) on this machine, in one command.

Registers one federation per server through the project's own services, starts a portal on a free
port (or uses ``--indexer``), runs every scenario (``flower_integration.experiment``) and writes
the table (text and CSV), each server's counts and the figure under ``var/experiments/<time>/``.
"""

import importlib.util
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from federations import demo, services
from flower_integration import experiment
from flower_integration.demo import Interrupted, free_port, interrupt_signals, stop, wait_until_listening

MAX_FEDERATIONS = 5  # the paper's largest scenario


def indexer_address(url: str) -> tuple[str, int]:
    """Where a running portal listens, from its ``http://host[:port]`` URL (the relay in front of it speaks plain
    TCP: an https portal would be counted as its TLS bytes, which the experiment does not estimate)."""
    address = urlsplit(url)
    if address.scheme != "http" or not address.hostname:
        raise CommandError(f"--indexer takes a portal's http://host:port URL, not {url!r}")
    return address.hostname, address.port or 80


def scenarios(text: str) -> list[int]:
    """``3`` or ``1..5``: the numbers of federations to run at once, one scenario each."""
    match = re.fullmatch(r"(\d+)(?:\.\.(\d+))?", text.strip())
    if not match:
        raise CommandError(f"--federations takes a number or a range such as 1..5, not {text!r}")
    first, last = int(match[1]), int(match[2] or match[1])
    if not 1 <= first <= last <= MAX_FEDERATIONS:
        raise CommandError(f"--federations must lie within 1..{MAX_FEDERATIONS}, first <= last")
    return list(range(first, last + 1))


class Command(BaseCommand):
    help = ("Measure the Indexer's traffic against Flower's: 1 to 5 federations at once, each a Flower server and "
            "its clients reporting to this portal. Needs requirements/ml.txt.")

    def add_arguments(self, parser):
        parser.add_argument("--federations", default="1..5", help="a number, or a range such as 1..5")
        parser.add_argument("--clients", type=int, default=2, help="clients per federation")
        parser.add_argument("--rounds", type=int, default=2)
        parser.add_argument("--repeats", type=int, default=1, help="runs of every scenario (the paper: 5)")
        parser.add_argument("--model", choices=sorted(experiment.MODELS), default="mobilenetv2")
        parser.add_argument("--samples", type=int, default=100,
                            help="training images per MobileNetV2 client (CIFAR-10 if cached, else synthetic)")
        parser.add_argument("--indexer", help="a running portal's URL (default: start one on a free port)")
        parser.add_argument("--out", help="where to write (default: var/experiments/<time>)")

    def handle(self, *args, federations, clients, rounds, repeats, model, samples, indexer, out, **options):
        if not all(importlib.util.find_spec(name) for name in ("flwr", "tensorflow", "matplotlib")):
            raise CommandError("The experiment needs Flower, TensorFlow and matplotlib: "
                               ".venv/bin/pip install -r requirements/ml.txt")
        counts = scenarios(federations)
        for name, value, least in (("--clients", clients, 1), ("--rounds", rounds, 1), ("--repeats", repeats, 1),
                                   ("--samples", samples, 1)):
            if value < least:
                raise CommandError(f"{name} must be at least {least}")
        out = Path(out) if out else Path(settings.VAR_DIR) / "experiments" / datetime.now().strftime("%Y%m%d-%H%M%S")
        out.mkdir(parents=True, exist_ok=True)
        target = indexer_address(indexer) if indexer else None
        credentials = self.federations(max(counts), model)
        portal = []
        with interrupt_signals():
            try:
                if target is None:
                    target = self.start_portal(out, portal)
                results = experiment.run(
                    credentials, scenarios=counts, repeats=repeats, indexer=target, model=model, clients=clients,
                    rounds=rounds, samples=samples, out=out, progress=experiment.Progress(len(counts) * repeats))
            except (KeyboardInterrupt, Interrupted):
                raise CommandError("interrupted: every process the experiment started is stopped") from None
            finally:
                stop(portal, grace=30)
        lines = experiment.rows(results, rounds=rounds)
        experiment.write_csv(lines, out / "table.csv")
        experiment.write_servers_csv(results, out / "servers.csv")
        experiment.write_indexer_csv(results, out / "indexer.csv")
        experiment.write_figure(lines, out / "figure.png")
        text = experiment.table(lines)
        (out / "table.txt").write_text(text + "\n")
        self.stdout.write(text)
        self.stdout.write(f"\nWire bytes (Ethernet estimate, see docs/experiment.md); written to {out}")
        failed = [scenario for scenario in results if not scenario.ok]
        if failed:
            raise CommandError(f"{len(failed)} scenario runs did not complete: see {out / 'logs'}")

    def federations(self, count: int, model: str) -> list:
        example, _ = experiment.MODELS[model]
        credentials = []
        for index in range(1, count + 1):
            card = {**demo.EXAMPLE_CARDS[example], "name": f"Traffic experiment {index}: {model}",
                    "tags": f"experiment, {model}", "application": "Experiment",
                    "description": "Run by manage.py traffic_experiment, which measures the Indexer's traffic "
                                   "against Flower's. Its server listens on the machine that runs the experiment, "
                                   "on a free port each time: the address above is a placeholder."}
            federation = demo.example_federation(card=card, example=example, server_address="127.0.0.1:8080")
            credentials.append(experiment.Credentials(federation.pk, services.reporting_token_issue(federation=federation)))
        return credentials

    def start_portal(self, out: Path, started: list) -> tuple[str, int]:
        """A portal on a free port, on this command's settings and database (its process goes in ``started``,
        for the caller to stop whatever happens next); where it listens."""
        port = free_port()
        with open(out / "portal.log", "wb") as log:
            started.append(subprocess.Popen(
                [sys.executable, "manage.py", "run_portal", "--port", str(port), "--no-workers"],
                cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        if not wait_until_listening(port, started[0], timeout=120):
            raise CommandError(f"the portal did not start: see {out / 'portal.log'}")
        return "127.0.0.1", port

