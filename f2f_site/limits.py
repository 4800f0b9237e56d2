"""Limits at the edge: the cap on request bodies, and who a client is for the rate limits.

The cap on request bodies is enforced while daphne reads them (settings.F2F_MAX_REQUEST_BYTES).

daphne reads a request's whole body into memory or a temporary file (twisted.web does that)
before it starts the ASGI application, then queues all of it at once; a limit inside the
application comes after the damage. ``CappedServer`` is daphne's ``Server`` whose requests
count body bytes as Twisted hands them over, on every path (Django, ``/socket.io/``, anything):

- a declared ``Content-Length`` over the cap is refused as soon as the headers are in, before
  any body byte is read;
- a chunked body is refused by the read that takes it over the cap, before that read is
  written anywhere, so at most the cap reaches the temporary file.

Refusing is a 413 and closing the connection without reading further: reading on (even to
discard) is what would let a 300 MB upload cost time and bandwidth. A client that keeps sending
may see the connection reset instead of the 413; one that sends ``Expect: 100-continue`` gets
the 413 cleanly. WebSocket messages are framed by autobahn, whose size limits the server sets
from the same cap.
"""

import ipaddress
import json
import logging

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from django.conf import settings

logger = logging.getLogger(__name__)

TOO_LARGE = json.dumps({"error": "request body too large"}).encode()
REFUSAL = (
    b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
)


class CappedRequest(WebRequest):
    """daphne's request, refusing a body over ``server.max_request_bytes`` while it arrives."""

    received = 0
    refused = False

    def gotLength(self, length):
        # Twisted calls this once the headers are in, before any body byte; None means chunked.
        if length is not None and length > self.server.max_request_bytes:
            self._refuse()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:  # the rest of the read that was refused
            return
        self.received += len(data)
        if self.received > self.server.max_request_bytes:
            self._refuse()
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        # A refused chunked body can still end inside the read that refused it: never run it.
        if not self.refused:
            super().requestReceived(command, path, version)

    def _refuse(self):
        self.refused = True
        peer = self.channel.transport.getPeer()
        logger.info("refused a request body over %d bytes from %s after reading %d",
                    self.server.max_request_bytes, getattr(peer, "host", peer), self.received)
        # Twisted answers "Expect: 100-continue" right after gotLength(); don't invite the body.
        self.requestHeaders.removeHeader(b"Expect")
        self.channel.transport.write(REFUSAL)
        self.channel.loseConnection()  # stops reading; unread data is dropped with the connection


class CappedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = CappedRequest
        return protocol


class CappedServer(Server):
    """daphne's ``Server`` with every request body capped at ``max_request_bytes``."""

    def __init__(self, *args, max_request_bytes: int, **kwargs):
        kwargs.setdefault("websocket_max_message_size", max_request_bytes)
        kwargs.setdefault("websocket_max_frame_size", max_request_bytes)
        super().__init__(*args, **kwargs)
        self.max_request_bytes = max_request_bytes

    # Server.run() builds daphne's HTTPFactory and listens with it in one go; replacing the
    # factory as run() assigns it puts the capped one in without copying run().
    @property
    def http_factory(self):
        return self._capped_http_factory

    @http_factory.setter
    def http_factory(self, _daphnes_factory):
        self._capped_http_factory = CappedHTTPFactory(self)


def client_address(peer: str, forwarded_for: str = "") -> str:
    """The address a client's requests are counted against (rate limits, failed connections).

    The peer's, unless the peer is one of ``settings.F2F_TRUSTED_PROXIES``: then the nearest
    address in ``forwarded_for`` (X-Forwarded-For) that is not a trusted proxy (proxies append, so
    only the part a trusted proxy wrote is believed). IPv6 clients count per /64, the block one
    host usually holds.
    """
    hops = [peer] + [hop.strip() for hop in reversed(forwarded_for.split(","))]
    address = None
    for hop in hops:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            break  # what follows a hop we cannot read is not believed
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not any(address in network for network in settings.F2F_TRUSTED_PROXIES):
            break
    if address is None:
        return str(peer)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4, not a /64 shared by all
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def request_client_address(request) -> str:
    """``client_address`` of a Django request."""
    return client_address(request.META.get("REMOTE_ADDR") or "unknown", request.META.get("HTTP_X_FORWARDED_FOR", ""))


def over_hourly_limit(request, *, group: str, per_hour: int) -> bool:
    """Whether this POST is one more than ``per_hour`` from its client's address within the hour (counted
    with django-ratelimit in the "limits" cache: Redis in the services mode, shared by every portal
    process). When the cache cannot be reached, nothing is refused: a report or a submission is worth
    more than the flood protection while Redis is down (logged)."""
    from django_ratelimit.core import is_ratelimited

    try:
        return is_ratelimited(request, group=group, key=lambda group, request: request_client_address(request),
                              rate=f"{per_hour}/h", method="POST", increment=True)
    except Exception:
        logger.warning("The rate limit %r could not be counted; the request goes through", group, exc_info=True)
        return False


def too_many(request, what: str):
    """The readable refusal of a client over a rate limit: HTTP 429, nothing saved, when to come back."""
    from django.shortcuts import render

    response = render(request, "too_many.html", {"what": what}, status=429)
    response["Retry-After"] = "3600"
    return response
