"""Fixtures shared by every app's tests: objects, and real processes (daphne, Celery, chromium)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
CLIENT_SCRIPT = b'''import argparse
import flwr as fl


class Client(fl.client.NumPyClient):
    def get_parameters(self, config):
        return []


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-address", required=True)
    fl.client.start_client(server_address=parser.parse_args().server_address, client=Client().to_client())
'''


@pytest.fixture
def make_federation(db):
    """Build catalog entries with sensible card values; override any card or live-state field by keyword."""
    from federations import services
    from federations.models import Category, FlowerApi, LiveState

    counter = iter(range(1, 1_000_000))

    def make(**overrides):
        n = next(counter)
        card = {
            "name": f"Federation {n}",
            "category": Category.IMAGE_CLASSIFICATION,
            "application": "Healthcare",
            "description": "Chest X-ray triage across hospitals.",
            "tags": "keras, cross-silo",
            "model_name": "MobileNetV2",
            "data_expected": "32x32 RGB images",
            "flower_version": "1.42.0",
            "flower_api": FlowerApi.LEGACY,
            "privacy_measures": "Secure aggregation",
            "compute_needs": "CPU, 2 GB RAM",
            "license": "Apache-2.0",
            "owner_contact": f"owner{n}@example.org",
            "server_address": f"fl{n}.example.org:8080",
        }
        card.update(overrides)
        content = card.pop("client_content", CLIENT_SCRIPT)
        live = {field: card.pop(field) for field in LiveState.FIELDS if field in card}
        federation = services.federation_create(client_content=content, **card)
        if live:
            LiveState.objects.filter(pk=federation.pk).update(**live)
            federation.refresh_from_db()
        return federation

    return make


@pytest.fixture
def federation(make_federation):
    return make_federation()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before serving {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered at {url} within {timeout}s")


class Portal:
    """A portal process (``manage.py run_portal``: real daphne) and where to reach it."""

    def __init__(self, process, url, log_path):
        self.process, self.url, self.log_path = process, url, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_portal(tmp_path, env_overrides: dict, port: int | None = None) -> Portal:
    port = port or free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "f2f_site.settings.test", "PYTHONUNBUFFERED": "1", **env_overrides}
    env = {key: value for key, value in env.items() if value is not None}
    log_path = tmp_path / f"portal-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_portal", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )
    portal = Portal(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_for_http(portal.url + "/", process)
    except Exception:
        process.kill()
        raise AssertionError(f"the portal did not start:\n{portal.log()}") from None
    return portal


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def live_portal(transactional_db, tmp_path):
    """The portal served by a real daphne process on the test database."""
    portal = start_portal(tmp_path, {"DATABASE_URL": database_url()})
    yield portal
    stop(portal.process)


def start_celery(tmp_path, env_overrides: dict) -> list[subprocess.Popen]:
    """A Celery worker and beat as their own processes (the services mode, on Redis)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "f2f_site.settings.test", "F2F_VAR_DIR": str(tmp_path),
           **env_overrides}
    celery = [sys.executable, "-m", "celery", "-A", "f2f_site"]
    return [
        subprocess.Popen([*celery, "worker", "--pool", "solo", "--loglevel", "INFO", "--without-mingle",
                          "--without-gossip", "--hostname", f"test-{os.getpid()}@%h"],
                         cwd=ROOT, env=env, stdout=(tmp_path / "worker.log").open("w"), stderr=subprocess.STDOUT),
        subprocess.Popen([*celery, "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
                         cwd=ROOT, env=env, stdout=(tmp_path / "beat.log").open("w"), stderr=subprocess.STDOUT),
    ]


def portal_with_workers(tmp_path, env_overrides: dict):
    """A live portal with Celery working for it, in whichever run mode the tests are in.

    Embedded mode: beat and worker run inside the portal process. Services mode (REDIS_URL):
    they run as their own processes on Redis, as in production.
    """
    env = {"DATABASE_URL": database_url(), **env_overrides}
    portal = start_portal(tmp_path, env)
    workers = start_celery(tmp_path, env) if os.environ.get("REDIS_URL") else []
    yield portal
    for process in [portal.process, *workers]:
        stop(process)


@pytest.fixture
def heartbeat_portal(transactional_db, tmp_path):
    """A live portal whose heartbeat sweeps every second and allows 3 s of silence."""
    yield from portal_with_workers(tmp_path, {"F2F_HEARTBEAT_INTERVAL": "1", "F2F_OFFLINE_AFTER": "3"})


@pytest.fixture
def worker_portal(transactional_db, tmp_path):
    """A live portal whose background tasks (Client.py validation) run on a real Celery worker."""
    yield from portal_with_workers(tmp_path, {})


@pytest.fixture
def browser(monkeypatch):
    """Debian's chromium driven by Playwright; skipped (or, in CI, failed) when chromium is absent."""
    # Playwright's sync API keeps an event loop running in the test thread; the test's own ORM
    # calls are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have /usr/bin/chromium (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium: install Debian's chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            args=["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets its own channel layer. channels caches one per process, and channels-redis binds its
    asyncio locks to the first event loop that uses them, while every async_to_sync call runs a new loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def nothing_remembered():
    """Each test starts with nothing that pages remember for seconds (f2f_site.memo): ids repeat across tests."""
    from f2f_site import memo

    memo.clear()


@pytest.fixture(autouse=True)
def no_rate_limit_counted():
    """Each test starts with no request counted against the portal's rate limits (test settings' cache)."""
    from django.conf import settings
    from django.core.cache import caches

    cache = caches[settings.RATELIMIT_USE_CACHE]
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):  # Redis: only its own keys, not the database
        redis = cache._cache.get_client(write=True)
        for key in redis.scan_iter(f"*{cache.key_prefix}*"):
            redis.delete(key)
    else:
        cache.clear()


@pytest.fixture
def live_pushes(monkeypatch):
    """What writers hand to ``federations.live.push`` (after their commit): a list of its keyword arguments."""
    from federations import live

    pushes = []
    monkeypatch.setattr(live, "push", lambda **push: pushes.append(push))
    return pushes
