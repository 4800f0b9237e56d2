"""Requests borrow long-lived threads, so their database connections serve request after request."""

import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished
from django.db import connections

from f2f_site.handler import PooledThreadsASGIHandler


async def get(application, path="/"):
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [],
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    while (await communicator.receive_output(timeout=10)).get("more_body"):
        pass
    await communicator.wait()
    return start["status"]


@pytest.fixture
def served_on():
    """The thread and the database connection that finished each request."""
    seen = []

    def note(**kwargs):
        seen.append((threading.current_thread(), connections["default"].connection))  # ids are reused, objects kept

    request_finished.connect(note, weak=False)
    yield seen
    request_finished.disconnect(note)
    for _, connection in seen:  # those of threads that are gone: the test database is dropped next
        if connection is not None:
            connection.close()


def test_one_after_another_requests_share_a_thread_and_its_connection(transactional_db, federation, served_on):
    handler = PooledThreadsASGIHandler(threads=1)
    try:
        for _ in range(3):
            assert async_to_sync_get(handler) == 200
    finally:
        handler.close()
    threads, connections_used = zip(*served_on)
    assert len(set(threads)) == 1
    assert connections_used[0] is not None and all(used is connections_used[0] for used in connections_used)


def test_django_alone_gives_each_request_a_new_thread(transactional_db, federation, served_on):
    """Why the handler exists: if this starts failing, Django reuses threads by itself and it can go."""
    handler = ASGIHandler()
    for _ in range(2):
        assert async_to_sync_get(handler) == 200
    assert len({thread for thread, _ in served_on}) == 2


def test_concurrent_requests_beyond_the_pool_are_still_served(transactional_db, federation, served_on):
    import asyncio

    handler = PooledThreadsASGIHandler(threads=2)

    async def many():
        return await asyncio.gather(*(get(handler) for _ in range(6)))

    try:
        from asgiref.sync import async_to_sync

        assert async_to_sync(many)() == [200] * 6
    finally:
        handler.close()


def async_to_sync_get(handler):
    from asgiref.sync import async_to_sync

    return async_to_sync(get)(handler)
