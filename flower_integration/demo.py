"""Run an example federation on this machine: its server and N clients as child processes.

    python -m flower_integration.demo --example digits --clients 2 --rounds 20 \\
        [--indexer http://127.0.0.1:8321 --federation 42 --token f2f_...] [--port 8080]

The server listens on a free 127.0.0.1 port unless ``--port`` is given (a SuperLink's 8000
and the portal's 8321 are left alone). The clients are the examples' own ``Client.py``,
run exactly as a participant would run the downloaded script. Whatever ends the demo
(the server finishing, a client failing, Ctrl+C or SIGTERM), no child process outlives it.

The children's output is shown line by line under their names, without the notices every start
of TensorFlow and of Flower's legacy API prints (GPU probes, oneDNN, deprecations): their count is
said at the end, and ``--verbose`` shows them. The children run in sessions of their own, so a
Ctrl+C reaches the demo alone, which then stops them once, cleanly (no traceback from each).
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

EXAMPLES = ("digits", "cifar_mobilenet")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
INTERRUPTED_EXIT_CODE = 130

# What TensorFlow logs at every start on a machine without a GPU, before its log level applies (absl's start-up
# lines from these sources), and the first line of a Flower deprecation notice (the notice runs to its last line).
START_UP_NOTICE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+ +\d+ (?:port|cudart_stub|cuda_platform|cuda_executor|cuda_diagnostics|cpu_feature_guard"
    r"|cuda_dnn|cuda_fft|cuda_blas|gpu_device)\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.")
DEPRECATION_START, DEPRECATION_END = "DEPRECATED FEATURE:", "entirely in future versions of Flower."
NOTICE_MAX_LINES = 20  # a notice that does not end as expected ends here: nothing after it is hidden
NEVER_HIDDEN = ("Traceback", "ERROR")  # a line of a notice that begins or holds these is shown all the same


class Interrupted(Exception):
    """SIGTERM, turned into an exception so that cleanup runs as it does for Ctrl+C."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env() -> dict:
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


class Relay:
    """Shows the children's output under their names, leaving out start-up notices (counted) unless verbose."""

    def __init__(self, *, verbose: bool = False):
        self.verbose, self.hidden, self.lock, self.threads = verbose, 0, threading.Lock(), []

    def follow(self, name: str, stream) -> None:
        thread = threading.Thread(target=self._relay, args=(name, stream), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _relay(self, name: str, stream) -> None:
        notice_lines, just_ended = 0, False  # lines of the deprecation notice under way (0: none)
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            starts = DEPRECATION_START in line
            in_notice = (notice_lines > 0 or starts or just_ended and not line.strip())  # its blank last line too
            hide = START_UP_NOTICE.match(line) is not None or (
                in_notice and not line.startswith(NEVER_HIDDEN[0]) and NEVER_HIDDEN[1] not in line)
            just_ended = notice_lines > 0 and DEPRECATION_END in line
            if starts or notice_lines:
                notice_lines += 1
            if DEPRECATION_END in line or notice_lines > NOTICE_MAX_LINES:
                notice_lines = 0
            with self.lock:
                if hide and not self.verbose:
                    self.hidden += 1
                else:
                    print(f"{name:>8} | {line}", flush=True)
        stream.close()

    def finish(self) -> None:
        for thread in self.threads:
            thread.join(timeout=5)
        if self.hidden:
            print(f"({self.hidden} lines of TensorFlow and Flower start-up notices were left out; --verbose shows "
                  "them)", flush=True)


def server_command(example: str, address: str, rounds: int, min_clients: int, extra_args=()) -> list[str]:
    return [sys.executable, "-m", f"flower_integration.examples.{example}.server", "--address", address,
            "--rounds", str(rounds), "--min-clients", str(min_clients), *extra_args]


def client_command(example: str, address: str, partition: int, partitions: int) -> list[str]:
    return [sys.executable, str(EXAMPLES_DIR / example / "Client.py"), "--server-address", address,
            "--partition", str(partition), "--partitions", str(partitions)]


def start(name: str, command: list[str], output=None, relay: Relay | None = None, *,
          announce: bool = True) -> subprocess.Popen:
    """Start one child, in a session of its own; its stdout and stderr go to ``output`` (a file) if given, else
    through ``relay``, else to ours. ``announce`` says its name and pid."""
    piped = output is None and relay is not None
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=child_env(), start_new_session=True,
                               stdout=subprocess.PIPE if piped else output,
                               stderr=subprocess.STDOUT if output is not None or piped else None)
    if announce:
        print(f"{name}: pid {process.pid}", flush=True)
    if piped:
        relay.follow(name, process.stdout)
    return process


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    """True once 127.0.0.1:port accepts TCP connections; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(processes, grace: float = 10.0) -> None:
    """Terminate what still runs, give it ``grace`` seconds, then kill it; reaps every process."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def let_finish(processes, timeout: float) -> None:
    """Give processes up to ``timeout`` seconds to exit on their own."""
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return


