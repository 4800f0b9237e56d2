"""The ingest's limits, met through real daphne: events per federation, failed connections per address."""

import os
import time

import pytest
import redis
import socketio

from conftest import database_url, start_portal, stop
from federations import ingest, protocol, services, throttle

STARTED = 1_750_000_000_000
STATE = {"v": 2, "run": "r1", "started": STARTED, "phase": "training", "round": 1, "total_rounds": 5,
         "connected_clients": 2, "min_clients": 2, "fraction_fit": 1.0}


@pytest.fixture
def reporting_federation(make_federation):
    federation = make_federation()
    return federation, services.reporting_token_issue(federation=federation)


@pytest.fixture
def clean_auth_counts():
    """Failed attempts counted in Redis outlive a portal: start and leave with none, for the other tests."""
    def clean():
        if os.environ.get("REDIS_URL"):
            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            for key in client.scan_iter(f"{throttle.KEY_PREFIX}:*ingest-auth-failures*"):
                client.delete(key)

    clean()
    yield
    clean()


class Reporter:
    """A Socket.IO client that keeps the reason of a refused connection."""

    def __init__(self, portal, auth, forwarded_for=None):
        self.client, self.refusal = socketio.Client(reconnection=False), None
        self.client.on("connect_error", self._refused)
        try:
            self.client.connect(portal.url, auth=auth, transports=["websocket"], wait_timeout=10,
                                headers={"X-Forwarded-For": forwarded_for} if forwarded_for else {})
        except socketio.exceptions.ConnectionError:
            pass

    def _refused(self, data=None):
        self.refusal = ((data or {}).get("data") or {}).get("code")

    def flood(self, count):
        """Send ``count`` states at once; the answers, once all are in."""
        answers = []
        for number in range(count):
            self.client.emit("state", {**STATE, "round": number % 5}, callback=answers.append)
        deadline = time.monotonic() + 30
        while len(answers) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        assert len(answers) == count
        return answers


def throttled(answers):
    return [answer for answer in answers if not answer["ok"] and answer["code"] == protocol.THROTTLED]


def test_two_connections_of_a_federation_share_its_limit(live_portal, reporting_federation):
    federation, token = reporting_federation
    auth = {"federation": federation.pk, "token": token}
    first, second = Reporter(live_portal, auth), Reporter(live_portal, auth)
    answers = first.flood(40) + second.flood(40)
    assert len(throttled(answers)) >= 80 - 60 - 10  # 60 in 3 s; a slow machine may free a few


@pytest.mark.services
def test_two_portal_processes_share_a_federations_limit(transactional_db, tmp_path, reporting_federation):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL (and DATABASE_URL) to test the services mode")
    federation, token = reporting_federation
    auth = {"federation": federation.pk, "token": token}
    portals = [start_portal(tmp_path, {"DATABASE_URL": database_url()}) for _ in range(2)]
    try:
        reporters = [Reporter(portal, auth) for portal in portals]
        answers = reporters[0].flood(40) + reporters[1].flood(40)
    finally:
        for portal in portals:
            stop(portal.process)
    # Each process alone would have let its 40 through: the 60 are counted across both.
    assert len(throttled(answers)) >= 80 - 60 - 10
    assert sum(answer["ok"] for answer in answers) <= 60 + 10


async def test_the_throttle_counts_in_redis_in_services_mode_and_in_memory_when_embedded():
    current = throttle.throttle()
    expected = "RedisCounts" if os.environ.get("REDIS_URL") else "MemoryCounts"
    assert type(current.counts).__name__ == expected
    assert throttle.throttle() is current  # one per event loop, shared by every connection


@pytest.mark.parametrize("counts", ["memory", "redis"])
async def test_a_window_lets_through_at_most_its_limit_however_the_events_are_batched(counts, monkeypatch):
    if counts == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL to count in Redis")
    store = throttle.MemoryCounts() if counts == "memory" else throttle.RedisCounts(os.environ["REDIS_URL"])
    limiter = throttle.Throttle(store)
    limit = throttle.Limit(f"test-{time.time_ns()}", 10, 60)
    monkeypatch.setattr(throttle.time, "time", lambda: 6_000_030.0)  # halfway through a window
    assert await limiter.take(limit, {"a": 4, "b": 1}) == {"a": 4, "b": 1}
    assert await limiter.take(limit, {"a": 9}) == {"a": 6}  # refused hits are not counted
    assert await limiter.take(limit, {"a": 1}) == {"a": 0}
    # In the next window, half of the previous one still counts: 10 * 0.5 = 5 more.
    monkeypatch.setattr(throttle.time, "time", lambda: 6_000_090.0)
    assert await limiter.take(limit, {"a": 9}) == {"a": 5}
    # Two windows later the federation starts afresh.
    monkeypatch.setattr(throttle.time, "time", lambda: 6_000_200.0)
    assert await limiter.take(limit, {"a": 12}) == {"a": 10}


