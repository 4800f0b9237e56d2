"""PostgreSQL + Redis: Celery worker and beat as their own processes, as in production."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import ROOT, database_url, stop
from federations.models import Federation, Status

pytestmark = pytest.mark.services


@pytest.fixture
def celery_processes(transactional_db, tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL (and DATABASE_URL) to test the services mode")
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "f2f_site.settings.test",
           "F2F_HEARTBEAT_INTERVAL": "1", "F2F_VAR_DIR": str(tmp_path)}
    celery = [sys.executable, "-m", "celery", "-A", "f2f_site"]
    processes = [
        subprocess.Popen([*celery, "worker", "--pool", "solo", "--loglevel", "INFO", "--without-mingle",
                          "--without-gossip", "--hostname", f"test-{os.getpid()}@%h"],
                         cwd=ROOT, env=env, stdout=(tmp_path / "worker.log").open("w"), stderr=subprocess.STDOUT),
        subprocess.Popen([*celery, "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
                         cwd=ROOT, env=env, stdout=(tmp_path / "beat.log").open("w"), stderr=subprocess.STDOUT),
    ]
    yield tmp_path
    for process in processes:
        stop(process)


def test_beat_and_a_worker_on_redis_turn_a_silent_server_offline(federation, celery_processes):
    Federation.objects.filter(pk=federation.pk).update(
        status=Status.ONLINE, offline_after=timezone.now() - timedelta(seconds=1)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Federation.objects.get(pk=federation.pk).status == Status.ONLINE:
        time.sleep(0.5)
    logs = "\n".join((celery_processes / name).read_text() for name in ("worker.log", "beat.log"))
    assert Federation.objects.get(pk=federation.pk).status == Status.OFFLINE, logs
    assert "sweep_silent_federations" in logs
