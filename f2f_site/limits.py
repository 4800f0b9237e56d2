"""A cap on HTTP request bodies that acts before Django reads them.

Under ASGI, Django spools the whole body before any view, upload handler or form runs, so a
limit checked there comes too late: the bytes are already in memory or in a temporary file.
``RequestBodyLimit`` sits in front of Django: a declared ``Content-Length`` over the cap is
answered 413 without reading anything, and a body that turns out larger while streaming is
cut off at the cap. Nothing of a refused request reaches Django.
"""

import json

TOO_LARGE = json.dumps({"error": "request body too large"}).encode()


class RequestBodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(send)

        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._refuse(send)
            chunks.append(chunk)
            more = message.get("more_body", False)

        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send):
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": TOO_LARGE})
