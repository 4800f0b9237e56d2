"""The heartbeat sweep at network scale: 100,000 federations, 10,000 of them silent.

    .venv/bin/python bench/heartbeat.py --runs 5
    (services mode: BENCH_DATABASE_URL, BENCH_REDIS_URL; defaults below)

Each run marks ``--silent`` online federations as past their deadline (and the rest online and
alive), then times the whole sweep (``federations_mark_silent_offline``: the conditional UPDATE
and its pushes) and, beside it, how long a subscriber of the live group takes to receive every
new state. The ceiling beside it is the bare UPDATE of the same rows in SQL. Target: ≤ 1 s.
"""

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/f2f_heartbeat_bench")
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "f2f_site.settings.local")
os.environ.setdefault("F2F_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from channels.layers import get_channel_layer  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from federations import demo, live, services  # noqa: E402
from federations.models import Federation, LiveState, OnlineSpell, Status  # noqa: E402

TARGET_SECONDS = 1.0


def prepare(silent: int) -> list[int]:
    now = timezone.now()
    ids = list(Federation.objects.order_by("id").values_list("id", flat=True))
    LiveState.objects.update(status=Status.ONLINE, offline_after=now + timezone.timedelta(hours=1))
    LiveState.objects.filter(pk__in=ids[::len(ids) // silent][:silent]).update(
        offline_after=now - timezone.timedelta(seconds=1))
    # Every online federation is in an open spell of uptime, which the sweep ends for the silent ones.
    OnlineSpell.objects.all().delete()
    OnlineSpell.objects.bulk_create([OnlineSpell(federation_id=pk, started=now - timezone.timedelta(hours=2))
                                     for pk in ids], batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE federations_livestate")
        cursor.execute("VACUUM ANALYZE federations_onlinespell")
    return ids


class Listener:
    """A subscriber of the live group in a thread of its own: counts the states it receives."""

    def __init__(self, expected: int):
        self.expected, self.received, self.done_at = expected, 0, None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)
        self.thread.start()
        self.ready.wait(10)

    async def _listen(self):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(live.LIVE_GROUP, channel)
        self.ready.set()
        while self.received < self.expected:
            message = await layer.receive(channel)
            self.received += len(message["federations"])
        self.done_at = time.perf_counter()


def run_once(silent: int) -> dict:
    prepare(silent)
    listener = Listener(silent)
    start = time.perf_counter()
    changed = services.federations_mark_silent_offline()
    swept = time.perf_counter() - start
    listener.thread.join(30)
    delivered = (listener.done_at - start) if listener.done_at else float("nan")

    prepare(silent)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE federations_livestate SET status = 'offline' WHERE status = 'online' "
                       "AND offline_after < now()")
    bare = time.perf_counter() - start
    return {"changed": len(changed), "sweep_s": swept, "received_s": delivered, "bare_update_s": bare}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--silent", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    added = demo.seed(args.count)
    print(f"seed: {added} added in {time.perf_counter() - started:.1f}s; {Federation.objects.count()} federations "
          f"on {connection.vendor}; load average {os.getloadavg()[0]:.2f}")
    rows = []
    for run in range(args.runs):
        row = run_once(args.silent)
        rows.append(row)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in row.items()), flush=True)
    med = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    print(f"\nmedians of {len(rows)} runs, {args.count} federations, {args.silent} silent:")
    print(f"  whole sweep (UPDATE + pushes sent)      {med['sweep_s']:.3f} s   target <= {TARGET_SECONDS} s")
    print(f"  until a subscriber has every new state  {med['received_s']:.3f} s")
    print(f"  bare UPDATE of the same rows (ceiling)  {med['bare_update_s']:.3f} s")


if __name__ == "__main__":
    main()