def wait_for_server(server: subprocess.Popen, clients: list[subprocess.Popen]) -> int:
    """The server's exit code. A client that fails would leave the server waiting for it forever."""
    while server.poll() is None:
        for partition, client in enumerate(clients):
            if client.poll() not in (None, 0):
                print(f"client {partition} exited with code {client.returncode}; stopping the federation",
                      file=sys.stderr, flush=True)
                stop([server])
                return 1
        time.sleep(0.2)
    return server.returncode


def run_federation(example: str, *, clients: int, rounds: int, port: int | None = None, server_args=(),
                   server_output=None, client_output=None, client_grace: float = 10.0,
                   relay: Relay | None = None) -> int:
    """Run one federation to its end and return the server's exit code; never leaves a child behind."""
    port = port or free_port()
    address = f"127.0.0.1:{port}"
    children: list[subprocess.Popen] = []
    try:
        server = start("server", server_command(example, address, rounds, clients, server_args), server_output,
                       relay)
        children.append(server)
        if not wait_until_listening(port, server):
            print(f"the server did not start listening on {address}", file=sys.stderr, flush=True)
            stop([server])
            return server.returncode or 1
        client_processes = []
        for partition in range(clients):
            client = start(f"client {partition}", client_command(example, address, partition, clients), client_output,
                           relay)
            children.append(client)
            client_processes.append(client)
        code = wait_for_server(server, client_processes)
        let_finish(client_processes, client_grace)  # the server tells them to leave when it is done
        return code
    finally:
        stop(children)


@contextmanager
def interrupt_signals():
    """Inside, SIGINT raises KeyboardInterrupt and SIGTERM raises ``Interrupted``.

    SIGINT is set explicitly because a shell starts background jobs with it ignored, and
    Python would then keep ignoring it. Only the main thread can install signal handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted()

    # SIGHUP too: the children, in sessions of their own, no longer get the terminal's when it closes.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
                signal.SIGTERM: signal.signal(signal.SIGTERM, interrupt),
                signal.SIGHUP: signal.signal(signal.SIGHUP, interrupt)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run an example federation locally.")
    parser.add_argument("--example", choices=EXAMPLES, default="digits")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, help="the Flower server's port (default: a free one)")
    parser.add_argument("--indexer", help="the F2F Indexer's base URL; without it nothing is reported")
    parser.add_argument("--federation", type=int, help="the federation's id on the Indexer")
    parser.add_argument("--token", help="the federation's reporting token")
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's and Flower's start-up notices")
    args = parser.parse_args(argv)
    reporting = [args.indexer, args.federation, args.token]
    if any(value is not None for value in reporting) and not all(value is not None for value in reporting):
        parser.error("--indexer, --federation and --token go together")
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    return args


def run(argv=None) -> int:
    args = parse_args(argv)
    server_args = []
    if args.indexer:
        server_args = ["--indexer", args.indexer, "--federation", str(args.federation), "--token", args.token]
    relay = Relay(verbose=args.verbose)
    try:
        with interrupt_signals():
            return run_federation(args.example, clients=args.clients, rounds=args.rounds, port=args.port,
                                  server_args=server_args, relay=relay)
    except (KeyboardInterrupt, Interrupted):
        print("interrupted: every child process is stopped", file=sys.stderr, flush=True)
        return INTERRUPTED_EXIT_CODE
    finally:
        relay.finish()


if __name__ == "__main__":
    sys.exit(run())
