"""Demo catalog data: deterministic, realistic federations for a newcomer's first look and benchmarks.

Federation ``i`` is always the same (its slug is ``demo-<i>``), so seeding is idempotent and
``--count 100000`` can be added on top of an earlier, smaller seed.
"""

import random
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from .models import Category, Federation, FlowerApi, LiveState, OnlineSpell, Phase, Status
from .services import client_file_store, offline_deadline

CLIENTS_DIR = Path(__file__).parent / "demo_clients"

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


def build_federation(index: int, *, client_files: dict, now) -> tuple[Federation, LiveState]:
    """The ``index``-th demo federation and its live state, unsaved; the same every time."""
    rng = random.Random(index)
    category, script, models, applications, subjects = rng.choice(TASKS)
    model_name, data_expected = rng.choice(models)
    application, subject, place = rng.choice(applications), rng.choice(subjects), rng.choice(PLACES)
    created_at = now - timedelta(days=rng.uniform(0, 365))
    total_rounds = rng.choice([10, 20, 50, 100, 200])
    state = rng.choices(["training", "finished", "waiting", "offline"], weights=[4, 3, 1, 2])[0]
    completed = {"training": rng.randrange(1, total_rounds), "finished": total_rounds, "waiting": 0,
                 "offline": rng.randrange(0, total_rounds)}[state]
    avg = round(rng.uniform(2, 240), 1) if completed else None
    last_update = None
    if state != "waiting" or rng.random() < 0.5:
        ago = rng.uniform(5, 600) if state in ("training", "waiting") else rng.uniform(3600, 86400 * 30)
        last_update = now - timedelta(seconds=ago)
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
    live = LiveState(
        status=Status.ONLINE if state in ("training", "waiting") else Status.OFFLINE,
        phase={"training": Phase.TRAINING, "finished": Phase.FINISHED, "waiting": Phase.WAITING,
               "offline": Phase.TRAINING}[state],
        current_round=min(completed + (state == "training"), total_rounds),
        total_rounds=total_rounds,
        connected_clients=rng.randrange(min_clients, min_clients * 3) if state == "training" else 0,
        min_clients=min_clients,
        fraction_fit=rng.choice([1.0, 0.5, 0.3]),
        completed_rounds=completed,
        avg_round_duration=avg,
        last_update=last_update,
        offline_after=offline_deadline(last_update=last_update, avg_round_duration=avg) if last_update else None,
    )
    federation.download_count = int(rng.paretovariate(1.2) * 3) + completed
    federation.search_document = federation.build_search_document()
    return federation, live


def seed(count: int, *, batch_size: int = 2000) -> int:
    """Make sure demo federations 1..count exist; returns how many were added."""
    client_files = _client_files()
    now = timezone.now()
    before = Federation.objects.filter(slug__startswith="demo-").count()
    for start in range(1, count + 1, batch_size):
        batch = [build_federation(i, client_files=client_files, now=now)
                 for i in range(start, min(start + batch_size, count + 1))]
        # bulk_create bypasses Federation.save(), which adds the live states: add them here.
        Federation.objects.bulk_create([federation for federation, _ in batch], ignore_conflicts=True)
        ids = dict(Federation.objects.filter(slug__in=[f.slug for f, _ in batch]).values_list("slug", "id"))
        for federation, live in batch:
            live.federation_id = ids[federation.slug]
        LiveState.objects.bulk_create([live for _, live in batch], ignore_conflicts=True)
        # Online ones have been so for a while, as a real server would (uptime starts with their spell).
        with_spells = set(OnlineSpell.objects.filter(federation_id__in=ids.values()).values_list("federation_id", flat=True))
        OnlineSpell.objects.bulk_create([
            OnlineSpell(federation_id=live.federation_id,
                        started=(live.last_update or now) - timedelta(hours=random.Random(live.federation_id).uniform(1, 480)))
            for _, live in batch if live.status == Status.ONLINE and live.federation_id not in with_spells])
    return Federation.objects.filter(slug__startswith="demo-").count() - before
