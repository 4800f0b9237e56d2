"""Catalog, search and federation page response times at 100,000 federations, over real HTTP.

    .venv/bin/python bench/catalog.py --mode both --count 100000 --runs 3 --repeat 40

For each mode (services: PostgreSQL + Redis; embedded: SQLite), it seeds demo federations up to
--count (idempotent), then serves the portal as in production (``manage.py run_portal``: daphne)
and beside it, as the ceiling, a bare ASGI app under daphne that answers a fixed page of the
catalog page's size (bench/bare_page.py). One client on one keep-alive connection asks each
request --repeat times per run, for --runs runs. A second ceiling is the database's share: the SQL
each request ran (captured once through Django's test client) timed on a connection of its own.
Prints, per request, the medians over the runs of each run's median and 95th percentile, against
the targets (catalog and search p95 ≤ 50 ms, federation page p95 ≤ 10 ms), and the load average.

BENCH_DATABASE_URL and BENCH_REDIS_URL choose the services mode's database and Redis.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable

from bench.ingest import stop, wait_http  # noqa: E402

TARGETS = {"federation page": 10.0}
DEFAULT_TARGET = 50.0

# Runs in the mode's environment: prepares the data and prints the requests, the SQL ceiling and the page size.
PREPARE = r"""
import json, statistics, sys, time
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from federations import demo, selectors
from datetime import timedelta
from django.db.models import F
from django.utils import timezone
from federations.models import Federation, LiveState

