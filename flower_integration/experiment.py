"""The FLer2FLer paper's traffic experiment on one machine: Indexer traffic against Flower traffic.

For each scenario (1 to N federations at once, each a Flower server and its clients as local
processes, the server reporting to an Indexer), every Flower server and every reporter's
connection to the Indexer goes through a ``traffic.CountingRelay`` of its own, so the bytes
of each are counted apart: payload bytes, TCP segments and the wire bytes an Ethernet path
would carry (``traffic``). ``run`` runs the scenarios ``repeats`` times; ``table``, ``write_csv``
and ``write_figure`` give the paper's table and its Figure 4 from the results, beside the
paper's own figures.

Plain Python: the federations, their tokens and the Indexer are given (``manage.py
traffic_experiment`` registers them and starts a portal).
"""

import csv
import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path

from . import demo, traffic

MODELS = {  # the --model choices: the example federation each runs, and its model's bytes per copy (float32)
    "mobilenetv2": ("cifar_mobilenet", 9_083_176),
    "digits": ("digits", 4 * (64 * 64 + 64 + 64 * 10 + 10)),
}
# The paper's Figure 4, per federation (1 server, 2 clients, MobileNetV2, 2 rounds; docker and tcpdump): its bars
# read 158.4 "MB" of Flower traffic per server and 0.0319 of Indexer traffic per federation, whole Ethernet frames
# summed and divided by 1024 ** 2 (its artefact's analysis script): MiB.
PAPER_FLOWER_PER_SERVER = 158.4 * 2**20
PAPER_INDEXER_PER_FEDERATION = 0.0319 * 2**20
PAPER_ROUNDS = 2
CLIENT_GRACE = 20.0  # seconds the clients get to leave once their server is done
SCENARIO_TIMEOUT = 3 * 3600.0  # seconds a scenario may run before its servers are stopped (and it fails)


@dataclasses.dataclass
class Credentials:
    federation: int
    token: str


@dataclasses.dataclass
class ServerRun:
    """One federation's training in one scenario: its Flower server's traffic and its reporter's to the Indexer."""

    federation: int
    flower: traffic.Traffic
    indexer: traffic.Traffic
    ledgers: list
    exit_code: int
    seconds: float

    def events(self) -> list[tuple[str, int]]:
        """The Socket.IO events the reporter sent, in order: (name, bytes of its frame on the connection)."""
        named = ((_event_name(opcode, payload), size) for ledger in self.ledgers for opcode, size, payload in ledger.frames)
        return [(name, size) for name, size in named if name is not None]

    def indexer_breakdown(self) -> dict:
        """What the reporter sent the Indexer, by kind: the HTTP upgrades, each event's frames, the other frames
        (Engine.IO's open and pongs, Socket.IO's connect with the token), and what it received."""
        events = self.events()
        framed = sum(ledger.framed for ledger in self.ledgers)
        breakdown = {"upgrade_bytes": sum(ledger.upgrade for ledger in self.ledgers),
                     "event_frames": len(events), "event_bytes": sum(size for _, size in events),
                     "other_frame_bytes": framed - sum(size for _, size in events), "received_bytes": self.indexer.down}
        for name in sorted({name for name, _ in events}):
            breakdown[f"{name}_events"] = sum(1 for event, _ in events if event == name)
        return breakdown


def _event_name(opcode: int, payload: bytes) -> str | None:
    """The name of the Socket.IO event in a text frame (``42<ack id>["name", ...]``), None for another frame."""
    if opcode != 1 or not payload.startswith(b"42"):
        return None
    start = payload.find(b'["')
    end = payload.find(b'"', start + 2)
    return payload[start + 2:end].decode() if 0 <= start < end else None


@dataclasses.dataclass
class Scenario:
    federations: int
    repeat: int
    runs: list[ServerRun]

    @property
    def flower(self) -> traffic.Traffic:
        return sum((run.flower for run in self.runs), traffic.Traffic())

    @property
    def indexer(self) -> traffic.Traffic:
        return sum((run.indexer for run in self.runs), traffic.Traffic())

    @property
    def ok(self) -> bool:
        return all(run.exit_code == 0 for run in self.runs)


