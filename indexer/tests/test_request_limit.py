"""The request-body cap holds while daphne reads: a body over it is refused at the edge, on every path.

Each oversize test streams up to 300 MB to a real portal process and stops as soon as the portal
answers or closes, while a watcher samples the process's resident memory and the temporary files
it holds open. Nothing larger than the cap may be written, memory must stay flat, and the portal
must have read at most the cap plus one socket read before refusing.
"""

import json
import os
import re
import select
import socket
import stat
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests
import websocket
from django.conf import settings

from conftest import CLIENT_SCRIPT, database_url, start_portal, stop
from federations import services as federation_services
from federations.models import Federation, LiveState
from indexer.models import Candidacy

SENT_AT_MOST = 300 * 1024 * 1024
PIECE = 64 * 1024
READ_BUFFER = 64 * 1024  # what Twisted reads from a socket at once (FileDescriptor.bufferSize)
RSS_GROWTH_AT_MOST = 30 * 1024 * 1024
# What the sender's and the portal's kernels may hold between them: socket buffers, not read yet.
KERNEL_BUFFERS = 8 * 1024 * 1024
REFUSED = re.compile(r"refused a request body over (\d+) bytes .* after reading (\d+)")


@pytest.fixture
def portal(transactional_db, tmp_path):
    """A real portal whose temporary files go to a directory of its own, so they can be watched."""
    temp_dir = tmp_path / "portal-tmp"
    temp_dir.mkdir()
    portal = start_portal(tmp_path, {"DATABASE_URL": database_url(), "TMPDIR": str(temp_dir),
                                     "F2F_LOG_LEVEL": "INFO"})  # refusals are logged at INFO
    portal.temp_dir = temp_dir
    yield portal
    stop(portal.process)


class Watch(threading.Thread):
    """Samples a process's resident memory and the largest temporary file it holds, until stopped."""

    def __init__(self, pid: int, temp_dir: Path):
        super().__init__(daemon=True)
        self.pid, self.temp_dir, self.done = pid, str(temp_dir), threading.Event()
        self.rss_before = self.rss_peak = self.rss()
        self.largest_temp_file, self.temp_files_seen = 0, set()

    def rss(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def temp_files(self):
        """(name, size) of the regular files under the temp dir that the process has open."""
        fd_dir = f"/proc/{self.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                target, info = os.readlink(f"{fd_dir}/{fd}"), os.stat(f"{fd_dir}/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith(self.temp_dir) and stat.S_ISREG(info.st_mode):
                yield target, info.st_size
        for entry in os.scandir(self.temp_dir):  # files that someone left with a name
            yield entry.path, entry.stat().st_size

    def run(self):
        while not self.done.is_set():
            self.rss_peak = max(self.rss_peak, self.rss())
            for name, size in self.temp_files():
                self.temp_files_seen.add(name)
                self.largest_temp_file = max(self.largest_temp_file, size)
            time.sleep(0.01)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)  # let whatever the portal still does with the body show up
        self.done.set()
        self.join()


def stream(portal, path: str, headers: dict, chunked: bool) -> tuple[int, bytes]:
    """Sends up to 300 MB of body, stopping when the portal answers or closes.

    Returns the bytes the socket accepted and whatever answer came back (b"" if the portal
    just closed). A small send buffer keeps "accepted" close to what the portal read.
    """
    host, port = portal.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIECE)
    sock.connect((host, int(port)))
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/octet-stream\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "\r\n"
    sock.sendall(head.encode())
    piece = (b"%x\r\n" % PIECE + b"x" * PIECE + b"\r\n") if chunked else b"x" * PIECE
    sock.setblocking(False)
    accepted, pending, paused = 0, memoryview(piece), False
    while accepted < SENT_AT_MOST:
        if not paused and accepted > settings.F2F_MAX_REQUEST_BYTES * 3 // 4:
            time.sleep(0.5)  # a slow moment, so that the watcher sees the body being spooled
            paused = True
        readable, writable, _ = select.select([sock], [sock], [], 10)
        if readable:
            break
        assert writable, "the portal neither read nor answered for 10 s"
        try:
            sent = sock.send(pending)
        except (BrokenPipeError, ConnectionResetError):
            break
        accepted += sent
        pending = pending[sent:] or memoryview(piece)
    sock.setblocking(True)
    sock.settimeout(30)
    if accepted >= SENT_AT_MOST and chunked:  # never refused: end the body to see what the portal does with it
        sock.sendall(b"0\r\n\r\n")
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return accepted, answer


def polling_session(portal) -> str:
    """An Engine.IO polling session id: anyone gets one, no token needed."""
    with urllib.request.urlopen(portal.url + "/socket.io/?EIO=4&transport=polling", timeout=10) as response:
        return json.loads(response.read()[1:])["sid"]