count, repeat = int(sys.argv[1]), int(sys.argv[2])
settings.ALLOWED_HOSTS = ["*"]
call_command("migrate", verbosity=0)
started = time.perf_counter()
present = Federation.objects.filter(slug__startswith="demo-").count()
added = demo.seed(count) if present < count else 0
seeded = f"{added} added in {time.perf_counter() - started:.1f}s; {Federation.objects.count()} on {connection.vendor}"
# Demo federations are history (nothing reports for them); a network this size has servers reporting now: two in
# five are online here, with a deadline the heartbeat of an embedded portal does not reach during the run.
LiveState.objects.annotate(share=F("federation_id") % 5).filter(share__lt=2).exclude(phase="finished").update(
    status="online", last_update=timezone.now(), offline_after=timezone.now() + timedelta(days=1))
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
deep = selectors.Position.of(selectors.catalog(sort="newest")[49_975], "newest")
deep_active = selectors.Position.of(selectors.catalog(sort="active")[49_975], "active")
sample = Federation.objects.order_by("id").first()
requests = [
    ("catalog, first page", "/"),
    ("catalog, page 2000 (newest)", f"/?after={deep}"),
    ("catalog, page 2000 back (newest)", f"/?before={deep}"),
    ("catalog, page 2000 (most active)", f"/?sort=active&after={deep_active}"),
    ("search: one word", "/?q=fraud"),
    ("search: two prefixes", "/?q=chest+tri"),
    ("search: rare word, no hit", "/?q=zebrafish"),
    ("filter: category + online", "/?category=tabular&online=on"),
    ("filter: application, most downloaded", "/?application=Finance&sort=downloads"),
    ("search + filter + most active", "/?q=detection&category=object-detection&sort=active"),
    ("federation page", sample.get_absolute_url()),
    ("download Client.py", f"/federations/{sample.slug}/client.py"),
]
client = Client()
page_bytes = len(client.get("/").content)
sql = {}
for label, path in requests:
    if label.startswith("download"):
        continue  # a write: its SQL is not replayed
    client.get(path)  # warm the caches the portal keeps warm
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200, path
    statements = [query["sql"] for query in queries.captured_queries]
    samples = []
    with connection.cursor() as cursor:
        for _ in range(repeat):
            start = time.perf_counter()
            for statement in statements:
                cursor.execute(statement)
                cursor.fetchall()
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    sql[label] = [len(statements), statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]]
print(json.dumps({"seeded": seeded, "requests": requests, "sql": sql, "page_bytes": page_bytes}))
"""


def mode_env(mode: str, var_dir: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="f2f_site.settings.local", PYTHONUNBUFFERED="1", F2F_VAR_DIR=var_dir,
               FLWR_TELEMETRY_ENABLED="0", F2F_LOG_LEVEL="WARNING")
    if mode == "services":
        env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL",
                                             "postgres://postgres@127.0.0.1:5432/f2f_catalog_bench")
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
    return env


def timed(connection: http.client.HTTPConnection, path: str, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, (path, response.status, body[:200])
    return sorted(samples)


def p95(samples: list[float]) -> float:
    return samples[int(0.95 * (len(samples) - 1))]


def bench_mode(mode: str, args) -> dict:
    var_dir = args.var_dir or tempfile.mkdtemp(prefix=f"f2f-catalog-{mode}-")
    env = mode_env(mode, var_dir)
    subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    prepared = json.loads(subprocess.run([PYTHON, "-c", PREPARE, str(args.count), str(args.repeat)], cwd=ROOT,
                                         env=env, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    print(f"[{mode}] seed: {prepared['seeded']}; catalog page {prepared['page_bytes']} bytes", flush=True)
    portal_port, bare_port = args.port, args.port + 1
    servers = [
        subprocess.Popen([PYTHON, "manage.py", "run_portal", "--port", str(portal_port), "--no-workers"], cwd=ROOT,
                         env=env, stdout=open(f"{var_dir}/portal.log", "w"), stderr=subprocess.STDOUT),
        subprocess.Popen([PYTHON, "-m", "daphne", "-p", str(bare_port), "bench.bare_page:application"], cwd=ROOT,
                         env={**env, "BENCH_PAGE_BYTES": str(prepared["page_bytes"])},
                         stdout=open(f"{var_dir}/bare.log", "w"), stderr=subprocess.STDOUT),
    ]
    runs = []
    try:
        wait_http(f"http://127.0.0.1:{portal_port}/", servers[0])
        wait_http(f"http://127.0.0.1:{bare_port}/", servers[1])
        for run in range(args.runs):
            portal = http.client.HTTPConnection("127.0.0.1", portal_port)
            bare = http.client.HTTPConnection("127.0.0.1", bare_port)
            result = {"load": os.getloadavg()[0], "bare": timed(bare, "/", args.repeat)}
            for label, path in prepared["requests"]:
                timed(portal, path, 3)  # warm up
                result[label] = timed(portal, path, args.repeat)
            portal.close(), bare.close()
            runs.append(result)
            print(f"[{mode}] run {run + 1}: load {result['load']:.2f}, "
                  f"first page p95 {p95(result['catalog, first page']):.1f} ms", flush=True)
    finally:
        for server in servers:
            stop(server)
    return {"mode": mode, "prepared": prepared, "runs": runs}


def report(result: dict) -> None:
    runs, sql = result["runs"], result["prepared"]["sql"]

    def medians(label):
        return (statistics.median(statistics.median(run[label]) for run in runs),
                statistics.median(p95(run[label]) for run in runs))

    bare_median, bare_p95 = medians("bare")
    loads = [run["load"] for run in runs]
    print(f"\n{result['mode']}: {len(runs)} runs, load average {min(loads):.2f}-{max(loads):.2f} (1 min), "
          f"{os.cpu_count()} CPUs; bare daphne page ({result['prepared']['page_bytes']} bytes): "
          f"median {bare_median:.1f} ms, p95 {bare_p95:.1f} ms")
    print(f"{'request':38} {'median':>7} {'p95':>7} {'target':>7}  {'SQL: n':>6} {'median':>7} {'p95':>6}")
    for label, _ in result["prepared"]["requests"]:
        median, p95_ = medians(label)
        target = TARGETS.get(label, DEFAULT_TARGET)
        verdict = "" if label.startswith("download") else ("meets" if p95_ <= target else "MISSES")
        queries = sql.get(label)
        raw = f"{queries[0]:6d} {queries[1]:7.2f} {queries[2]:6.2f}" if queries else f"{'-':>6}"
        print(f"{label:38} {median:7.1f} {p95_:7.1f} {target:7.0f}  {raw}  {verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["services", "embedded", "both"], default="both")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=40, help="requests of each kind per run")
    parser.add_argument("--port", type=int, default=8640, help="the portal's port; the bare app's is the next one")
    parser.add_argument("--var-dir", help="the embedded mode's var dir (its SQLite database); default: a new one")
    args = parser.parse_args()
    modes = ["services", "embedded"] if args.mode == "both" else [args.mode]
    results = [bench_mode(mode, args) for mode in modes]
    for result in results:
        report(result)


if __name__ == "__main__":
    main()
