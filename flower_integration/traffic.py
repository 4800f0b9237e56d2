"""Counting the bytes that cross a port: a relay in front of a server, with no root-only tool.

``CountingRelay`` listens on a port of its own and forwards each connection to its target,
counting the payload bytes (what the applications wrote, TLS-free here) each way. When a
connection ends it reads the kernel's own counts of the TCP segments on the client's side
(``TCP_INFO``: segments in and out, and of those the ones that carried data), so the
acknowledgements, the handshake and the closing are counted too.

Wire bytes are estimated from these for an Ethernet path (MTU 1500, TCP timestamps on, as
Linux has them): each segment costs ``FRAME_OVERHEAD`` bytes of Ethernet, IPv4 and TCP
headers. On loopback a segment carries up to 64 KiB; on Ethernet at most ``ETHERNET_MSS``
bytes, and the receiver acknowledges about every second full segment. So each way, the data
segments are the more of those counted and ``ceil(payload / ETHERNET_MSS)``, and the
acknowledgement-only segments the more of those counted and half the other way's data
segments. Preamble and inter-frame gap are not counted.

``WebSocketLedger`` reads a client's stream to a WebSocket server (the reporter's to the
Indexer) as it passes: the HTTP upgrade, then each frame, with its size on the wire of the
connection, so that the Indexer's traffic can be told apart into handshake, events and the rest.
"""

import asyncio
import dataclasses
import math
import socket
import struct
import threading

FRAME_OVERHEAD = 14 + 20 + 32  # Ethernet header, IPv4 header, TCP header with the timestamps option
ETHERNET_MSS = 1500 - 20 - 32  # payload bytes a full segment carries on Ethernet with TCP timestamps
_CHUNK = 256 * 1024
_CLOSING_GRACE = 0.05  # seconds for the last FIN and ACK to arrive before the segments are read


