from django.db import models
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


class Federation(models.Model):
    """A Flower federation advertised in the catalog: its card and its current training state."""

    # The card: what a newcomer reads before joining.
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
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
    client_file = models.ForeignKey(ClientFile, on_delete=models.PROTECT, related_name="federations")

    # The training state, as last reported by the federation server.
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OFFLINE, db_index=True)
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.WAITING)
    current_round = models.PositiveIntegerField(default=0)
    total_rounds = models.PositiveIntegerField(default=0)
    connected_clients = models.PositiveIntegerField(default=0)
    min_clients = models.PositiveIntegerField(default=0)
    fraction_fit = models.FloatField(default=1.0)
    completed_rounds = models.PositiveIntegerField(default=0)
    avg_round_duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    last_update = models.DateTimeField(null=True, blank=True)
    offline_after = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The heartbeat turns the server offline past this instant."
    )

    download_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    search_document = models.TextField(editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="federation_newest"),
            models.Index(fields=["-download_count", "-id"], name="federation_most_downloaded"),
            models.Index(fields=["-completed_rounds", "-id"], name="federation_most_active"),
            models.Index(fields=["status", "offline_after"], name="federation_heartbeat"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.search_document = self.build_search_document()
        super().save(*args, **kwargs)

    def build_search_document(self) -> str:
        return search.search_document(
            self.name, self.category, self.get_category_display(), self.application, self.description, self.tags
        )

    def get_absolute_url(self):
        return reverse("federations:detail", args=[self.slug])

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]

    @property
    def progress_percent(self) -> int:
        if not self.total_rounds:
            return 0
        return min(100, round(100 * self.current_round / self.total_rounds))