def expected_copies(clients: int, rounds: int) -> int:
    """Copies of the model a legacy FedAvg run moves with every client in every fit and evaluate: one sent up
    for the initial parameters, then each round a copy down and back for each fit, and one down for each
    evaluate (which answers with a loss and metrics only)."""
    return 1 + 3 * clients * rounds


class Progress:
    """A bar of the federation-rounds reported so far (the round events seen on the way to the Indexer)."""

    def __init__(self, total_scenarios: int, *, stream=None):
        self.total_scenarios, self.stream = total_scenarios, stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.done_scenarios, self.started = 0, time.monotonic()

    def show(self, label: str, rounds_done: int, rounds_total: int) -> None:
        if not self.interactive:
            return
        width = 30
        filled = width * rounds_done // max(1, rounds_total)
        elapsed = int(time.monotonic() - self.started)
        self.stream.write(f"\r{self._place()} {label} [{'#' * filled}{'.' * (width - filled)}] {rounds_done}/{rounds_total} "
                          f"rounds  {elapsed // 60:02d}:{elapsed % 60:02d} ")
        self.stream.flush()

    def _place(self) -> str:
        return f"[{self.done_scenarios + 1}/{self.total_scenarios}]"

    def scenario_done(self, label: str, scenario: Scenario) -> None:
        end = "\n" if self.interactive else ""
        state = "done" if scenario.ok else "FAILED (see its logs)"
        self.stream.write(f"{end}{self._place()} {label}: {state}; Flower {scenario.flower.wire:,} B, Indexer "
                          f"{scenario.indexer.wire:,} B on the wire\n")
        self.stream.flush()
        self.done_scenarios += 1


def _start(name: str, command: list[str], log: Path):
    """A child whose output goes to ``log`` (this process keeps no handle on the file)."""
    with open(log, "wb") as output:
        return demo.start(name, command, output=output, announce=False)


def run_scenario(credentials: list[Credentials], *, indexer: tuple[str, int], model: str, clients: int, rounds: int,
                 samples: int, logs: Path, on_tick=None, timeout: float = SCENARIO_TIMEOUT) -> list[ServerRun]:
    """Run one federation per credential at once, each behind its own relays, to their end (or for ``timeout``
    seconds, after which what still runs is stopped and fails); never leaves a process or a relay behind.
    ``on_tick(rounds_reported)`` is called about twice a second."""
    example, _ = MODELS[model]
    logs.mkdir(parents=True, exist_ok=True)
    client_args = ["--samples", str(samples)] if model == "mobilenetv2" else []
    relays, children, servers, federation_clients = [], [], [], []
    started = time.monotonic()
    ended: dict[int, float] = {}  # seconds each server ran, by its index
    try:
        for index, credential in enumerate(credentials):
            server_port = demo.free_port()
            relays.append(traffic.CountingRelay(("127.0.0.1", server_port)).start())
            relays.append(traffic.CountingRelay(indexer, websocket=True).start())
            reporting = ["--indexer", f"http://127.0.0.1:{relays[-1].port}", "--federation",
                         str(credential.federation), "--token", credential.token]
            server = _start(f"server {index}", demo.server_command(
                example, f"127.0.0.1:{server_port}", rounds, clients, reporting), logs / f"federation-{index}-server.log")
            children.append(server)
            servers.append((server, server_port))
        for index, (server, port) in enumerate(servers):
            if not demo.wait_until_listening(port, server, timeout=120):
                raise RuntimeError(f"federation {index}'s server did not start: see {logs}")
            mine = []
            for partition in range(clients):
                command = demo.client_command(example, f"127.0.0.1:{relays[2 * index].port}", partition, clients)
                mine.append(_start(f"client {partition}", command + client_args,
                                   logs / f"federation-{index}-client-{partition}.log"))
                children.append(mine[-1])
            federation_clients.append(mine)
        while len(ended) < len(servers):
            for index, ((server, _), mine) in enumerate(zip(servers, federation_clients)):
                if server.poll() is None and (any(client.poll() not in (None, 0) for client in mine)
                                              or time.monotonic() - started > timeout):
                    demo.stop([server])  # a client failed (its server would wait for it forever), or time is up
                if server.poll() is not None:
                    ended.setdefault(index, time.monotonic() - started)
            if on_tick is not None:
                on_tick(sum(_rounds_seen(relay) for relay in relays[1::2]))
            time.sleep(0.5)
        demo.let_finish([client for mine in federation_clients for client in mine], CLIENT_GRACE)
    finally:
        demo.stop(children)
        counted = [(relay.stop(), relay.ledgers) for relay in relays]
    return [ServerRun(credential.federation, flower, to_indexer, ledgers, server.returncode, ended[index])
            for index, (credential, (server, _), (flower, _), (to_indexer, ledgers))
            in enumerate(zip(credentials, servers, counted[0::2], counted[1::2]))]


