from django.db import models, router, transaction
from django.urls import reverse
from django.utils import timezone

from . import search
from .validators import validate_flower_version, validate_server_address


class Category(models.TextChoices):
    IMAGE_CLASSIFICATION = "image-classification", "Image classification"
    OBJECT_DETECTION = "object-detection", "Object detection"
    SEGMENTATION = "segmentation", "Segmentation"
    LANGUAGE = "language", "Natural language"
    SPEECH = "speech", "Speech and audio"
    TABULAR = "tabular", "Tabular"
    TIME_SERIES = "time-series", "Time series"
    RECOMMENDATION = "recommendation", "Recommendation"
    OTHER = "other", "Other"


class FlowerApi(models.TextChoices):
    LEGACY = "legacy", "Legacy start_client script"
    SUPERNODE = "supernode", "Modern SuperNode (ClientApp)"


class Status(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"


class Phase(models.TextChoices):
    WAITING = "waiting", "Waiting for clients"
    TRAINING = "training", "Training"
    EVALUATING = "evaluating", "Evaluating"
    FINISHED = "finished", "Finished"


class ClientFile(models.Model):
    """A client script exactly as handed to people who join; stored once per content."""

    content = models.BinaryField()
    sha256 = models.CharField("SHA-256", max_length=64, unique=True)
    size = models.PositiveIntegerField(help_text="Bytes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.sha256[:12]}… ({self.size} bytes)"


class Card(models.Model):
    """What a federation tells newcomers before they join; candidacies propose one, federations show one."""

    name = models.CharField(max_length=120)
    category = models.CharField(max_length=32, choices=Category.choices, db_index=True)
    application = models.CharField(max_length=80, db_index=True, help_text="Domain, e.g. Healthcare.")
    description = models.TextField()
    tags = models.CharField(max_length=200, blank=True, help_text="Comma-separated.")
    model_name = models.CharField("model", max_length=120)
    data_expected = models.TextField("data it expects")
    flower_version = models.CharField(max_length=20, validators=[validate_flower_version])
    flower_api = models.CharField("Flower API", max_length=16, choices=FlowerApi.choices)
    privacy_measures = models.TextField(blank=True)
    compute_needs = models.CharField(max_length=200)
    license = models.CharField(max_length=80)
    owner_contact = models.EmailField()
    server_address = models.CharField(
        max_length=255, validators=[validate_server_address], help_text="host:port that clients connect to."
    )

    CARD_FIELDS = [
        "name", "category", "application", "description", "tags", "model_name", "data_expected", "flower_version",
        "flower_api", "privacy_measures", "compute_needs", "license", "owner_contact", "server_address",
    ]

    class Meta:
        abstract = True

    def card(self) -> dict:
        return {field: getattr(self, field) for field in self.CARD_FIELDS}


class Federation(Card):
    """A Flower federation advertised in the catalog: its card; its training state is ``live``."""

    slug = models.SlugField(max_length=140, unique=True)
    client_file = models.ForeignKey(ClientFile, on_delete=models.PROTECT, related_name="federations")

    # A federation's training state is its LiveState (``federation.live``): the ingest writes that narrow
    # row on every event, and never this wide one with its many indexes.
    download_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    search_document = models.TextField(editable=False, blank=True)
    # Its standing with the operators (set by reports.services, which records who did it and why): a suspended
    # federation is out of the catalog and search, its token refused and its client not served; one under
    # review (reported by several people) carries a badge until an operator clears it.
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)
    under_review_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="federation_newest"),
            models.Index(fields=["-download_count", "-id"], name="federation_most_downloaded"),
            # The few suspended ones, found without reading the catalog (the ingest checks tokens against them).
            models.Index(fields=["suspended_at"], condition=models.Q(suspended_at__isnull=False),
                         name="federation_suspended"),
        ]

    def __str__(self):
        return self.name

    # Written in the database by their own services (downloads counted concurrently, the operators' sanctions):
    # saving a card never puts back the values it loaded.
    SERVICE_FIELDS = ["download_count", "suspended_at", "under_review_since"]

    def save(self, *args, update_fields=None, **kwargs):
        adding = self._state.adding
        self.search_document = self.build_search_document()
        if not adding:
            if update_fields is None:
                update_fields = [field.name for field in self._meta.concrete_fields
                                 if not field.primary_key and field.name not in self.SERVICE_FIELDS]
            return super().save(*args, update_fields=update_fields, **kwargs)
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(Federation)):
            super().save(*args, **kwargs)
            LiveState.objects.create(federation=self)  # every federation has its live state from the start

    def build_search_document(self) -> str:
        return search.search_document(
            self.name, self.category, self.get_category_display(), self.application, self.description, self.tags
        )

    def get_absolute_url(self):
        return reverse("federations:detail", args=[self.slug])

    @property
    def client_served(self) -> bool:
        """Whether its client script is handed out: not while the federation is suspended."""
        return self.suspended_at is None

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


