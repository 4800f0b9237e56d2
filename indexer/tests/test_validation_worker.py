"""Validation on a real Celery worker over Redis: queued work survives a worker that is not there."""

import os
import time

import pytest

from conftest import database_url, start_celery, stop
from indexer import services
from indexer.models import Candidacy
from indexer.tests.conftest import corpus_file

pytestmark = pytest.mark.services


def wait_for_status(candidacy, status, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        candidacy.refresh_from_db()
        if candidacy.status == status:
            return
        time.sleep(0.3)
    raise AssertionError(f"still {candidacy.status}, expected {status}")


def test_a_candidacy_queued_while_no_worker_runs_is_validated_when_one_starts(transactional_db, card, tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL (and DATABASE_URL) to test the services mode")
    candidacy = services.candidacy_submit(card=card, num_rounds=5, min_clients=2, client_filename="Client.py",
                                          client_content=corpus_file("os_system.txt"))
    time.sleep(1)
    candidacy.refresh_from_db()
    assert candidacy.status == "submitted"  # queued on Redis, nobody working

    workers = start_celery(tmp_path, {"DATABASE_URL": database_url()})
    try:
        wait_for_status(candidacy, "awaiting_review")
    finally:
        for process in workers:
            stop(process)
    assert candidacy.verdict == "findings" and candidacy.finding_count >= 1
