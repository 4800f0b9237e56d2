"""Every write of fault reports and of the operators' sanctions goes through these functions."""

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from f2f_site import memo
from federations import services as federations
from federations.models import Federation

from . import selectors
from .models import NEXT_STATUSES, Action, FaultReport, ModerationAction, ReportStatus


def reporter_of(address: str) -> str:
    """Who filed a report, as stored: a keyed hash of their client address (distinct, not traceable)."""
    return hmac.new(settings.SECRET_KEY.encode(), f"reporter {address}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def report_file(*, federation: Federation, reporter: str, category: str, description: str,
                priority: str = "normal", contact: str = "") -> FaultReport:
    """File a report on ``federation`` (``reporter``: from ``reporter_of``). When reporters enough have
    reported it within the window, the federation is put under review (the operators clear it)."""
    report = FaultReport(federation=federation, reporter=reporter, category=category, priority=priority,
                         description=description, contact=contact)
    report.full_clean()
    report.save()
    _flag_when_reported_by_many(federation)
    _forget_trust([federation.pk])
    return report


def _forget_trust(federation_ids) -> None:
    """Once this transaction commits, pages read each federation's trust signals afresh (this process;
    ``f2f_site.memo``): forgotten before, a page could remember the old ones again meanwhile."""
    keys = [selectors.trust_key(pk, suspended=suspended) for pk in federation_ids for suspended in (False, True)]
    transaction.on_commit(lambda: memo.forget(selectors.TRUST, keys))


def _flag_when_reported_by_many(federation: Federation) -> None:
    # Reports an operator has looked at (the review cleared since) do not count again.
    since = timezone.now() - timedelta(hours=settings.F2F_REVIEW_WINDOW_HOURS)
    cleared = (ModerationAction.objects.filter(federation=federation, action=Action.CLEARED)
               .values_list("created_at", flat=True).first())
    if cleared and cleared > since:
        since = cleared
    reporters = (FaultReport.objects.filter(federation=federation, created_at__gt=since)
                 .exclude(status=ReportStatus.DISMISSED).values("reporter").distinct().count())
    if reporters < settings.F2F_REVIEW_REPORTERS:
        return
    if federations.federation_set_standing(federation_id=federation.pk, under_review=True):
        ModerationAction.objects.create(
            federation=federation, action=Action.FLAGGED, actor=None,
            reason=f"Reported by {reporters} different people within {settings.F2F_REVIEW_WINDOW_HOURS} hours.")


@transaction.atomic
def reports_move(*, report_ids, status: str, note: str = "", actor=None) -> int:
    """Move the reports in ``report_ids`` to ``status`` where their own status allows it (pending ->
    reviewing -> resolved or dismissed; resolved and dismissed are final); how many moved. Resolving or
    dismissing needs a note: the reporter's problem deserves the reason it was closed."""
    status = ReportStatus(status)
    note = note.strip()
    if status in (ReportStatus.RESOLVED, ReportStatus.DISMISSED) and not note:
        raise ValidationError("Say why the report is %(status)s.", code="note_required",
                              params={"status": status.label.lower()})
    allowed_from = [before for before, after in NEXT_STATUSES.items() if status in after]
    changes = {"status": status, "handled_at": timezone.now(), "handled_by": actor}
    if note:
        changes["note"] = note
    moving = FaultReport.objects.filter(pk__in=list(report_ids), status__in=allowed_from)
    _forget_trust(set(moving.values_list("federation_id", flat=True)))
    return moving.update(**changes)


_STANDINGS = {
    Action.SUSPENDED: {"suspended": True},
    Action.REINSTATED: {"suspended": False},
    Action.FLAGGED: {"under_review": True},
    Action.CLEARED: {"under_review": False},
}


@transaction.atomic
def federation_moderate(*, federation: Federation, action: str, reason: str, actor) -> bool:
    """Suspend, reinstate, flag under review or clear a federation, recording who did it and why; False (and
    nothing recorded) when it already stood so.

    A suspended federation leaves the catalog and search, its page says so, its client is not served,
    and its reporting token is refused by the ingest (connected reporters are answered "revoked").
    """
    action = Action(action)
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why.", code="reason_required")
    if not federations.federation_set_standing(federation_id=federation.pk, **_STANDINGS[action]):
        return False
    ModerationAction.objects.create(federation=federation, action=action, reason=reason, actor=actor)
    _forget_trust([federation.pk])
    return True