class LiveState(models.Model):
    """A federation's training state, as its server last reported it: one narrow row per federation.

    Written by the services that own it (the ingest, the heartbeat, downloads' version bump) and by
    nothing else. The ingest rewrites it on every event, so it carries only the indexes the heartbeat
    and the catalog's "most active" order need; the federation's card, with its search index, stays
    untouched by training traffic.
    """

    federation = models.OneToOneField(Federation, on_delete=models.CASCADE, primary_key=True, related_name="live")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OFFLINE)
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.WAITING)
    current_round = models.PositiveIntegerField(default=0)
    total_rounds = models.PositiveIntegerField(default=0)
    connected_clients = models.PositiveIntegerField(default=0)
    min_clients = models.PositiveIntegerField(default=0)
    fraction_fit = models.FloatField(default=1.0)
    # Over every run, as the catalog's "most active" order counts them.
    completed_rounds = models.PositiveIntegerField(default=0)
    avg_round_duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    # The current run's, which its page shows beside its round (a new run starts them again).
    run_rounds = models.PositiveIntegerField(default=0)
    run_avg_duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    # Whether the server says it is alive between its events (protocol ``alive``) in the current run:
    # then its silence is judged from those signals alone.
    signals_alive = models.BooleanField(default=False)
    last_update = models.DateTimeField(null=True, blank=True)
    offline_after = models.DateTimeField(
        null=True, blank=True, help_text="The heartbeat turns the server offline past this instant."
    )
    current_run = models.CharField(max_length=32, blank=True, help_text="The training run the server reports now.")
    # The current run's start by the reporter's clock (ms since the epoch): it orders this
    # federation's events (flower_integration.protocol.order) and is never shown as a time.
    run_started = models.BigIntegerField(null=True, blank=True)
    # Counts the writes to this state (and downloads): a page keeps the highest it has seen, so pushes
    # that cross on their way, from different processes, never leave it on an older state.
    live_version = models.PositiveBigIntegerField(default=0)

    FIELDS = [
        "status", "phase", "current_round", "total_rounds", "connected_clients", "min_clients", "fraction_fit",
        "completed_rounds", "avg_round_duration", "run_rounds", "run_avg_duration", "signals_alive", "last_update",
        "offline_after", "current_run", "run_started", "live_version",
    ]

    class Meta:
        indexes = [
            models.Index(fields=["status", "offline_after"], name="live_heartbeat"),
            models.Index(fields=["-completed_rounds", "-federation"], name="live_most_active"),
        ]

    def __str__(self):
        return f"live state of federation {self.federation_id}"

    @property
    def progress_percent(self) -> int:
        return progress_percent(self.current_round, self.total_rounds, self.phase)

    @property
    def status_label(self) -> str:
        return labels(self.status, self.phase)[0]

    @property
    def phase_label(self) -> str:
        return labels(self.status, self.phase)[1]

    @property
    def participants_wanted(self) -> bool:
        return participants_wanted(self.status, self.connected_clients, self.min_clients)

    @property
    def stopped(self) -> bool:
        return stopped(self.status, self.phase)

    @property
    def clients_label(self) -> str:
        return clients_label(self.status, self.connected_clients)


_STATUS_LABELS, _PHASE_LABELS = dict(Status.choices), dict(Phase.choices)


def labels(status: str, phase: str) -> tuple[str, str]:
    """What pages call a federation's status and phase: a finished training is "Finished" whether or not its
    server still answers; one whose server went silent before the end has "Stopped"."""
    status_label, phase_label = _STATUS_LABELS.get(status, status), _PHASE_LABELS.get(phase, phase)
    if phase == Phase.FINISHED:
        status_label = Phase.FINISHED.label
    elif stopped(status, phase):
        phase_label = "Stopped"
    return status_label, phase_label


def stopped(status: str, phase: str) -> bool:
    """Whether a training stopped before its end: its server went silent in the middle of it."""
    return status == Status.OFFLINE and phase in (Phase.TRAINING, Phase.EVALUATING)


