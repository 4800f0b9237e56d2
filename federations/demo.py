"""Demo catalog data: deterministic, realistic federations for a newcomer's first look and benchmarks.

Federation ``i`` is always the same (its slug is ``demo-<i>``), so seeding is idempotent and
``--count 100000`` can be added on top of an earlier, smaller seed. Each comes with the history its
server would have left: the rounds of its runs (learning curves), its spells of uptime, and a live
state that is the last thing it reported. None is online, since nothing reports for them: the live
part of a demo is a real training (``manage.py demo_federation``).
"""

import math
import random
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from .models import Category, Federation, FlowerApi, LiveState, OnlineSpell, Phase, RoundRecord, Status, TrainingRun
from .services import client_file_store, federation_create, offline_deadline

CLIENTS_DIR = Path(__file__).parent / "demo_clients"
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "flower_integration" / "examples"
# The cards of flower_integration's example federations (manage.py demo_federation, traffic_experiment).
EXAMPLE_CARDS = {
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

# (category, client script, [(model, data expected)], [applications], [subjects])
TASKS = [
    (Category.IMAGE_CLASSIFICATION, "keras_cnn.py",
     [("MobileNetV2 (32x32x3, 10 classes)", "32x32 RGB images with one of 10 labels, as in CIFAR-10."),
      ("ResNet-18", "224x224 RGB photographs, one label each."),
      ("Small CNN (2 conv layers)", "28x28 grayscale images, 10 classes.")],
     ["Healthcare", "Agriculture", "Retail", "Wildlife monitoring", "Manufacturing"],
     ["Chest X-ray triage", "Crop disease", "Shelf products", "Camera-trap species", "Weld defects", "Skin lesions"]),
    (Category.OBJECT_DETECTION, "keras_cnn.py",
     [("SSD MobileNet", "Street-level photos with bounding boxes."), ("YOLO-tiny", "Drone images with boxes.")],
     ["Autonomous driving", "Smart cities", "Logistics"],
     ["Pedestrian detection", "Parcel detection", "Traffic signs"]),
    (Category.LANGUAGE, "keras_sequence.py",
     [("GRU next-word model", "Token id sequences from typed text, never the raw text."),
      ("DistilBERT classifier head", "Short texts tokenized on device.")],
     ["Mobile keyboards", "Customer support", "Healthcare"],
     ["Next-word prediction", "Ticket routing", "Clinical note coding", "Toxicity filter"]),
    (Category.SPEECH, "keras_sequence.py",
     [("Keyword spotting CNN", "1-second audio clips as MFCC frames.")],
     ["Voice assistants", "Accessibility"],
     ["Wake word", "Command recognition", "Speaker-independent digits"]),
    (Category.TABULAR, "keras_mlp.py",
     [("MLP (64-32)", "Numeric feature vectors with a class label."), ("Logistic regression", "Numeric features, binary label.")],
     ["Finance", "Healthcare", "Insurance", "Telecom"],
     ["Fraud detection", "Readmission risk", "Churn prediction", "Credit scoring", "Diabetes onset"]),
    (Category.TIME_SERIES, "keras_sequence.py",
     [("GRU forecaster", "Sensor windows of 60 steps x 8 channels."), ("Temporal CNN", "Smart-meter readings every 15 min.")],
     ["Energy", "IoT", "Industry 4.0", "Healthcare"],
     ["Load forecasting", "Predictive maintenance", "Arrhythmia detection", "HVAC anomaly"]),
    (Category.RECOMMENDATION, "keras_mlp.py",
     [("Two-tower MLP", "Interaction counts per item category.")],
     ["Streaming media", "E-commerce"],
     ["Next video", "Basket completion"]),
]
PLACES = ["Rio", "Campinas", "Recife", "Lisbon", "Porto", "Nairobi", "Lyon", "Osaka", "Quebec", "Tartu", "Bergen", "Cusco"]
PRIVACY = ["Secure aggregation", "Differential privacy (epsilon 8)", "Client-side clipping", ""]
COMPUTE = ["CPU, 2 GB RAM", "CPU, 4 GB RAM", "GPU recommended, 8 GB RAM", "Raspberry Pi 4 or better"]
LICENSES = ["Apache-2.0", "MIT", "CC-BY-4.0", "GPL-3.0"]


def _client_files() -> dict:
    return {path.name: client_file_store(content=path.read_bytes()) for path in sorted(CLIENTS_DIR.glob("*.py"))}


# What the seeded servers did, with weights. None of them is running: their hosts are examples, nothing
# reports for them, so the catalog shows them as a real one shows servers that are not reporting now.
HISTORIES = {"finished": 4, "stopped": 3, "never reported": 2, "waited for clients": 1}


def _curve(rng: random.Random, *, run: str, rounds: int, avg: float, ended) -> list[dict]:
    """A run's finished rounds, as a reporter would have sent them: a falling loss, a rising accuracy; the last
    one finished at ``ended``."""
    loss_start, loss_floor = rng.uniform(1.6, 2.4), rng.uniform(0.1, 0.5)
    accuracy_top, speed = rng.uniform(0.7, 0.97), rng.uniform(0.05, 0.3)
    clients = rng.choice([2, 3, 5, 8])
    durations = [round(max(0.5, rng.gauss(avg, avg * 0.1)), 3) for _ in range(rounds)]
    finished = [ended]  # backwards from the last round, which finished at ``ended``
    for duration in reversed(durations[1:]):
        finished.append(finished[-1] - timedelta(seconds=duration))
    points = []
    for number, (duration, finished_at) in enumerate(zip(durations, reversed(finished)), start=1):
        decay = math.exp(-speed * number)
        points.append({
            "run": run, "number": number, "duration": duration, "finished_at": finished_at,
            "loss": round(loss_floor + (loss_start - loss_floor) * decay + rng.gauss(0, 0.02), 4),
            "metrics": {"accuracy": round(min(1.0, max(0.0, accuracy_top * (1 - decay) + rng.gauss(0, 0.01))), 4)},
            "num_clients": clients, "num_examples": clients * rng.choice([500, 1000, 2000]),
        })
    return points


def build_federation(index: int, *, client_files: dict, now) -> tuple[Federation, LiveState, list, list]:
    """The ``index``-th demo federation, its live state, its runs (name, start, rounds) and its spells of uptime
    (started, ended), unsaved; the same every time (but for ``now``)."""
    rng = random.Random(index)
    category, script, models, applications, subjects = rng.choice(TASKS)
    model_name, data_expected = rng.choice(models)
    application, subject, place = rng.choice(applications), rng.choice(subjects), rng.choice(PLACES)
    created_at = now - timedelta(days=rng.uniform(1, 365))
    total_rounds = rng.choices([10, 20, 30, 50, 100], weights=[3, 3, 2, 2, 1])[0]
    history = rng.choices(list(HISTORIES), weights=list(HISTORIES.values()))[0]
    min_clients = rng.choice([2, 2, 3, 5, 10])
    flower_api = rng.choices([FlowerApi.LEGACY, FlowerApi.SUPERNODE], weights=[3, 1])[0]
    port = 9092 if flower_api == FlowerApi.SUPERNODE else rng.choice([8080, 8443])
    federation = Federation(
        name=f"{place} {subject}",
        slug=f"demo-{index}",
        category=category,
        application=application,
        description=(
            f"{subject} for {application.lower()}, trained across participants in and around {place}. "
            f"Each client trains {model_name} on its own data; only model updates reach the server."
        ),
        tags=", ".join(rng.sample(["keras", "tensorflow", "non-iid", "cross-silo", "cross-device", "fedavg",
                                   "fedprox", "edge", "research", "production"], 3)),
        model_name=model_name,
        data_expected=data_expected,
        flower_version=rng.choice(["1.42.0", "1.41.0", "1.40.0"]),
        flower_api=flower_api,
        privacy_measures=rng.choice(PRIVACY),
        compute_needs=rng.choice(COMPUTE),
        license=rng.choice(LICENSES),
        owner_contact=f"fl-{index}@{place.lower()}.example.org",
        server_address=f"fl{index}.{place.lower()}.example.org:{port}",
        client_file=client_files[script],
        created_at=created_at,
    )
    live = LiveState(status=Status.OFFLINE, phase=Phase.WAITING, total_rounds=total_rounds, min_clients=min_clients,
                     fraction_fit=rng.choice([1.0, 0.5, 0.3]))
    runs, spells = [], []  # runs: (name, start, rounds); spells: (started, ended)
    if history != "never reported":
        # Its server last reported between an hour and a month ago.
        last_update = now - timedelta(seconds=rng.uniform(3600, 86400 * 30))
        live.last_update = last_update
        avg = round(rng.uniform(2, 240), 1)
        completed = {"finished": total_rounds, "stopped": rng.randrange(1, total_rounds),
                     "waited for clients": 0}[history]
        current = _curve(rng, run=f"demo-{index}-b", rounds=completed, avg=avg, ended=last_update)
        # The run started when its server did: its clients then took a little while to come.
        first_round = current[0]["finished_at"] - timedelta(seconds=current[0]["duration"]) if current else last_update
        run_start = first_round - timedelta(seconds=rng.uniform(5, 120))
        runs.append((f"demo-{index}-b", run_start, current))
        spells.append((run_start, last_update))
        if completed and rng.random() < 0.2:  # a short first attempt, a day before
            earlier = _curve(rng, run=f"demo-{index}-a", rounds=rng.randrange(1, 6), avg=avg,
                             ended=run_start - timedelta(days=1))
            earlier_start = earlier[0]["finished_at"] - timedelta(seconds=earlier[0]["duration"] + rng.uniform(5, 120))
            runs.insert(0, (f"demo-{index}-a", earlier_start, earlier))
            spells.insert(0, (earlier_start, earlier[-1]["finished_at"]))
        # Listed before its server first reported.
        federation.created_at = min(created_at, spells[0][0] - timedelta(hours=rng.uniform(1, 48)))
        live.current_run, live.run_started = f"demo-{index}-b", int(run_start.timestamp() * 1000)
        everything = [point for _, _, points in runs for point in points]
        live.phase = {"finished": Phase.FINISHED, "stopped": Phase.TRAINING, "waited for clients": Phase.WAITING}[history]
        live.current_round = completed + (history == "stopped")
        live.connected_clients = rng.randrange(1, min_clients) if history == "waited for clients" else min_clients
        live.completed_rounds = len(everything)
        live.avg_round_duration = sum(r["duration"] for r in everything) / len(everything) if everything else None
        live.run_rounds = len(current)
        live.run_avg_duration = sum(r["duration"] for r in current) / len(current) if current else None
        live.offline_after = offline_deadline(last_update=last_update, avg_round_duration=live.avg_round_duration)
        live.live_version = len(everything) + 2
    federation.download_count = int(rng.paretovariate(1.2) * 3) + live.completed_rounds
    federation.search_document = federation.build_search_document()
    return federation, live, runs, spells


def seed(count: int, *, batch_size: int = 2000) -> int:
    """Make sure demo federations 1..count exist, each with its history; returns how many were added."""
    client_files = _client_files()
    now = timezone.now()
    added = 0
    for start in range(1, count + 1, batch_size):
        slugs = [f"demo-{i}" for i in range(start, min(start + batch_size, count + 1))]
        there = set(Federation.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        batch = [build_federation(int(slug[5:]), client_files=client_files, now=now) for slug in slugs
                 if slug not in there]
        if not batch:
            continue
        with transaction.atomic():  # a federation is seeded with all of its history, or not at all
            # bulk_create bypasses Federation.save(), which adds the live states: add them here.
            Federation.objects.bulk_create([federation for federation, *_ in batch])
            ids = dict(Federation.objects.filter(slug__in=[f.slug for f, *_ in batch]).values_list("slug", "id"))
            runs, records, spells = [], [], []
            for federation, live, federation_runs, federation_spells in batch:
                live.federation_id = federation_id = ids[federation.slug]
                for name, started, points in federation_runs:
                    records += [RoundRecord(federation_id=federation_id, **point) for point in points]
                    if points:  # a run is recorded with its first stored round, as the ingest does
                        runs.append(TrainingRun(
                            federation_id=federation_id, name=name, first_seen=points[0]["finished_at"],
                            started=int(started.timestamp() * 1000), rounds_stored=len(points),
                            rounds_completed=len(points), duration_total=sum(point["duration"] for point in points),
                            last_round_at=points[-1]["finished_at"]))
                spells += [OnlineSpell(federation_id=federation_id, started=started, ended=ended)
                           for started, ended in federation_spells if ended > now - timedelta(days=30)]
            LiveState.objects.bulk_create([live for _, live, *_ in batch])
            TrainingRun.objects.bulk_create(runs, batch_size=5000)
            RoundRecord.objects.bulk_create(records, batch_size=5000)
            OnlineSpell.objects.bulk_create(spells, batch_size=5000)
        added += len(batch)
    return added


def example_federation(*, card: dict, example: str, server_address: str) -> Federation:
    """The federation of one of ``flower_integration``'s examples, by its card's name: listed once, then kept
    up to date (its client script, as the example has it now, and where its server listens)."""
    content = (EXAMPLES_DIR / example / "Client.py").read_bytes()
    federation = Federation.objects.filter(name=card["name"]).first()
    if federation is None:
        return federation_create(
            client_content=content, server_address=server_address, flower_version="1.42.0",
            flower_api=FlowerApi.LEGACY, privacy_measures="None: demo data only.", license="Apache-2.0",
            owner_contact="demo@f2f.invalid", **card)
    federation.client_file = client_file_store(content=content)
    federation.server_address = server_address
    federation.save()
    return federation
