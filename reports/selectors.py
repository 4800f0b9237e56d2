"""Reads of fault reports and moderation, for the pages that show them as trust signals."""

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from f2f_site import memo
from federations.models import Federation

from .models import OPEN_STATUSES, Action, FaultReport, ModerationAction


TRUST = "trust"  # its memo's kind, by ``trust_key``


def trust_key(federation_id: int, *, suspended: bool) -> str:
    return f"{federation_id}.{int(suspended)}"


def open_report_counts(federation_ids) -> dict[int, int]:
    """How many reports wait for an operator, per federation among ``federation_ids`` (those with none: absent)."""
    rows = (FaultReport.objects.filter(federation_id__in=list(federation_ids), status__in=OPEN_STATUSES)
            .values("federation_id").annotate(count=Count("id")).order_by())
    return {row["federation_id"]: row["count"] for row in rows}


def federation_trust(federation: Federation) -> dict:
    """What a federation's page shows of its standing: open reports, the operators' last action on it and,
    while it is suspended, the suspension (whose reason the page gives, whatever was done since). One query
    for a federation no operator has acted on, the common case; none when read in the last seconds
    (``f2f_site.memo``: ``reports.services`` forgets it when it changes)."""
    return memo.remembered(TRUST, trust_key(federation.pk, suspended=federation.suspended_at is not None),
                           lambda: _federation_trust(federation))


def _federation_trust(federation: Federation) -> dict:
    actions = ModerationAction.objects.filter(federation=federation)
    open_reports = (FaultReport.objects.filter(federation=OuterRef("pk"), status__in=OPEN_STATUSES)
                    .values("federation").annotate(count=Count("id")).values("count"))
    standing = Federation.objects.filter(pk=federation.pk).values(
        open_reports=Coalesce(Subquery(open_reports), 0),
        last_action=Subquery(ModerationAction.objects.filter(federation=OuterRef("pk")).values("pk")[:1]),
    ).get()
    last_action = actions.get(pk=standing["last_action"]) if standing["last_action"] else None
    return {
        "open_reports": standing["open_reports"],
        "last_action": last_action,
        "suspension": (last_action if last_action and last_action.action == Action.SUSPENDED else
                       actions.filter(action=Action.SUSPENDED).first()) if federation.suspended_at else None,
    }