def _rounds_seen(relay: traffic.CountingRelay) -> int:
    return sum(1 for ledger in list(relay.ledgers) for opcode, _, payload in list(ledger.frames)
               if _event_name(opcode, payload) == "round")


def run(credentials: list[Credentials], *, scenarios: list[int], repeats: int, indexer: tuple[str, int], model: str,
        clients: int, rounds: int, samples: int, out: Path, progress: Progress | None = None) -> list[Scenario]:
    """Every scenario (a number of federations at once), ``repeats`` times; logs under ``out``."""
    results = []
    for repeat in range(1, repeats + 1):
        for count in scenarios:
            label = f"{count} federation{'s' if count > 1 else ''}, repeat {repeat} of {repeats}"
            total = count * rounds

            def tick(done, label=label, total=total):
                if progress is not None:
                    progress.show(label, min(done, total), total)

            runs = run_scenario(credentials[:count], indexer=indexer, model=model, clients=clients, rounds=rounds,
                                samples=samples, logs=out / "logs" / f"{count}-federations-repeat-{repeat}",
                                on_tick=tick)
            scenario = Scenario(count, repeat, runs)
            results.append(scenario)
            if progress is not None:
                progress.scenario_done(label, scenario)
    return results


@dataclasses.dataclass
class Row:
    """One line of the paper's table: a scenario's means over its repeats."""

    federations: int
    repeats: int
    flower_payload: float
    flower_wire: float
    flower_wire_per_server: float
    indexer_payload: float
    indexer_wire: float
    indexer_share: float  # percent of the Flower traffic, on the wire
    indexer_wire_per_federation_round: float
    paper_flower: float
    paper_indexer: float
    paper_share: float
    paper_indexer_per_federation_round: float


def rows(results: list[Scenario], *, rounds: int) -> list[Row]:
    table = []
    for count in sorted({scenario.federations for scenario in results}):
        mine = [scenario for scenario in results if scenario.federations == count]

        flower_wire = statistics.fmean([s.flower.wire for s in mine])
        indexer_wire = statistics.fmean([s.indexer.wire for s in mine])
        table.append(Row(
            federations=count, repeats=len(mine),
            flower_payload=statistics.fmean([s.flower.payload for s in mine]), flower_wire=flower_wire,
            flower_wire_per_server=flower_wire / count,
            indexer_payload=statistics.fmean([s.indexer.payload for s in mine]), indexer_wire=indexer_wire,
            indexer_share=100 * indexer_wire / flower_wire if flower_wire else math.nan,
            indexer_wire_per_federation_round=indexer_wire / (count * rounds),
            paper_flower=count * PAPER_FLOWER_PER_SERVER, paper_indexer=count * PAPER_INDEXER_PER_FEDERATION,
            paper_share=100 * PAPER_INDEXER_PER_FEDERATION / PAPER_FLOWER_PER_SERVER,
            paper_indexer_per_federation_round=PAPER_INDEXER_PER_FEDERATION / PAPER_ROUNDS,
        ))
    return table


def _mb(value: float) -> str:
    return f"{value / 1e6:,.3f}"


