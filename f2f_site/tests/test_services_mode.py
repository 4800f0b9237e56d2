"""PostgreSQL + Redis: Celery worker and beat as their own processes, as in production."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import database_url, start_celery, stop
from federations.models import Federation, LiveState, Status

pytestmark = pytest.mark.services


@pytest.fixture
def celery_processes(transactional_db, tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL (and DATABASE_URL) to test the services mode")
    processes = start_celery(tmp_path, {"DATABASE_URL": database_url(), "F2F_HEARTBEAT_INTERVAL": "1"})
    yield tmp_path
    for process in processes:
        stop(process)


def test_beat_and_a_worker_on_redis_turn_a_silent_server_offline(federation, celery_processes):
    LiveState.objects.filter(pk=federation.pk).update(
        status=Status.ONLINE, offline_after=timezone.now() - timedelta(seconds=1)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and LiveState.objects.get(pk=federation.pk).status == Status.ONLINE:
        time.sleep(0.5)
    logs = "\n".join((celery_processes / name).read_text() for name in ("worker.log", "beat.log"))
    assert LiveState.objects.get(pk=federation.pk).status == Status.OFFLINE, logs
    assert "sweep_silent_federations" in logs
