import importlib.util
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from federations import services
from federations.models import Category, Federation, FlowerApi

EXAMPLES = {
    "digits": {
        "name": "Live demo: handwritten digits",
        "category": Category.IMAGE_CLASSIFICATION,
        "application": "Demo",
        "description": "A small Keras model trained on scikit-learn's bundled handwritten digits, split among "
                       "local clients. Started by `manage.py demo_federation` to watch a live training.",
        "tags": "demo, keras, digits",
        "model_name": "Keras MLP (64-64-10)",
        "data_expected": "8x8 grayscale digits (each client takes a shard of scikit-learn's digits).",
        "compute_needs": "CPU, 1 GB RAM",
    },
    "cifar_mobilenet": {
        "name": "Live demo: MobileNetV2 on CIFAR-10",
        "category": Category.IMAGE_CLASSIFICATION,
        "application": "Demo",
        "description": "The FLer2FLer paper's setup: MobileNetV2 for 32x32x3 images and 10 classes. Uses CIFAR-10 "
                       "from the local Keras cache, or synthetic CIFAR-shaped data when it is absent.",
        "tags": "demo, keras, mobilenetv2, cifar10, paper",
        "model_name": "MobileNetV2 (32x32x3, 10 classes, 2,270,794 parameters)",
        "data_expected": "32x32 RGB images, 10 classes (CIFAR-10).",
        "compute_needs": "CPU, 4 GB RAM",
    },
}


class Command(BaseCommand):
    help = ("Run a demo federation (a Flower server and its clients, as processes) that reports to this portal, "
            "so that its training can be watched live. Needs requirements/ml.txt.")

    def add_arguments(self, parser):
        parser.add_argument("--example", choices=sorted(EXAMPLES), default="digits")
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
        card = EXAMPLES[example]
        server_address = f"127.0.0.1:{port}"
        federation = Federation.objects.filter(name=card["name"]).first()
        content = (settings.BASE_DIR / "flower_integration" / "examples" / example / "Client.py").read_bytes()
        if federation is None:
            federation = services.federation_create(
                client_content=content, server_address=server_address, flower_version="1.42.0",
                flower_api=FlowerApi.LEGACY, privacy_measures="None: demo data only.", license="Apache-2.0",
                owner_contact="demo@f2f.invalid", **card,
            )
        else:
            federation.client_file = services.client_file_store(content=content)
            federation.server_address = server_address
            federation.save()
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
