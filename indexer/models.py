import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from federations.models import Card, Federation


def new_access_key() -> str:
    return secrets.token_urlsafe(24)


class Candidacy(Card):
    """An application to run a federation (Be a Server): its card, its Client.py and its review."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        VALIDATING = "validating", "Validating"
        REJECTED = "rejected", "Rejected by validation"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    class Verdict(models.TextChoices):
        INVALID = "invalid", "Invalid"
        FINDINGS = "findings", "Has findings"
        CLEAN = "clean", "No known-dangerous pattern found"

    # The candidate's private link to follow the candidacy: unguessable, never listed.
    access_key = models.CharField(max_length=64, unique=True, default=new_access_key, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    num_rounds = models.PositiveIntegerField(
        "rounds", validators=[MinValueValidator(1), MaxValueValidator(100_000)])
    min_clients = models.PositiveIntegerField(
        "minimum clients", validators=[MinValueValidator(1), MaxValueValidator(100_000)])

    client_content = models.BinaryField(editable=False)
    client_sha256 = models.CharField("SHA-256", max_length=64, editable=False)
    client_filename = models.CharField(max_length=120, editable=False, help_text="As uploaded; shown, never used.")
    requirements_txt = models.TextField("requirements.txt", blank=True, editable=False)

    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True, editable=False)
    report = models.JSONField(null=True, blank=True, editable=False)
    finding_count = models.PositiveIntegerField("findings", default=0, editable=False)

    federation = models.OneToOneField(Federation, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="candidacy", editable=False)
    # The reporting token issued on approval, kept only until the candidate's status page shows it once.
    pending_token = models.CharField(max_length=100, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "candidacies"

    def __str__(self):
        return f"{self.name} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.SUBMITTED, self.Status.VALIDATING)

    def latest_decision(self):
        return self.decisions.order_by("-at").first()


class Decision(models.Model):
    """An operator's decision on a candidacy: who, when, what and why."""

    class Action(models.TextChoices):
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    candidacy = models.ForeignKey(Candidacy, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"
