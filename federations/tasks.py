import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(time_limit=60, soft_time_limit=50, ignore_result=True)
def sweep_silent_federations() -> int:
    """Beat's heartbeat: mark servers that went silent as offline."""
    count = len(services.federations_mark_silent_offline())
    if count:
        logger.info("Heartbeat: %d silent federation(s) marked offline", count)
    return count
