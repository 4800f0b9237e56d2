from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services


@shared_task(
    acks_late=True,  # a worker that dies mid-task leaves the message to be delivered again
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
    time_limit=90,
    soft_time_limit=80,
    ignore_result=True,
)
def validate_candidacy(candidacy_id: int) -> None:
    """Validate one candidacy's Client.py (see ``services.candidacy_validate``)."""
    services.candidacy_validate(candidacy_id=candidacy_id)


@shared_task(time_limit=60, soft_time_limit=50, ignore_result=True)
def requeue_stalled_candidacies() -> int:
    return len(services.candidacies_requeue_stalled(older_than_seconds=settings.F2F_VALIDATION_STALL_SECONDS))
