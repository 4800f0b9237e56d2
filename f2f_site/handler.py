"""Django's ASGI handler, with each request's synchronous part on one of a few long-lived threads.

Django enters a new ``asgiref.sync.ThreadSensitiveContext`` for every request, and asgiref gives each
such context a thread of its own, started for the request and joined after it. Django's database
connections belong to the thread that opened them: every request therefore opened a new connection
(on PostgreSQL a few milliseconds, more than a whole federation page's queries) and ``CONN_MAX_AGE``
never had a connection to reuse. Here a request borrows one of ``threads`` single-thread executors
for all its synchronous work (middleware, view, template, ``response.close``), through asgiref's
``ThreadSensitiveContext(executor=...)`` (asgiref 3.13, pinned), so that thread's connection serves
request after request, closed only by the usual ``CONN_MAX_AGE`` and health checks. A request that
finds every thread busy is served as Django would: on a thread of its own.

The middleware chain and the view run as under WSGI, synchronously, in one hop to that thread.
Loaded for ASGI, Django runs each middleware's ``process_request`` and ``process_response`` through
``sync_to_async`` of their own (``MiddlewareMixin.__acall__``), and WhiteNoise, which is sync-only,
splits the chain further (a hop to the thread, then ``async_to_sync`` back to the loop for the rest):
fifteen hops between the event loop and the thread per request, ~2.5 ms of a federation page's ~6
(measured). No view or middleware of the portal is asynchronous (one that was would still work, through
``async_to_sync``), so the loop gained nothing from them.
"""

from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

REQUEST_THREADS = 8


class PooledThreadsASGIHandler(ASGIHandler):
    def __init__(self, threads: int = REQUEST_THREADS):
        super().__init__()
        # Each executor has one thread and serves one request at a time: a request's queries may then
        # rely on its thread's connection being theirs alone, as under Django's own handler.
        self._idle = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}") for n in range(threads)]
        self._executors = list(self._idle)

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)  # the chain as WSGI runs it: see the module's docstring

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self._idle:
            return await super().__call__(scope, receive, send)
        executor = self._idle.pop()  # the event loop's thread only: no lock needed
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._idle.append(executor)

    def close(self) -> None:
        """Close the threads' database connections and end the threads (tests; a server just exits)."""
        for executor in self._executors:
            executor.submit(connections.close_all).result()
            executor.shutdown()


def get_asgi_application(threads: int = REQUEST_THREADS) -> PooledThreadsASGIHandler:
    """``django.core.asgi.get_asgi_application``, with the handler above."""
    django.setup(set_prefix=False)
    return PooledThreadsASGIHandler(threads)
