"""The ingest at network scale, against a bare python-socketio server in the same run.

    .venv/bin/python bench/ingest.py                       # both modes, 3 runs each
    .venv/bin/python bench/ingest.py --mode services --runs 5 --federations 1000 --seconds 60

For each mode (services: PostgreSQL + Redis; embedded: SQLite, in-memory layer), it starts the
bare ceiling (bench/bare_ingest.py under daphne) and the portal (``manage.py run_portal``), and
drives each in turn, in every run, with the same load from Socket.IO clients that hold one
federation's token each and send protocol-v2 ``round`` events:

- closed loop: ``--closed-clients`` clients, each sending its next event when the last is
  acknowledged, for ``--closed-seconds`` in all: acknowledged events per second. Bare and portal
  take turns in slices of ``CLOSED_SLICE_SECONDS``, so that both meet the same moments of this
  shared machine (run after run, its speed varied by a third: bare alone gave 5,000 to 7,900); each
  side's clients connect once and stay connected through the turns, as reporters do;
- open loop: ``--federations`` clients, each sending one event a second (phases spread evenly)
  for ``--seconds``, with ``--viewers`` WebSocket viewers (half on the catalog watching a page of
  federations each, half on single federation pages): the share acknowledged within 1 s, ack
  p50/p99, events stored (counted in the database afterwards), push latency p50/p99 (from the
  event's sending to the viewer receiving the state it made), and whether every viewer ends on
  the latest state of every federation it shows.

The client speaks Engine.IO 4 / Socket.IO 5 over ``websockets`` directly: a thin client costs
less CPU on this shared machine than python-socketio's, so more of it is left to the servers.
Medians over runs are printed against the targets of issue 8.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PAGE = 25  # federations a catalog viewer watches (one page)
CLOSED_SLICE_SECONDS = 5
TARGETS = {"within_1s": 99.9, "ack_p99_ms": 200, "share_of_bare": 50, "push_p99_ms": 200}


# The load: a thin Socket.IO client.

class SocketIOClient:
    """One Socket.IO connection over a WebSocket: connect with auth, emit with acknowledgement."""

    def __init__(self):
        self.ws, self.acks, self.next_id, self.reader = None, {}, 0, None

    async def connect(self, base_url: str, auth: dict):
        import websockets

        url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await websockets.connect(url, max_size=2**20, compression=None, open_timeout=60,
                                           ping_interval=None)
        opening = await self.ws.recv()
        assert opening.startswith("0"), opening
        await self.ws.send("40" + json.dumps(auth))
        answer = await self.ws.recv()
        if not answer.startswith("40"):
            raise ConnectionError(f"refused: {answer}")
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for frame in self.ws:
                if frame == "2":
                    await self.ws.send("3")
                elif frame.startswith("43"):
                    body = frame.index("[")
                    future = self.acks.pop(int(frame[2:body]), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(frame[body:])[0])
        except Exception:
            pass
        for future in self.acks.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))

    async def call(self, event: str, payload: dict):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[self.next_id] = future
        await self.ws.send(f"42{self.next_id}" + json.dumps([event, payload]))
        return await future

    async def close(self):
        if self.reader:
            self.reader.cancel()
        await self.ws.close()


class Viewer:
    """A browser-like WebSocket on a live page; keeps the latest state of each federation it receives."""

    def __init__(self, path: str, sent: dict, latencies: list):
        self.path, self.sent, self.latencies = path, sent, latencies
        self.latest, self.messages, self.task = {}, 0, None

    async def open(self, base_url: str):
        import websockets

        self.ws = await websockets.connect(base_url.replace("http://", "ws://") + self.path, max_size=2**24,
                                           open_timeout=60, ping_interval=None,
                                           origin=base_url)
        self.task = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for frame in self.ws:
                received = time.perf_counter()
                message = json.loads(frame)
                self.messages += 1
                federations = message.get("federations") or ([message["federation"]] if "federation" in message else [])
                for state in federations:
                    known = self.latest.get(state["id"])
                    if known and known.get("live_version", 0) > state.get("live_version", 0):
                        continue
                    self.latest[state["id"]] = state
                    sent_at = self.sent.get((state["id"], state.get("current_round")))
                    if sent_at is not None:
                        self.latencies.append((received - sent_at) * 1000)
        except Exception:
            pass

    async def close(self):
        self.task.cancel()
        await self.ws.close()


def percentile(values, share):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(share * (len(values) - 1) + 0.5))]


async def _connect_all(urls, credentials):
    """Connect each credential's client, to the servers in turn (several portals share the load)."""
    gate = asyncio.Semaphore(50)

    async def one(index, credential):
        async with gate:
            client = SocketIOClient()
            await client.connect(urls[index % len(urls)], credential)
            return client

    return await asyncio.gather(*(one(index, credential) for index, credential in enumerate(credentials)))


