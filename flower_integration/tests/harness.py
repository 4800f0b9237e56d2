"""Starts the tests' federation as real processes: one Flower server and its clients over gRPC."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("numpy_federation.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env():
    return {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Flower server exited before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no Flower server on port {port}")


class Federation:
    """A running federation; ``wait`` returns the server's output once training is over."""

    def __init__(self, tmp_path, *, rounds=3, clients=2, server_args=(), client_delay=0.0):
        self.port = free_port()
        self.log = tmp_path / f"server-{self.port}.log"
        self.server = subprocess.Popen(
            [sys.executable, str(SCRIPT), "server", "--port", str(self.port), "--rounds", str(rounds),
             "--min-clients", str(clients), *map(str, server_args)],
            env=_env(), stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.server)
        self.clients = [
            subprocess.Popen(
                [sys.executable, str(SCRIPT), "client", "--server-address", f"127.0.0.1:{self.port}",
                 "--partition", str(i), "--partitions", str(clients), "--delay", str(client_delay)],
                env=_env(), stdout=(tmp_path / f"client-{self.port}-{i}.log").open("w"), stderr=subprocess.STDOUT,
            )
            for i in range(clients)
        ]

    def wait(self, timeout: float = 120) -> str:
        try:
            code = self.server.wait(timeout=timeout)
        finally:
            self.stop()
        output = self.log.read_text(errors="replace")
        assert code == 0, output
        return output

    def kill_server(self) -> None:
        self.server.kill()
        self.server.wait()

    def stop(self) -> None:
        for process in [self.server, *self.clients]:
            if process.poll() is None:
                process.terminate()
        for process in [self.server, *self.clients]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
