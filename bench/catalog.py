"""Catalog response times on a large catalog (run on demand; results go to docs/benchmarks.md).

    DATABASE_URL=... .venv/bin/python bench/catalog.py --count 100000 --repeat 30

Seeds demo federations up to --count (idempotent), then times full page renders of the
catalog for typical requests, the federation page and the download, through Django's test
client, in one run. Prints the median and the 95th percentile per request.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "f2f_site.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from federations import demo  # noqa: E402
from federations.models import Federation  # noqa: E402

REQUESTS = [
    ("catalog, first page", "/"),
    ("catalog, page 2000", "/?page=2000"),
    ("search: one word", "/?q=fraud"),
    ("search: two prefixes", "/?q=chest+tri"),
    ("search: rare word, no hit", "/?q=zebrafish"),
    ("filter: category + online", "/?category=tabular&online=on"),
    ("filter: application, most downloaded", "/?application=Finance&sort=downloads"),
    ("search + filter + most active", "/?q=detection&category=object-detection&sort=active"),
]


def timed(client, path, repeat):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    added = demo.seed(args.count)
    print(f"seed: {added} added in {time.perf_counter() - started:.1f}s; "
          f"{Federation.objects.count()} federations on {connection.vendor}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE federations_federation")

    client = Client()
    sample = Federation.objects.order_by("id").first()
    rows = [*REQUESTS, ("federation page", sample.get_absolute_url()),
            ("download Client.py", f"/federations/{sample.slug}/client.py")]
    client.get("/")  # warm up templates and connections
    print(f"{'request':40} {'median ms':>10} {'p95 ms':>8}")
    for label, path in rows:
        median, p95 = timed(client, path, args.repeat)
        print(f"{label:40} {median:10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