def clients_label(status: str, connected_clients: int) -> str:
    """The clients connected, as pages show them: a silent server's last count is not a count of now."""
    return str(connected_clients) if status == Status.ONLINE else "—"


def participants_wanted(status: str, connected_clients: int, min_clients: int) -> bool:
    """Whether a federation is looking for participants: online, with fewer clients connected than it needs
    (its query form: ``selectors._live_conditions``)."""
    return status == Status.ONLINE and connected_clients < min_clients


def progress_percent(current_round: int, total_rounds: int, phase: str) -> int:
    """How much of a training is done, in whole percent: its rounds before the current one (a round counts
    once it ends), all of them once it has finished; 0 when its length is unknown."""
    if not total_rounds:
        return 0
    done = total_rounds if phase == Phase.FINISHED else max(0, current_round - 1)
    return min(100, round(100 * done / total_rounds))


class TrainingRun(models.Model):
    """A training run of a federation that has finished rounds stored; the latest F2F_RUNS_KEPT are kept."""

    federation = models.ForeignKey(Federation, on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=32)
    started = models.BigIntegerField(
        editable=False, help_text="Its start by the reporter's clock (ms since the epoch): orders the runs, nothing else."
    )
    first_seen = models.DateTimeField(default=timezone.now, editable=False)
    # A running count, so that the ingest reads a run's rounds only when some must go.
    rounds_stored = models.PositiveIntegerField(default=0, editable=False, help_text="Its rounds kept now.")
    # Running aggregates over every round the run finished (kept or since pruned): its history line.
    rounds_completed = models.PositiveIntegerField(default=0, editable=False)
    duration_total = models.FloatField(default=0.0, editable=False, help_text="Seconds, its rounds' sum.")
    last_round_at = models.DateTimeField(null=True, blank=True, editable=False)

    @property
    def avg_duration(self) -> float | None:
        return self.duration_total / self.rounds_completed if self.rounds_completed else None

    class Meta:
        ordering = ["federation", "-started", "-name"]
        constraints = [models.UniqueConstraint(fields=["federation", "name"], name="one_run_per_name")]
        indexes = [models.Index(fields=["federation", "-started", "-name"], name="training_run_latest")]

    def __str__(self):
        return f"{self.federation} run {self.name}"


class RoundRecord(models.Model):
    """One finished round of one training run, as the federation server reported it.

    ``run`` is the name of a ``TrainingRun`` of the same federation; the latest F2F_ROUNDS_KEPT
    of each run are kept.
    """

    # No index of its own: the unique (federation, run, number) serves lookups by federation.
    federation = models.ForeignKey(Federation, on_delete=models.CASCADE, related_name="rounds", db_index=False)
    run = models.CharField(max_length=32)
    number = models.PositiveIntegerField()
    duration = models.FloatField(help_text="Seconds.")
    loss = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    num_clients = models.PositiveIntegerField(default=0)
    num_examples = models.PositiveBigIntegerField(default=0)
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["federation", "run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["federation", "run", "number"], name="one_record_per_round"),
        ]

    def __str__(self):
        return f"{self.federation} run {self.run} round {self.number}"


class OnlineSpell(models.Model):
    """A time a federation's server was online: from the report that brought it online to the last report
    before the heartbeat found it silent (``ended``; None while it is online). Its uptime is made of these."""

    federation = models.ForeignKey(Federation, on_delete=models.CASCADE, related_name="online_spells",
                                   db_index=False)
    started = models.DateTimeField()
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["federation", "-started"], name="spell_federation_recent"),
            # The open spells, which the heartbeat closes, and the old ones, which it deletes.
            models.Index(fields=["federation"], condition=models.Q(ended__isnull=True), name="spell_open"),
            models.Index(fields=["ended"], name="spell_ended"),
        ]

    def __str__(self):
        return f"{self.federation} online {self.started:%Y-%m-%d %H:%M} - {self.ended or 'now'}"


class ReportingToken(models.Model):
    """The secret a federation server presents to report; only its SHA-256 is stored."""

    federation = models.ForeignKey(Federation, on_delete=models.CASCADE, related_name="reporting_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["federation", "revoked_at"], name="reporting_token_active")]

    def __str__(self):
        state = "revoked" if self.revoked_at else "active"
        return f"token {self.token_hash[:8]}… of {self.federation} ({state})"
