"""The body cap acts before Django reads a byte of a refused request."""

import urllib.error
import urllib.request

from f2f_site.limits import TOO_LARGE, RequestBodyLimit
from indexer.models import Candidacy


def call(app, headers, chunks):
    import asyncio

    sent, messages = [], [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                          for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(RequestBodyLimit(app, max_bytes=100)({"type": "http", "headers": headers}, receive, send))
    return sent


class Recorder:
    def __init__(self):
        self.bodies = []

    async def __call__(self, scope, receive, send):
        self.bodies.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def test_a_declared_oversize_body_is_refused_unread():
    app = Recorder()
    sent = call(app, [(b"content-length", b"101")], [b"x" * 101])
    assert sent[0]["status"] == 413 and app.bodies == []


def test_a_streamed_body_that_grows_too_large_is_cut_off():
    app = Recorder()
    sent = call(app, [], [b"x" * 60, b"x" * 60])
    assert sent[0]["status"] == 413 and app.bodies == []


def test_a_body_within_the_cap_reaches_the_app_whole():
    app = Recorder()
    sent = call(app, [(b"content-length", b"100")], [b"a" * 50, b"b" * 50])
    assert sent[0]["status"] == 200 and app.bodies == [b"a" * 50 + b"b" * 50]


def test_an_oversize_upload_to_the_real_server_is_refused_with_nothing_stored(live_portal, card):
    body = b"--x\r\nContent-Disposition: form-data; name=\"client_file\"; filename=\"Client.py\"\r\n\r\n"
    body += b"#" * (5 * 1024 * 1024) + b"\r\n--x--\r\n"
    request = urllib.request.Request(live_portal.url + "/be-a-server/", data=body, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=x"})
    try:
        urllib.request.urlopen(request, timeout=30)
        answer = (200, b"")
    except urllib.error.HTTPError as error:
        answer = (error.code, error.read())
    assert answer == (413, TOO_LARGE)  # the limit's own answer: Django never saw the request
    assert not Candidacy.objects.exists()
