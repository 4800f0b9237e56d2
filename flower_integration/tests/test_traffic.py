"""The counting relay, the wire estimate and the WebSocket ledger of the traffic experiment."""

import os
import socket
import struct
import threading

import pytest

from flower_integration import experiment, traffic


@pytest.fixture
def echo_server():
    """A TCP server on a free port that answers each connection with what it received, twice, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                received = b""
                while data := connection.recv(65536):
                    received += data
                connection.sendall(received * 2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    listener.close()


def talk(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)  # the end of file reaches the server through the relay
        answer = b""
        while data := connection.recv(65536):
            answer += data
    return answer


def test_the_relay_forwards_both_ways_and_counts_every_byte_and_segment(echo_server):
    relay = traffic.CountingRelay(echo_server).start()
    sizes = [1, 5000, 3_000_000]
    try:
        for size in sizes:
            payload = os.urandom(size)
            assert talk(relay.port, payload) == payload * 2
    finally:
        counted = relay.stop()
    assert (counted.connections, counted.up, counted.down) == (3, sum(sizes), 2 * sum(sizes))
    # The kernel's counts for each connection, each way: at least a data segment, an acknowledgement and a FIN.
    assert counted.segments_up >= 3 * 3 and counted.segments_down >= 3 * 3
    assert 3 <= counted.data_segments_up < counted.segments_up and 3 <= counted.data_segments_down
    assert counted.wire > counted.payload


def test_a_connection_still_open_when_the_relay_stops_is_counted_and_closed():
    listener = socket.create_server(("127.0.0.1", 0))  # answers each chunk at once, never closes first

    def serve():
        connection, _ = listener.accept()
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    relay = traffic.CountingRelay(listener.getsockname()).start()
    connection = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    try:
        connection.sendall(b"x" * 1000)
        answer = b""
        while len(answer) < 1000:  # through the relay both ways: the connection is under way
            answer += connection.recv(1000)
        counted = relay.stop()
        try:
            assert connection.recv(10) == b""  # closed by the relay
        except ConnectionResetError:
            pass  # or reset
    finally:
        connection.close()
        listener.close()
    assert (counted.connections, counted.up, counted.down) == (1, 1000, 1000)


def test_a_target_that_refuses_is_a_closed_connection_not_a_hang():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        target = unused.getsockname()  # bound, not listening: connections to it are refused
        relay = traffic.CountingRelay(target).start()
        with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as connection:
            assert connection.recv(10) == b""
        assert relay.stop().connections == 0


def test_wire_bytes_on_ethernet_count_a_header_per_full_segment_and_an_ack_per_two():
    # 10 full Ethernet segments up, carried as one loopback segment; one small answer down.
    counted = traffic.Traffic(up=10 * traffic.ETHERNET_MSS, down=100, segments_up=3, segments_down=3,
                              data_segments_up=1, data_segments_down=1, connections=1)
    assert counted.ethernet_segments() == (10 + 2, 1 + 5)  # acks up: the 2 counted; down: one per two segments up
    assert counted.wire == counted.payload + traffic.FRAME_OVERHEAD * 18
    # Small messages: the loopback's own counts stand.
    small = traffic.Traffic(up=300, down=40, segments_up=6, segments_down=5, data_segments_up=3,
                            data_segments_down=2, connections=1)
    assert small.ethernet_segments() == (6, 5)
    assert (small + small).segments == 22


def frame(payload: bytes, *, opcode: int = 1, mask: bytes | None = b"\x01\x02\x03\x04") -> bytes:
    length = len(payload)
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if mask:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        head += mask
    return head + payload


def test_the_ledger_reads_the_upgrade_and_each_frame_however_the_bytes_are_cut():
    upgrade = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n"
    event = b'421["round",{"v":2,"round":1}]'
    stream = upgrade + frame(b"40" + b"{}") + frame(event) + frame(b"3") + frame(b"x" * 70000, opcode=2)
    for cut in (1, 7, len(stream)):
        ledger = traffic.WebSocketLedger()
        for start in range(0, len(stream), cut):
            ledger.feed(stream[start:start + cut])
        assert ledger.upgrade == len(upgrade)
        assert [(opcode, payload[:4]) for opcode, _, payload in ledger.frames] == [
            (1, b"40{}"), (1, event[:4]), (1, b"3"), (2, b"xxxx")]
        assert ledger.upgrade + ledger.framed == len(stream)


def test_a_run_tells_its_events_apart_from_the_rest_of_what_it_sent():
    ledger = traffic.WebSocketLedger()
    upgrade = b"GET / HTTP/1.1\r\n\r\n"
    frames = [frame(b'40{"federation":1}'), frame(b'420["state",{}]'), frame(b'4212["round",{"r":1}]'), frame(b"3")]
    ledger.feed(upgrade + b"".join(frames))
    run = experiment.ServerRun(1, traffic.Traffic(), traffic.Traffic(up=len(upgrade) + sum(map(len, frames)), down=9),
                               [ledger], 0, 1.0)
    assert run.events() == [("state", len(frames[1])), ("round", len(frames[2]))]
    breakdown = run.indexer_breakdown()
    assert breakdown == {"upgrade_bytes": len(upgrade), "event_frames": 2, "event_bytes": len(frames[1]) + len(frames[2]),
                         "other_frame_bytes": len(frames[0]) + len(frames[3]), "received_bytes": 9,
                         "round_events": 1, "state_events": 1}


@pytest.mark.parametrize(("clients", "rounds", "copies"), [(2, 2, 13), (1, 1, 4), (5, 3, 46)])
def test_fedavg_moves_a_copy_up_to_start_then_three_per_client_and_round(clients, rounds, copies):
    assert experiment.expected_copies(clients, rounds) == copies
