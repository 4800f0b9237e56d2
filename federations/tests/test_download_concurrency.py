import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from federations.models import Federation

THREADS, DOWNLOADS_EACH = 12, 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_downloads_are_all_counted(make_federation):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; concurrency is checked on PostgreSQL")
    federation = make_federation()
    url = reverse("federations:download", args=[federation.slug])
    start = threading.Barrier(THREADS)
    failures = []

    def download():
        client = Client()
        try:
            start.wait()
            for _ in range(DOWNLOADS_EACH):
                if client.get(url).status_code != 200:
                    failures.append("non-200")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=download) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert Federation.objects.get(pk=federation.pk).download_count == THREADS * DOWNLOADS_EACH
