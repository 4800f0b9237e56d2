from django.conf import settings
from django.db import models
from django.utils import timezone

from federations.models import Federation


class Category(models.TextChoices):
    BUG = "bug", "Bug"
    CONNECTION = "connection-failure", "Connection failure"
    MALICIOUS = "malicious-node", "Malicious node"
    PERFORMANCE = "performance", "Performance"
    WRONG_INFORMATION = "wrong-information", "Wrong information"
    OTHER = "other", "Other"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    REVIEWING = "reviewing", "Reviewing"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


# Where a report may go from each status (reports.services.reports_move is the only writer of a status).
NEXT_STATUSES = {
    ReportStatus.PENDING: {ReportStatus.REVIEWING, ReportStatus.RESOLVED, ReportStatus.DISMISSED},
    ReportStatus.REVIEWING: {ReportStatus.RESOLVED, ReportStatus.DISMISSED},
    ReportStatus.RESOLVED: set(),
    ReportStatus.DISMISSED: set(),
}
# A report still waiting for an operator: counted on the federation's card.
OPEN_STATUSES = [ReportStatus.PENDING, ReportStatus.REVIEWING]


class FaultReport(models.Model):
    """A problem someone met with a federation (paper §3.4), for the operators to act on."""

    federation = models.ForeignKey(Federation, on_delete=models.CASCADE, related_name="fault_reports")
    category = models.CharField(max_length=24, choices=Category.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    description = models.TextField(max_length=4000)
    contact = models.CharField(max_length=200, blank=True, help_text="Optional: how the operators may reach you.")
    # Who filed it, as a keyed hash of their address (reports.services.reporter_of): enough to count distinct
    # reporters, nothing to find them by.
    reporter = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=12, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    note = models.TextField("operator's note", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    handled_at = models.DateTimeField(null=True, blank=True, editable=False)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["federation", "-created_at"], name="report_federation_recent"),
            models.Index(fields=["status", "-created_at"], name="report_status_recent"),
        ]

    def __str__(self):
        return f"{self.get_category_display()} report on {self.federation} ({self.get_status_display().lower()})"


class Action(models.TextChoices):
    SUSPENDED = "suspended", "Suspended"
    REINSTATED = "reinstated", "Reinstated"
    FLAGGED = "flagged", "Put under review"
    CLEARED = "cleared", "Review cleared"


class ModerationAction(models.Model):
    """What was done to a federation's standing, by whom (nobody: the automatic flag), when and why."""

    federation = models.ForeignKey(Federation, on_delete=models.CASCADE, related_name="moderation_actions")
    action = models.CharField(max_length=12, choices=Action.choices)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["federation", "-created_at"], name="moderation_federation_recent")]

    def __str__(self):
        by = self.actor or "automatic"
        return f"{self.get_action_display()}: {self.federation} ({by}, {self.created_at:%Y-%m-%d %H:%M})"
