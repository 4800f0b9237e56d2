"""The ceiling for bench/catalog.py: a bare ASGI app under daphne answering every request with one
fixed HTML page of BENCH_PAGE_BYTES bytes (the portal's catalog page's size), so the difference
between the two is what the portal does to build a page.

    BENCH_PAGE_BYTES=30000 .venv/bin/python -m daphne -p 8601 bench.bare_page:application
"""

import os

BODY = (b"<!doctype html><title>bare</title>" + b"x" * int(os.environ.get("BENCH_PAGE_BYTES", "30000")))[
    :max(int(os.environ.get("BENCH_PAGE_BYTES", "30000")), 40)]
HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(BODY)).encode())]


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