def round_event(run, started, number):
    return {"v": 2, "run": run, "started": started, "round": number, "duration": 1.0, "loss": 1.0 / number,
            "metrics": {"accuracy": min(0.99, number / 100)}, "num_clients": 2, "num_examples": 1000}


async def closed_loops(kinds: dict, credentials, seconds: float, slices: int) -> dict:
    """Acknowledged events per second of each kind of server (``kinds``: name -> urls), in turns of
    ``seconds / slices``. Each kind's clients connect once, before the first turn, and stay connected while
    the other kind has its turn, as reporters stay connected between their events: a turn measures events,
    not connections (connecting 100 reporters a slice was 5 % of the portal's CPU in a slice, measured)."""
    clients = {name: await _connect_all(urls, credentials) for name, urls in kinds.items()}
    runs = {name: {"name": f"closed{random.randrange(10**9)}", "started": int(time.time() * 1000),
                   "numbers": [0] * len(credentials)} for name in kinds}
    rates = dict.fromkeys(kinds, 0.0)
    for _ in range(slices):
        for name in kinds:
            rates[name] += await closed_loop(clients[name], seconds / slices, runs[name]) / slices
    await asyncio.gather(*(client.close() for named in clients.values() for client in named))
    return rates


async def closed_loop(clients, seconds, run):
    """Acknowledged events per second of connected ``clients``; ``run`` (name, start, each client's last round)
    continues a run that an earlier turn began, so that each turn does not start a run per federation."""
    counts = [0] * len(clients)
    stop = time.perf_counter() + seconds

    async def drive(index, client):
        while time.perf_counter() < stop:
            run["numbers"][index] += 1
            answer = await client.call("round", round_event(run["name"], run["started"], run["numbers"][index]))
            counts[index] += bool(answer.get("ok"))

    begin = time.perf_counter()
    await asyncio.gather(*(drive(index, client) for index, client in enumerate(clients)))
    elapsed = time.perf_counter() - begin
    return sum(counts) / elapsed


async def open_loop(urls, credentials, seconds, viewer_paths):
    clients = await _connect_all(urls, credentials)
    sent, push_latencies = {}, []
    viewers = [Viewer(path, sent, push_latencies) for path in viewer_paths]
    # Viewers on the portals in the other order: most watch federations that report to another process.
    await asyncio.gather(*(viewer.open(urls[::-1][index % len(urls)]) for index, viewer in enumerate(viewers)))
    await asyncio.sleep(1)
    run, started = f"open{random.randrange(10**9)}", int(time.time() * 1000)
    latencies, answers, last_ok, timeline = [], [], {}, []
    begin = time.perf_counter()

    async def one(federation_id, client, number):
        payload = round_event(run, started, number)
        sent_at = time.perf_counter()
        sent[(federation_id, number)] = sent_at
        try:
            answer = await asyncio.wait_for(client.call("round", payload), timeout=seconds + 60)
        except Exception as error:
            answer = {"ok": False, "error": repr(error)}
        latency = (time.perf_counter() - sent_at) * 1000
        latencies.append(latency)
        timeline.append((sent_at - begin, latency))
        answers.append(answer)
        if answer.get("ok"):
            last_ok[federation_id] = max(last_ok.get(federation_id, 0), number)

    async def drive(index, credential, client):
        await asyncio.sleep(index / len(clients))
        pending = []
        for number in range(1, seconds + 1):
            pending.append(asyncio.ensure_future(one(credential["federation"], client, number)))
            await asyncio.sleep(max(0.0, begin + index / len(clients) + number - time.perf_counter()))
        await asyncio.gather(*pending)

    await asyncio.gather(*(drive(index, credential, client)
                           for index, (credential, client) in enumerate(zip(credentials, clients))))
    await asyncio.sleep(3)  # the last pushes
    stale = 0
    for viewer in viewers:
        for federation_id, state in viewer.latest.items():
            if federation_id in last_ok and state.get("current_round") != last_ok[federation_id]:
                stale += 1
    watched = sum(len(viewer.latest) for viewer in viewers)
    await asyncio.gather(*(client.close() for client in clients), *(viewer.close() for viewer in viewers))
    return {
        "run": run,
        "sent": len(latencies),
        "ok": sum(bool(answer.get("ok")) for answer in answers),
        "within_1s": 100 * sum(latency <= 1000 and bool(answer.get("ok"))
                               for latency, answer in zip(latencies, answers)) / max(1, len(latencies)),
        "ack_p50_ms": percentile(latencies, 0.5),
        "ack_p99_ms": percentile(latencies, 0.99),
        # The first seconds start 1,000 runs at once (and prune older runs): apart, the steady state.
        "ack_p99_first_2s_ms": percentile([lat for at, lat in timeline if at < 2], 0.99),
        "ack_p99_after_2s_ms": percentile([lat for at, lat in timeline if at >= 2], 0.99),
        "push_p50_ms": percentile(push_latencies, 0.5),
        "push_p99_ms": percentile(push_latencies, 0.99),
        "pushes": len(push_latencies),
        "viewer_states": watched,
        "viewer_stale": stale,
        "errors": sorted({str(answer.get("error")) for answer in answers if not answer.get("ok")})[:3],
    }


