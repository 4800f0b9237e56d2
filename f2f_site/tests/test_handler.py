"""Requests borrow long-lived threads, so their database connections serve request after request; their
synchronous part (middleware and view) runs there in one go."""

import re
import threading
from urllib.parse import urlencode

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import User
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished
from django.db import connections

from f2f_site.handler import PooledThreadsASGIHandler


async def get(application, path="/"):
    status, _, _ = await request(application, path)
    return status


async def request(application, path="/", *, method="GET", headers=(), body=b""):
    """The status, the headers (lower-case names, a list of values each) and the body of one request."""
    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=10)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait()
    received = {}
    for name, value in start["headers"]:
        received.setdefault(name.decode().lower(), []).append(value.decode())
    return start["status"], received, content


@pytest.fixture
def handler():
    handler = PooledThreadsASGIHandler(threads=2)
    yield handler
    handler.close()


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


def test_a_request_goes_to_its_thread_three_times(transactional_db, federation, handler, monkeypatch):
    """Signal receivers of request_started, then middleware and view in one go, then response.close: with
    the middleware loaded for ASGI it was fifteen (two per middleware, more around WhiteNoise)."""
    hops = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", self.func))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    for path in ("/", federation.get_absolute_url()):
        hops.clear()
        assert async_to_sync(get)(handler, path) == 200
        assert len(hops) == 3, hops


def test_security_headers_and_csrf_still_guard_pages(transactional_db, handler):
    status, headers, body = async_to_sync(request)(handler, "/be-a-server/")
    assert status == 200
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["referrer-policy"] == ["same-origin"]
    assert headers["cross-origin-opener-policy"] == ["same-origin"]
    cookie = re.search(r"csrftoken=([^;]+)", " ".join(headers["set-cookie"])).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = [("content-type", "application/x-www-form-urlencoded")]

    refused, _, _ = async_to_sync(request)(handler, "/be-a-server/", method="POST", headers=form,
                                           body=urlencode({"name": "x"}).encode())
    assert refused == 403
    accepted, _, page = async_to_sync(request)(
        handler, "/be-a-server/", method="POST", headers=[*form, ("cookie", f"csrftoken={cookie}")],
        body=urlencode({"name": "x", "csrfmiddlewaretoken": token}).encode())
    assert accepted == 400 and b"This field is required" in page  # past CSRF, refused by the form itself


def test_sessions_and_users_still_reach_the_templates(transactional_db, federation, handler, client):
    client.force_login(User.objects.create_user("operator", is_staff=True))
    cookie = [("cookie", f"sessionid={client.cookies['sessionid'].value}")]
    for path in ("/", federation.get_absolute_url()):
        _, _, anonymous = async_to_sync(request)(handler, path)
        _, _, staff = async_to_sync(request)(handler, path, headers=cookie)
        assert b">Operators<" in staff and b">Operators<" not in anonymous


def test_static_files_are_still_served(transactional_db, handler):
    status, headers, body = async_to_sync(request)(handler, "/static/f2f/f2f.css")
    assert status == 200 and headers["content-type"][0].startswith("text/css") and body