def table(lines: list[Row]) -> str:
    """The table as text: ours (wire bytes, Ethernet estimate) beside the paper's."""
    header = (f"{'federations':>11} {'Flower MB':>10} {'per server':>10} {'Indexer KB':>10} {'share %':>9} "
              f"{'B/fed-round':>11} | {'paper: Flower MB':>16} {'Indexer KB':>10} {'share %':>8} {'B/fed-round':>11}")
    out = [header, "-" * len(header)]
    for row in lines:
        out.append(f"{row.federations:>11} {_mb(row.flower_wire):>10} {_mb(row.flower_wire_per_server):>10} "
                   f"{row.indexer_wire / 1e3:>10.2f} {row.indexer_share:>9.5f} "
                   f"{row.indexer_wire_per_federation_round:>11.0f} | {_mb(row.paper_flower):>16} "
                   f"{row.paper_indexer / 1e3:>10.1f} {row.paper_share:>8.4f} "
                   f"{row.paper_indexer_per_federation_round:>11.0f}")
    return "\n".join(out)


def write_csv(lines: list[Row], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([field.name for field in dataclasses.fields(Row)])
        for row in lines:
            writer.writerow([round(value, 6) if isinstance(value, float) else value
                             for value in dataclasses.astuple(row)])


def write_servers_csv(results: list[Scenario], path: Path) -> None:
    """Every server of every scenario and repeat: payload, segments and wire bytes each way."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["federations", "repeat", "federation", "exit_code", "seconds", "of", "connections",
                         "payload_up", "payload_down", "segments_up", "segments_down", "wire"])
        for scenario in results:
            for run in scenario.runs:
                for name, counted in (("flower", run.flower), ("indexer", run.indexer)):
                    writer.writerow([scenario.federations, scenario.repeat, run.federation, run.exit_code,
                                     round(run.seconds, 1), name, counted.connections, counted.up, counted.down,
                                     counted.segments_up, counted.segments_down, counted.wire])


def write_indexer_csv(results: list[Scenario], path: Path) -> None:
    """What each reporter sent the Indexer, by kind (``ServerRun.indexer_breakdown``)."""
    breakdowns = [(scenario, run, run.indexer_breakdown()) for scenario in results for run in scenario.runs]
    names = sorted({name for *_, breakdown in breakdowns for name in breakdown})
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["federations", "repeat", "federation", "sent_bytes", *names])
        for scenario, run, breakdown in breakdowns:
            writer.writerow([scenario.federations, scenario.repeat, run.federation, run.indexer.up,
                             *(breakdown.get(name, 0) for name in names)])


def write_figure(lines: list[Row], path: Path) -> None:
    """Figure 4 of the paper, ours beside its: Flower in all, per server, and the Indexer, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    bars = [("Total (FL)", "flower_wire", "paper_flower", "#1f77b4"),
            ("per server", "flower_wire_per_server", None, "#2ca02c"),
            ("Indexer", "indexer_wire", "paper_indexer", "#d62728")]
    figure, axes = pyplot.subplots(figsize=(9, 5.6), dpi=120)
    width = 0.13
    for offset, (label, ours, paper, colour) in enumerate(bars):
        xs = [row.federations + (offset - 2.5) * width for row in lines]
        axes.bar(xs, [getattr(row, ours) / 1e6 for row in lines], width, label=f"{label}: F2F", color=colour)
        paper_values = [(getattr(row, paper) if paper else PAPER_FLOWER_PER_SERVER) / 1e6 for row in lines]
        axes.bar([x + 3 * width for x in xs], paper_values, width, label=f"{label}: paper", color="white",
                 edgecolor=colour, hatch="//")
    axes.set_yscale("log")
    axes.set_xlabel("federations at once (each: 1 server, its clients)")
    axes.set_ylabel("traffic (MB, log scale)")
    axes.set_xticks([row.federations for row in lines])
    axes.set_title("Network traffic: the Indexer against Flower training")
    axes.legend(fontsize="small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below: no bar hidden
    axes.grid(axis="y", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
