"""The ingest's rate limits: events per federation, failed connection attempts per client address.

A limit allows about ``limit`` hits of one key per ``seconds``. It is counted in two fixed
windows and estimated as a sliding one (the previous window's count, weighted by how much of it
the sliding window still covers, plus the current window's count): no entry per hit is stored,
and a burst at a window's edge gets little more than the limit (at worst twice it, when the
previous window's hits all came at its very end).

Counts live in Redis when the portal has one, so every portal process serving the ingest
shares them; in the embedded mode there is one process and they live in its memory. A whole
batch of events is checked in one Redis call (``take``: a script, so that Redis, not Python,
does the per-key work).
"""

import asyncio
import math
import time
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

KEY_PREFIX = "f2f:limit"


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    seconds: int

    def keys(self, key: str, now: float) -> tuple[str, str, float]:
        """The current and the previous window's counter, and how far into the current window ``now`` is (0..1)."""
        window, into = divmod(now, self.seconds)
        base = f"{KEY_PREFIX}:{self.name}:{urllib.parse.quote(key, safe=':./')}"  # no spaces: see RedisCounts
        return f"{base}:{int(window)}", f"{base}:{int(window) - 1}", into / self.seconds

    def allowed(self, *, previous: int, current: int, into: float) -> int:
        """How many more hits the estimate leaves room for."""
        return max(0, math.floor(self.limit - previous * (1 - into) - current))


class MemoryCounts:
    """Counters in this process (the embedded mode)."""

    def __init__(self):
        self.counts: dict[str, tuple[int, float]] = {}
        self.swept = 0.0

    async def add_and_read(self, entries, ttl):
        """For each (key, amount, other_key): add ``amount`` to ``key``; the new count and ``other_key``'s."""
        now = time.monotonic()
        if len(self.counts) > 100_000 and now > self.swept + ttl:  # forget expired counters, at most once a ttl
            self.counts = {key: entry for key, entry in self.counts.items() if entry[1] > now}
            self.swept = now
        results = []
        for key, amount, other in entries:
            count, expires = self.counts.get(key, (0, 0.0))
            count = (count if expires > now else 0) + amount
            self.counts[key] = (count, now + ttl)
            other_count, other_expires = self.counts.get(other, (0, 0.0))
            results.append((count, other_count if other_expires > now else 0))
        return results

    async def subtract(self, entries, ttl):
        for key, amount in entries:
            count, expires = self.counts.get(key, (0, 0.0))
            self.counts[key] = (max(0, count - amount), expires)


class RedisCounts:
    """Counters in Redis, shared by every portal process; one script call per batch of keys."""

    # ARGV: the ttl, then "counter amount other-counter" for each entry, all in one string (one argument
    # rather than three per entry: redis-py encodes each argument in Python, 6 microseconds an event).
    # Returns each counter's new count and its other counter's count. (Its keys are not declared in
    # KEYS: the counts live on one Redis, not a cluster.)
    ADD_AND_READ = """
    local results = {}
    for key, amount, other in string.gmatch(ARGV[2], "(%S+) (%S+) (%S+)") do
        results[#results + 1] = redis.call("INCRBY", key, amount)
        redis.call("EXPIRE", key, ARGV[1])
        results[#results + 1] = tonumber(redis.call("GET", other) or "0")
    end
    return results
    """

    def __init__(self, url: str):
        from redis import asyncio as aioredis

        self.redis = aioredis.Redis.from_url(url)
        self.add_and_read_script = self.redis.register_script(self.ADD_AND_READ)

    async def add_and_read(self, entries, ttl):
        listed = " ".join(f"{current} {amount} {other}" for current, amount, other in entries)
        replies = await self.add_and_read_script(args=[ttl, listed])
        return list(zip(replies[::2], replies[1::2]))

    async def subtract(self, entries, ttl):
        pipe = self.redis.pipeline(transaction=False)
        for key, amount in entries:
            pipe.decrby(key, amount)
            pipe.expire(key, ttl)  # had it expired meanwhile, DECRBY made a new key: never keep it
        await pipe.execute()


class Throttle:
    def __init__(self, counts):
        self.counts = counts
        self.events = Limit("ingest-events", settings.F2F_INGEST_EVENTS, settings.F2F_INGEST_EVENTS_SECONDS)
        self.auth_failures = Limit(
            "ingest-auth-failures", settings.F2F_INGEST_AUTH_FAILURES, settings.F2F_INGEST_AUTH_FAILURES_SECONDS
        )

    @classmethod
    def from_settings(cls) -> "Throttle":
        return cls(RedisCounts(settings.REDIS_URL) if settings.REDIS_URL else MemoryCounts())

    async def take(self, limit: Limit, wanted: dict) -> dict:
        """Count ``wanted[key]`` hits of each key, as many as its limit allows; how many were allowed.

        Hits over the limit are not counted: a federation that slows down gets through again
        as soon as its window has room.
        """
        now = time.time()
        entries, intos = [], []
        for key, amount in wanted.items():
            current, previous, into = limit.keys(str(key), now)
            entries.append((current, amount, previous))
            intos.append(into)
        counts = await self.counts.add_and_read(entries, 2 * limit.seconds)
        allowed, refunds = {}, []
        for (current, amount, _), (count, previous), into, key in zip(entries, counts, intos, wanted):
            allowed[key] = min(amount, limit.allowed(previous=previous, current=count - amount, into=into))
            if allowed[key] < amount:
                refunds.append((current, amount - allowed[key]))
        if refunds:
            await self.counts.subtract(refunds, 2 * limit.seconds)
        return allowed

    async def take_events(self, per_federation: dict) -> dict:
        return await self.take(self.events, per_federation)

    async def address_blocked(self, address: str) -> bool:
        current, previous, into = self.auth_failures.keys(address, time.time())
        [(count, before)] = await self.counts.add_and_read([(current, 0, previous)], 2 * self.auth_failures.seconds)
        return self.auth_failures.allowed(previous=before, current=count, into=into) < 1

    async def count_failure(self, address: str) -> None:
        current, previous, _ = self.auth_failures.keys(address, time.time())
        await self.counts.add_and_read([(current, 1, previous)], 2 * self.auth_failures.seconds)


_throttle: tuple[asyncio.AbstractEventLoop, Throttle] | None = None


def throttle() -> Throttle:
    """The throttle of the running event loop (the Redis client's connections belong to one loop)."""
    global _throttle
    loop = asyncio.get_running_loop()
    if _throttle is None or _throttle[0] is not loop:
        _throttle = (loop, Throttle.from_settings())
    return _throttle[1]
