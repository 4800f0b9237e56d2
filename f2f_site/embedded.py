"""Celery inside the portal process, for the embedded mode (no Redis, no separate processes).

The broker is kombu's in-process ``memory://`` transport, so producer and worker must share
one process: the worker (solo pool) and beat run here as daemon threads next to daphne.
"""

import logging
import threading

from celery.beat import EmbeddedService
from django.conf import settings

from .celery import app

logger = logging.getLogger(__name__)


def start_workers() -> None:
    worker = app.WorkController(
        pool_cls="solo",
        concurrency=1,
        hostname="embedded@f2f",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()
    beat = EmbeddedService(app, thread=True, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME)
    beat.start()
    logger.info("Embedded Celery worker and beat started (heartbeat every %ss).", settings.F2F_HEARTBEAT_INTERVAL)