@dataclasses.dataclass
class Traffic:
    """Bytes and segments one way and the other, as seen from the client: ``up`` is client to server."""

    up: int = 0
    down: int = 0
    segments_up: int = 0
    segments_down: int = 0
    data_segments_up: int = 0
    data_segments_down: int = 0
    connections: int = 0

    def __add__(self, other: "Traffic") -> "Traffic":
        return Traffic(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    @property
    def payload(self) -> int:
        return self.up + self.down

    @property
    def segments(self) -> int:
        return self.segments_up + self.segments_down

    def ethernet_segments(self) -> tuple[int, int]:
        """Segments up and down on an Ethernet path (see the module's note)."""
        data_up = max(self.data_segments_up, math.ceil(self.up / ETHERNET_MSS))
        data_down = max(self.data_segments_down, math.ceil(self.down / ETHERNET_MSS))
        acks_up = max(self.segments_up - self.data_segments_up, math.ceil(data_down / 2))
        acks_down = max(self.segments_down - self.data_segments_down, math.ceil(data_up / 2))
        return data_up + acks_up, data_down + acks_down

    @property
    def wire(self) -> int:
        """Payload and headers on an Ethernet path, both ways."""
        return self.payload + FRAME_OVERHEAD * sum(self.ethernet_segments())


def tcp_segments(sock: socket.socket) -> tuple[int, int, int, int]:
    """(segments in, segments out, data segments in, data segments out) of an accepted TCP socket (Linux).

    An accepted socket counts the client's SYN among the segments in, not its SYN-ACK among those out
    (the listening socket sent it): it is added here.
    """
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    # struct tcp_info: tcpi_segs_out and tcpi_segs_in at 136 and 140, tcpi_data_segs_in and _out at 152 and 156.
    segs_out, segs_in = struct.unpack_from("=II", info, 136)
    data_in, data_out = struct.unpack_from("=II", info, 152)
    return segs_in, segs_out + 1, data_in, data_out


class WebSocketLedger:
    """The client's side of a WebSocket connection, frame by frame, as bytes pass (see the module's note).

    ``upgrade``: the bytes of the HTTP request; ``frames``: (opcode, bytes on the wire, payload) of each
    frame, its payload unmasked.
    """

    def __init__(self):
        self.upgrade = 0
        self.frames: list[tuple[int, int, bytes]] = []
        self._buffer = b""
        self._upgraded = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.upgrade, self._upgraded = end + 4, True
            self._buffer = self._buffer[end + 4:]
        while (frame := self._frame()) is not None:
            self.frames.append(frame)

    def _frame(self):
        data = self._buffer
        if len(data) < 2:
            return None
        opcode, masked, length = data[0] & 0x0F, data[1] & 0x80, data[1] & 0x7F
        at = 2
        if length == 126:
            if len(data) < 4:
                return None
            length, at = struct.unpack_from("!H", data, 2)[0], 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, at = struct.unpack_from("!Q", data, 2)[0], 10
        mask = b""
        if masked:
            mask, at = data[at:at + 4], at + 4
        if len(data) < at + length:
            return None
        payload = data[at:at + length]
        if masked:
            payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self._buffer = data[at + length:]
        return opcode, at + length, payload

    @property
    def framed(self) -> int:
        """The bytes of every whole frame read so far."""
        return sum(size for _, size, _ in self.frames)


class CountingRelay:
    """Forwards connections from ``port`` (a free one by default) to ``target`` (host, port), counting them.

    Runs its own event loop on a thread: ``start``, then ``stop``, which ends every connection still open
    and returns the ``Traffic`` of them all; ``ledgers`` holds a ``WebSocketLedger`` per connection, from its
    start, when ``websocket`` is set.
    """

    def __init__(self, target: tuple[str, int], *, websocket: bool = False):
        self.target, self.websocket = target, websocket
        self.port = 0
        self.traffic = Traffic()
        self.ledgers: list[WebSocketLedger] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="f2f-counting-relay", daemon=True)
        self._server = None
        self._open: set[asyncio.Task] = set()
        self._lock = threading.Lock()

    def start(self) -> "CountingRelay":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> Traffic:
        async def close():
            await asyncio.sleep(_CLOSING_GRACE)  # connections waiting to be accepted are served, and counted
            self._server.close()
            for task in list(self._open):
                task.cancel()
            await asyncio.gather(*self._open, return_exceptions=True)
            await self._server.wait_closed()

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()
        return self.traffic

    async def _serve(self, client_reader, client_writer):
        task = asyncio.current_task()
        self._open.add(task)
        counted = Traffic(connections=1)
        ledger = WebSocketLedger() if self.websocket else None
        client_socket = client_writer.get_extra_info("socket")
        writers = [client_writer]
        ended = []

        def end() -> None:
            """Read the kernel's counts while the socket is still open, once, then close both ways."""
            if not ended:
                ended.append(True)
                try:
                    (counted.segments_up, counted.segments_down,
                     counted.data_segments_up, counted.data_segments_down) = tcp_segments(client_socket)
                except (OSError, AttributeError, struct.error):  # closed already, or not Linux: payload only
                    pass
            for writer in writers:
                writer.transport.abort()

        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
            except OSError:  # the target refuses: no connection to count
                counted.connections = 0
                return
            writers.append(server_writer)
            if ledger is not None:
                with self._lock:
                    self.ledgers.append(ledger)  # read as it fills (the experiment's progress)
            await asyncio.gather(self._pump(client_reader, server_writer, counted, "up", ledger, end),
                                 self._pump(server_reader, client_writer, counted, "down", None, end))
            await asyncio.sleep(_CLOSING_GRACE)
        except asyncio.CancelledError:  # the relay stops
            pass
        finally:
            end()
            with self._lock:
                self.traffic = self.traffic + counted
            self._open.discard(task)

    @staticmethod
    async def _pump(reader, writer, counted: Traffic, way: str, ledger: WebSocketLedger | None, end):
        """Copy one way until its end of file, which is passed on; a connection reset ends both ways (``end``)."""
        try:
            while data := await reader.read(_CHUNK):
                setattr(counted, way, getattr(counted, way) + len(data))
                if ledger is not None:
                    ledger.feed(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            end()
