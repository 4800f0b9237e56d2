"""Admission of new federation servers: submit, validate, approve or decline."""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from federations import services as federation_services

from . import sandbox
from .models import Candidacy, Decision

logger = logging.getLogger(__name__)


@transaction.atomic
def candidacy_submit(*, card: dict, num_rounds: int, min_clients: int, client_content: bytes, client_filename: str,
                     requirements_txt: str = "") -> Candidacy:
    """Record a candidacy and queue the validation of its Client.py once the row is committed."""
    from .tasks import validate_candidacy

    candidacy = Candidacy(
        **card, num_rounds=num_rounds, min_clients=min_clients, client_content=client_content,
        client_sha256=hashlib.sha256(client_content).hexdigest(), client_filename=client_filename[:120],
        requirements_txt=requirements_txt,
    )
    candidacy.full_clean()
    candidacy.save()
    # robust: a broker that is down must not turn a saved candidacy into an error page; the
    # stalled-validation sweep queues it again later.
    transaction.on_commit(lambda: validate_candidacy.delay(candidacy.pk), robust=True)
    return candidacy


def candidacy_validate(*, candidacy_id: int) -> None:
    """Analyse the candidacy's Client.py (never importing or running it) and file the verdict.

    Idempotent: a candidacy already past validation is left alone; one left mid-validation by a
    lost worker is analysed again (the analysis has no side effects).
    """
    claimed = Candidacy.objects.filter(
        pk=candidacy_id, status__in=[Candidacy.Status.SUBMITTED, Candidacy.Status.VALIDATING]
    ).update(status=Candidacy.Status.VALIDATING, updated_at=timezone.now())
    if not claimed:
        return
    candidacy = Candidacy.objects.get(pk=candidacy_id)
    report = sandbox.analyze_in_child(
        bytes(candidacy.client_content), declared_server_address=candidacy.server_address,
        cpu_seconds=settings.F2F_VALIDATION_CPU_SECONDS, memory_bytes=settings.F2F_VALIDATION_MEMORY_BYTES,
    )
    status = Candidacy.Status.REJECTED if report.verdict == "invalid" else Candidacy.Status.AWAITING_REVIEW
    Candidacy.objects.filter(pk=candidacy_id, status=Candidacy.Status.VALIDATING).update(
        status=status, verdict=report.verdict, report=report.to_dict(), finding_count=len(report.findings),
        updated_at=timezone.now(),
    )
    logger.info("Candidacy %s validated: %s, %d finding(s)", candidacy_id, report.verdict, len(report.findings))


def _decidable(candidacy_id: int, reason: str) -> Candidacy:
    if not reason.strip():
        raise ValidationError("Give the reason for the decision.", code="reason_required")
    candidacy = Candidacy.objects.select_for_update().get(pk=candidacy_id)
    if candidacy.status != Candidacy.Status.AWAITING_REVIEW:
        raise ValidationError("Only a candidacy awaiting review can be decided (this one is %(status)s).",
                              code="not_awaiting_review", params={"status": candidacy.get_status_display()})
    return candidacy


@transaction.atomic
def candidacy_approve(*, candidacy_id: int, actor, reason: str) -> Candidacy:
    """List the candidacy's federation in the catalog and issue its reporting token."""
    candidacy = _decidable(candidacy_id, reason)
    federation = federation_services.federation_create(
        client_content=bytes(candidacy.client_content), total_rounds=candidacy.num_rounds,
        min_clients=candidacy.min_clients, **candidacy.card(),
    )
    candidacy.pending_token = federation_services.reporting_token_issue(federation=federation)
    candidacy.federation = federation
    candidacy.status = Candidacy.Status.APPROVED
    candidacy.save(update_fields=["pending_token", "federation", "status", "updated_at"])
    Decision.objects.create(candidacy=candidacy, action=Decision.Action.APPROVED, actor=actor, reason=reason.strip())
    return candidacy


@transaction.atomic
def candidacy_decline(*, candidacy_id: int, actor, reason: str) -> Candidacy:
    candidacy = _decidable(candidacy_id, reason)
    candidacy.status = Candidacy.Status.DECLINED
    candidacy.save(update_fields=["status", "updated_at"])
    Decision.objects.create(candidacy=candidacy, action=Decision.Action.DECLINED, actor=actor, reason=reason.strip())
    return candidacy


def candidacy_reveal_token(*, candidacy_id: int) -> str | None:
    """The reporting token of an approved candidacy, the first time it is asked for; None after."""
    with transaction.atomic():
        token = (Candidacy.objects.select_for_update().filter(pk=candidacy_id)
                 .values_list("pending_token", flat=True).first())
        if token:
            Candidacy.objects.filter(pk=candidacy_id).update(pending_token="")
    return token or None


def candidacies_requeue_stalled(*, older_than_seconds: int) -> list[int]:
    """Queue again the validations that a lost message or a restarted broker left behind.

    ``updated_at`` is when a candidacy was submitted or last claimed by a worker, so a
    validation running now (claimed less than ``older_than_seconds`` ago, which is longer than
    the task's time limit) is left alone.
    """
    from .tasks import validate_candidacy

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(Candidacy.objects.filter(
        status__in=[Candidacy.Status.SUBMITTED, Candidacy.Status.VALIDATING], updated_at__lt=cutoff
    ).values_list("id", flat=True))
    for candidacy_id in ids:
        validate_candidacy.delay(candidacy_id)
    return ids
