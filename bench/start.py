"""The embedded start: from launching ``scripts/run`` to the first 200 of ``/``.

    .venv/bin/python bench/start.py --runs 5

Each run starts ``scripts/run`` embedded (no DATABASE_URL, no REDIS_URL) twice on its own var
dir: the first start on an empty one (migrate from nothing, collect the static files, seed the
demo, create the operator), the second on what the first left there (the everyday start). It
times each start until ``/`` answers 200, notes when the portal said it was listening and the CPU
time spent until the first page, reads the serving process's RSS once it has settled, and stops
it. Prints the medians against the target (5 s) and the machine's load average: the start is
CPU-bound, so a busy machine moves the wall-clock times, not the CPU times.
Everything is already installed: ``scripts/setup`` must find nothing to do.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
SETTLE_SECONDS = 2.0
LISTENING = "F2F portal on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time of the process, its threads and its finished children (the steps scripts/run waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(ticks) for ticks in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_once(var_dir: Path, port: int, timeout: float) -> dict:
    """Launch scripts/run on var_dir and time it to its first page; stop it again."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(F2F_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    url = f"http://127.0.0.1:{port}/"
    log = []
    started = time.perf_counter()
    process = subprocess.Popen([str(ROOT / "scripts/run"), "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)

    def read_output():
        for line in process.stdout:
            log.append((time.perf_counter() - started, line.rstrip()))

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        while not answers(url):
            if process.poll() is not None:
                raise RuntimeError("scripts/run exited before serving:\n" + "\n".join(line for _, line in log))
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"no page within {timeout}s")
            time.sleep(0.05)
        first_page = time.perf_counter() - started
        cpu = cpu_seconds(process.pid)
        time.sleep(SETTLE_SECONDS)
        rss = rss_mib(process.pid)  # scripts/run ends by exec'ing the serving Python process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(5)
    listening = next((at for at, line in log if LISTENING in line), float("nan"))
    return {"first_page": first_page, "listening": listening, "cpu": cpu, "rss": rss}


def verdict(seconds: float) -> str:
    return "meets" if seconds <= TARGET_SECONDS else "misses"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="pairs of starts (first, second) to time")
    parser.add_argument("--port", type=int, default=0, help="port to serve on (default: a free one)")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    load_before = os.getloadavg()
    results = {"first": [], "second": []}
    for run in range(1, args.runs + 1):
        var_dir = Path(tempfile.mkdtemp(prefix="f2f-start-bench-"))
        try:
            for kind in ("first", "second"):
                result = start_once(var_dir, args.port or free_port(), args.timeout)
                results[kind].append(result)
                print(f"run {run} {kind:6} start: first page {result['first_page']:5.2f} s "
                      f"(listening at {result['listening']:5.2f} s, {result['cpu']:5.2f} CPU s), "
                      f"RSS {result['rss']:5.1f} MiB", flush=True)
        finally:
            shutil.rmtree(var_dir, ignore_errors=True)
    load_after = os.getloadavg()

    print(f"\nscripts/run, embedded, {args.runs} runs on {os.cpu_count()} CPUs; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print(f"{'start':8} {'first page median (min-max)':>30} {'listening':>10} {'CPU':>8} {'RSS':>10}  "
          f"target ≤ {TARGET_SECONDS:.0f} s (medians)")
    for kind, runs in results.items():
        pages = [r["first_page"] for r in runs]
        median = statistics.median(pages)
        print(f"{kind:8} {median:15.2f} s ({min(pages):.2f}-{max(pages):.2f}) "
              f"{statistics.median(r['listening'] for r in runs):8.2f} s "
              f"{statistics.median(r['cpu'] for r in runs):6.2f} s "
              f"{statistics.median(r['rss'] for r in runs):6.1f} MiB  {verdict(median)}")


if __name__ == "__main__":
    sys.exit(main())