def assert_refused_at_the_edge(portal, watch, accepted, answer):
    cap = settings.F2F_MAX_REQUEST_BYTES
    refusals = REFUSED.findall(portal.log())
    print(f"\naccepted by the socket: {accepted:,} B; portal read before refusing: "
          f"{[int(read) for _, read in refusals]} B; answer: {answer[:12]!r}; RSS {watch.rss_before / 2**20:.1f}"
          f" -> peak {watch.rss_peak / 2**20:.1f} MB; temp files {len(watch.temp_files_seen)}, largest "
          f"{watch.largest_temp_file:,} B")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 ")
    assert len(refusals) == 1 and int(refusals[0][0]) == cap
    assert int(refusals[0][1]) <= cap + READ_BUFFER
    assert accepted <= cap + KERNEL_BUFFERS  # the sender was stopped, long before 300 MB
    assert watch.largest_temp_file <= cap
    assert watch.rss_peak - watch.rss_before < RSS_GROWTH_AT_MOST


def test_a_chunked_300_mb_upload_is_cut_off_at_the_cap(portal):
    with Watch(portal.process.pid, portal.temp_dir) as watch:
        accepted, answer = stream(portal, "/be-a-server/", {}, chunked=True)
    assert_refused_at_the_edge(portal, watch, accepted, answer)
    assert not Candidacy.objects.exists()


def test_a_chunked_300_mb_socketio_poll_is_cut_off_at_the_cap(portal):
    sid = polling_session(portal)
    with Watch(portal.process.pid, portal.temp_dir) as watch:
        accepted, answer = stream(portal, f"/socket.io/?EIO=4&transport=polling&sid={sid}", {}, chunked=True)
    assert_refused_at_the_edge(portal, watch, accepted, answer)


def test_a_declared_oversize_body_is_refused_before_reading_it(portal):
    with Watch(portal.process.pid, portal.temp_dir) as watch:
        accepted, answer = stream(portal, "/be-a-server/", {"Content-Length": SENT_AT_MOST}, chunked=False)
    assert_refused_at_the_edge(portal, watch, accepted, answer)
    assert REFUSED.search(portal.log()).group(2) == "0"


def test_a_client_that_waits_for_continue_gets_a_plain_413(portal):
    host, port = portal.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /be-a-server/ HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {SENT_AT_MOST}\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer
    assert json.loads(body) == {"error": "request body too large"}


def test_a_chunked_body_within_the_cap_reaches_django(portal):
    body = b"x" * (settings.F2F_MAX_REQUEST_BYTES // 2)
    response = requests.post(portal.url + "/be-a-server/", data=iter([body[:1000], body[1000:]]), timeout=30)
    assert response.status_code == 403  # Django's CSRF check answered: the whole body got through
    assert "refused a request body" not in portal.log()


def test_a_200_kb_client_py_upload_still_works(portal, card):
    client_py = CLIENT_SCRIPT + b"#" * 79 + b"\n" * (200 * 1024 // 80)
    session = requests.Session()
    page = session.get(portal.url + "/be-a-server/", timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = session.post(portal.url + "/be-a-server/", allow_redirects=False, timeout=30,
                            data={**card, "num_rounds": 20, "min_clients": 2, "csrfmiddlewaretoken": csrf},
                            files={"client_file": ("Client.py", client_py)})
    assert response.status_code == 302, response.text[:500]
    assert bytes(Candidacy.objects.get().client_content) == client_py


def test_socketio_over_polling_still_works(portal, make_federation):
    # Spoken by hand: python-socketio's client waits ~30 s on disconnect for its pending long-poll.
    federation = make_federation()
    token = federation_services.reporting_token_issue(federation=federation)
    session, poll = requests.Session(), f"/socket.io/?EIO=4&transport=polling&sid={polling_session(portal)}"

    def post(packet):
        assert session.post(portal.url + poll, data=packet.encode(), timeout=10).text == "OK"

    def received():
        return session.get(portal.url + poll, timeout=10).text.split("\x1e")

    post("40" + json.dumps({"federation": federation.pk, "token": token}))
    assert received()[0].startswith("40{")  # Socket.IO connected
    state = {"v": 2, "run": "r1", "started": 1_750_000_000_000, "phase": "training", "round": 1, "total_rounds": 5,
             "connected_clients": 2, "min_clients": 2, "fraction_fit": 1.0}
    post("420" + json.dumps(["state", state]))
    assert [json.loads(p[3:]) for p in received() if p.startswith("430")] == [[{"ok": True}]]
    post("1")  # Engine.IO close
    assert LiveState.objects.get(pk=federation.pk).current_round == 1


def test_a_websocket_message_over_the_cap_closes_the_socket(transactional_db, tmp_path, federation):
    """The cap is autobahn's message limit too; a cap below daphne's 1 MiB default shows it is ours."""
    cap = 256 * 1024
    portal = start_portal(tmp_path, {"DATABASE_URL": database_url(), "F2F_MAX_REQUEST_BYTES": str(cap)})
    try:
        ws = websocket.create_connection(portal.url.replace("http", "ws") + f"/ws/catalog/?ids={federation.pk}",
                                         timeout=10, origin=portal.url)
        ws.recv()  # the current state of the federation it shows
        ws.send_binary(b"x" * (cap + 1))
        try:
            opcode, data = ws.recv_data(control_frame=True)
            closed = (opcode, int.from_bytes(data[:2], "big")) == (websocket.ABNF.OPCODE_CLOSE, 1009)  # too big
        except ConnectionResetError:  # autobahn dropped the connection before its close frame was read
            closed = True
        ws.close()
    finally:
        stop(portal.process)
    assert closed