@pytest.fixture
def proxied_portal(transactional_db, tmp_path, clean_auth_counts):
    portal = start_portal(tmp_path, {"DATABASE_URL": database_url(), "F2F_INGEST_AUTH_FAILURES": "3",
                                     "F2F_TRUSTED_PROXIES": "127.0.0.1, ::1"})
    yield portal
    stop(portal.process)


def test_failed_connections_are_limited_per_client_address(proxied_portal, reporting_federation):
    federation, token = reporting_federation
    good, bad = {"federation": federation.pk, "token": token}, {"federation": federation.pk, "token": "f2f_guess"}
    guesser = "203.0.113.7"
    for _ in range(3):
        assert Reporter(proxied_portal, bad, forwarded_for=guesser).refusal == protocol.REFUSED_TOKEN
    # Blocked now, the right token included: a guesser cannot tell it found one.
    blocked = Reporter(proxied_portal, good, forwarded_for=guesser)
    assert blocked.refusal == protocol.REFUSED_ADDRESS and not blocked.client.connected
    # Only that address: another client behind the same proxy still reports.
    other = Reporter(proxied_portal, good, forwarded_for=f"{guesser}, 198.51.100.20")
    assert other.refusal is None and other.client.connected
    assert other.client.call("state", STATE, timeout=10) == {"ok": True}
    other.client.disconnect()


def test_failures_against_one_federation_do_not_lock_out_another_from_the_same_address(
        proxied_portal, reporting_federation, make_federation):
    federation, token = reporting_federation
    other = make_federation(name="Neighbour")
    for _ in range(3):
        guess = Reporter(proxied_portal, {"federation": other.pk, "token": "f2f_guess"}, forwarded_for="203.0.113.7")
        assert guess.refusal == protocol.REFUSED_TOKEN
    assert Reporter(proxied_portal, {"federation": other.pk, "token": "f2f_guess"},
                    forwarded_for="203.0.113.7").refusal == protocol.REFUSED_ADDRESS
    neighbour = Reporter(proxied_portal, {"federation": federation.pk, "token": token}, forwarded_for="203.0.113.7")
    assert neighbour.refusal is None and neighbour.client.connected
    neighbour.client.disconnect()


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(transactional_db, tmp_path, reporting_federation,
                                                            clean_auth_counts):
    federation, token = reporting_federation
    portal = start_portal(tmp_path, {"DATABASE_URL": database_url(), "F2F_INGEST_AUTH_FAILURES": "2"})
    try:
        for n in range(2):  # a guesser naming a new address each time is still one peer
            Reporter(portal, {"federation": federation.pk, "token": "f2f_guess"}, forwarded_for=f"203.0.113.{n}")
        refused = Reporter(portal, {"federation": federation.pk, "token": token}, forwarded_for="198.51.100.20")
    finally:
        stop(portal.process)
    assert refused.refusal == protocol.REFUSED_ADDRESS


@pytest.mark.parametrize(("peer", "forwarded_for", "address"), [
    ("192.0.2.1", None, "192.0.2.1"),
    ("192.0.2.1", "203.0.113.9", "192.0.2.1"),  # not from a trusted proxy: the header is anyone's
    ("10.0.0.2", "203.0.113.9", "203.0.113.9"),
    ("10.0.0.2", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the client's own entry is not believed
    ("10.0.0.2", "203.0.113.9, 10.0.0.3", "203.0.113.9"),  # through two trusted proxies
    ("10.0.0.2", "not-an-address", "10.0.0.2"),
    ("10.0.0.2", "", "10.0.0.2"),
    ("2001:db8:1:2:3:4:5:6", None, "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.1", None, "192.0.2.1"),  # an IPv4 client seen through a dual-stack socket
    ("::ffff:10.0.0.2", "::ffff:203.0.113.9", "203.0.113.9"),
])
def test_the_client_address_believes_only_trusted_proxies(settings, peer, forwarded_for, address):
    import ipaddress

    settings.F2F_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    environ = {"asgi.scope": {"client": (peer, 50000)}}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    assert ingest.client_address(environ) == address
