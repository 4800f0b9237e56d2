"""Reads of fault reports and moderation, for the pages that show them as trust signals."""

from django.db.models import Count

from federations.models import Federation

from .models import OPEN_STATUSES, Action, FaultReport, ModerationAction


def open_report_counts(federation_ids) -> dict[int, int]:
    """How many reports wait for an operator, per federation among ``federation_ids`` (those with none: absent)."""
    rows = (FaultReport.objects.filter(federation_id__in=list(federation_ids), status__in=OPEN_STATUSES)
            .values("federation_id").annotate(count=Count("id")).order_by())
    return {row["federation_id"]: row["count"] for row in rows}


def federation_trust(federation: Federation) -> dict:
    """What a federation's page shows of its standing: open reports, the operators' last action on it and,
    while it is suspended, the suspension (whose reason the page gives, whatever was done since)."""
    actions = ModerationAction.objects.filter(federation=federation)
    return {
        "open_reports": open_report_counts([federation.pk]).get(federation.pk, 0),
        "last_action": actions.first(),
        "suspension": actions.filter(action=Action.SUSPENDED).first() if federation.suspended_at else None,
    }