# The servers and the database.

def mode_env(mode: str, var_dir: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="f2f_site.settings.local", PYTHONUNBUFFERED="1", F2F_VAR_DIR=var_dir,
               FLWR_TELEMETRY_ENABLED="0", F2F_LOG_LEVEL="WARNING",
               # The limit is not what is measured here; its check still runs for every event.
               F2F_INGEST_EVENTS="1000000", F2F_INGEST_EVENTS_SECONDS="1")
    if mode == "services":
        env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/f2f_ingest_bench")
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    return env


def wait_http(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP error answer: the server is up
                return
            time.sleep(0.2)
    raise TimeoutError(url)


def start(command, env, port, log):
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", process)
    return process


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


PREPARE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from federations import demo, services
from federations.models import Federation
call_command("migrate", verbosity=0)
demo.seed({count})
credentials = []
for federation in Federation.objects.order_by("id")[:{count}]:
    credentials.append({{"federation": federation.pk, "token": services.reporting_token_issue(federation=federation)}})
from django.db import connection
if connection.vendor == "postgresql":
    # Runs start from tables without the dead rows of earlier benches (a PostgreSQL with autovacuum off,
    # as this machine's came, had left 2.4 million in a live-state table of 2,500 rows: 197 MB), and say
    # whether autovacuum keeps them so during the run, as it does in production.
    with connection.cursor() as cursor:
        for table in ("federations_livestate", "federations_roundrecord", "federations_trainingrun",
                      "federations_reportingtoken", "federations_onlinespell"):
            cursor.execute(f"VACUUM (ANALYZE) {{table}}")
        cursor.execute("SHOW autovacuum")
        print("PostgreSQL autovacuum:", cursor.fetchone()[0], file=sys.stderr)
print(json.dumps(credentials))
"""

COUNT_STORED = """
import json, sys
import django
django.setup()
from federations.models import RoundRecord
print(RoundRecord.objects.filter(run=sys.argv[1]).count())
"""


def django_script(code, env, *args):
    out = subprocess.run([PYTHON, "-c", code, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if line.startswith("PostgreSQL"):
            print(line, flush=True)
    return out.stdout.strip().splitlines()[-1]


def bench_mode(mode, args):
    var_dir = tempfile.mkdtemp(prefix=f"f2f-ingest-{mode}-")
    env = mode_env(mode, var_dir)
    count = max(args.federations, args.closed_clients, args.viewers * PAGE)
    credentials = json.loads(django_script(PREPARE.format(count=count), env))
    bare_ports, portal_ports = [8610 + n for n in range(args.portals)], [8620 + n for n in range(args.portals)]
    servers = [start([PYTHON, "-m", "daphne", "-p", str(port), "bench.bare_ingest:application"], env, port,
                     f"{var_dir}/bare-{port}.log") for port in bare_ports]
    servers += [start([PYTHON, "manage.py", "run_portal", "--port", str(port), "--no-workers"], env, port,
                      f"{var_dir}/portal-{port}.log") for port in portal_ports]
    ids = [credential["federation"] for credential in credentials]
    viewer_paths = []
    for index in range(args.viewers):
        if index % 2:
            viewer_paths.append(f"/ws/federations/{ids[index % args.federations]}/")
        else:
            page = ids[(index * PAGE) % args.federations:][:PAGE]
            viewer_paths.append("/ws/catalog/?ids=" + ",".join(map(str, page)))
    results = []
    try:
        for run in range(args.runs):
            load = os.getloadavg()[0]
            row = {"mode": mode, "run": run + 1, "load": load}
            kinds = (("bare", bare_ports), ("portal", portal_ports))
            slices = max(1, round(args.closed_seconds / CLOSED_SLICE_SECONDS))
            rates = asyncio.run(closed_loops({name: [f"http://127.0.0.1:{port}" for port in ports]
                                              for name, ports in kinds}, credentials[:args.closed_clients],
                                             args.closed_seconds, slices))
            for name, rate in rates.items():
                row[f"{name}_closed"] = rate
            for name, ports in kinds:
                urls = [f"http://127.0.0.1:{port}" for port in ports]
                opened = asyncio.run(open_loop(urls, credentials[:args.federations], args.seconds,
                                               viewer_paths if name == "portal" else []))
                if name == "portal":
                    opened["stored"] = int(django_script(COUNT_STORED, env, opened["run"]))
                row[f"{name}_open"] = opened
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for server in servers:
            stop(server)
    return results


def summary(mode, rows, portals=1):
    def med(values):
        return statistics.median(values)

    bare_closed, portal_closed = med([r["bare_closed"] for r in rows]), med([r["portal_closed"] for r in rows])
    portal = [r["portal_open"] for r in rows]
    bare = [r["bare_open"] for r in rows]
    lines = [
        f"## {mode} mode, {portals} process(es) of each: medians of {len(rows)} runs (load average before each run: "
        f"{', '.join(format(r['load'], '.2f') for r in rows)})",
        f"{'measure':58} {'bare':>10} {'portal':>10} {'target':>12}",
        f"{'closed loop, acked events/s':58} {bare_closed:10.0f} {portal_closed:10.0f} "
        f"{'>= 50% bare':>12}  ({100 * portal_closed / bare_closed:.1f} %)",
        f"{'open loop: acked within 1 s, %':58} {med([b['within_1s'] for b in bare]):10.2f} "
        f"{med([p['within_1s'] for p in portal]):10.2f} {'>= 99.9':>12}",
        f"{'open loop: ack p50 ms':58} {med([b['ack_p50_ms'] for b in bare]):10.1f} "
        f"{med([p['ack_p50_ms'] for p in portal]):10.1f}",
        f"{'open loop: ack p99 ms':58} {med([b['ack_p99_ms'] for b in bare]):10.1f} "
        f"{med([p['ack_p99_ms'] for p in portal]):10.1f} {'<= 200':>12}",
        f"{'  of events sent in the first 2 s / after':58} "
        f"{med([b['ack_p99_first_2s_ms'] for b in bare]):4.0f} / {med([b['ack_p99_after_2s_ms'] for b in bare]):3.0f} "
        f"{med([p['ack_p99_first_2s_ms'] for p in portal]):5.0f} / {med([p['ack_p99_after_2s_ms'] for p in portal]):3.0f}",
        f"{'open loop: events sent / acked ok / stored (portal)':58} {'':10} "
        f"{med([p['sent'] for p in portal]):.0f} / {med([p['ok'] for p in portal]):.0f} / "
        f"{med([p['stored'] for p in portal]):.0f}",
        f"{'viewers: push p50 / p99 ms':58} {'':10} {med([p['push_p50_ms'] for p in portal]):.1f} / "
        f"{med([p['push_p99_ms'] for p in portal]):.1f}  (target p99 <= 200)",
        f"{'viewers: states shown / not the latest at the end':58} {'':10} "
        f"{med([p['viewer_states'] for p in portal]):.0f} / {max(p['viewer_stale'] for p in portal)}  (target 0)",
    ]
    return "\n".join(lines)


def settle_collector():
    """The load generator collects garbage as the servers do (f2f_site.collector, loaded without Django): with
    the default thresholds its own pauses, up to ~200 ms with 1,000 connections, counted as the servers'
    latency, the bare one's included."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("collector", ROOT / "f2f_site" / "collector.py")
    collector = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(collector)
    collector.settle()


def main():
    settle_collector()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["services", "embedded", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--federations", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--closed-clients", type=int, default=100)
    parser.add_argument("--closed-seconds", type=int, default=15)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--portals", type=int, default=1,
                        help="server processes of each kind, sharing the clients (services mode only when > 1)")
    args = parser.parse_args()
    modes = ["services", "embedded"] if args.mode == "both" else [args.mode]
    print(f"{os.cpu_count()} CPUs; {args.federations} federations x 1 event/s for {args.seconds} s, "
          f"{args.viewers} viewers; closed loop {args.closed_clients} clients for {args.closed_seconds} s", flush=True)
    if args.portals > 1:
        modes = [mode for mode in modes if mode == "services"]  # embedded is one process by design
    summaries = [summary(mode, bench_mode(mode, args), args.portals) for mode in modes]
    print("\n\n".join(summaries))


if __name__ == "__main__":
    main()
