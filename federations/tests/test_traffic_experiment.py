"""``manage.py traffic_experiment``, small: one digits federation, its own portal, every byte accounted for."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from conftest import ROOT, database_url
from federations.management.commands.traffic_experiment import indexer_address, scenarios
from federations.models import Federation
from flower_integration import experiment

CLIENTS, ROUNDS = 2, 2


def read(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.django_db(transaction=True)
def test_the_experiment_counts_the_models_flower_moved_and_each_frame_the_indexer_got(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url())  # the portal it starts serves this test's database
    out = tmp_path / "experiment"
    call_command("traffic_experiment", federations="1", model="digits", clients=CLIENTS, rounds=ROUNDS,
                 out=str(out))

    printed = capsys.readouterr()
    assert "paper: Flower MB" in printed.out and "[1/1] 1 federation, repeat 1 of 1: done" in printed.err
    [row] = read(out / "table.csv")
    flower, indexer = read(out / "servers.csv")
    [sent] = read(out / "indexer.csv")
    federation = Federation.objects.get(name="Traffic experiment 1: digits")

    # Flower: 13 copies of the model (5 up, 8 down), and framing: gRPC, HTTP/2, each array's .npy header.
    model = experiment.MODELS["digits"][1]
    copies = experiment.expected_copies(CLIENTS, ROUNDS)
    up, down = int(flower["payload_up"]), int(flower["payload_down"])
    assert (1 + CLIENTS * ROUNDS) * model <= up and 2 * CLIENTS * ROUNDS * model <= down
    assert up + down - copies * model <= copies * 1024 + 8192
    assert int(flower["connections"]) == CLIENTS and int(flower["exit_code"]) == 0

    # The Indexer: its bytes are the upgrade and whole frames, nothing else; one frame per event it acknowledged.
    assert int(sent["sent_bytes"]) == int(indexer["payload_up"])
    assert int(sent["sent_bytes"]) == (int(sent["upgrade_bytes"]) + int(sent["event_bytes"])
                                       + int(sent["other_frame_bytes"]))
    assert (int(sent["round_events"]), int(sent["final_events"])) == (ROUNDS, 1)
    log = (out / "logs" / "1-federations-repeat-1" / "federation-0-server.log").read_text()
    assert f"F2F reporter: delivered {sent['event_frames']} events, dropped 0, rejected 0" in log
    assert federation.live.run_rounds == ROUNDS and federation.live.phase == "finished"

    # The table: wire bytes above the payload, the share and the bytes per federation-round from them.
    assert float(row["flower_wire"]) > up + down and float(row["indexer_wire"]) > int(indexer["payload_up"])
    assert float(row["indexer_share"]) == pytest.approx(100 * float(row["indexer_wire"]) / float(row["flower_wire"]))
    assert float(row["indexer_wire_per_federation_round"]) == pytest.approx(float(row["indexer_wire"]) / ROUNDS)
    assert float(row["paper_flower"]) == experiment.PAPER_FLOWER_PER_SERVER
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "table.txt").read_text().startswith("federations")


@pytest.mark.parametrize(("text", "expected"), [("3", [3]), ("1..5", [1, 2, 3, 4, 5]), (" 2..3 ", [2, 3])])
def test_scenarios_are_a_number_or_a_range_of_federations(text, expected):
    assert scenarios(text) == expected


@pytest.mark.parametrize("text", ["0", "6", "3..2", "1-5", "two"])
def test_a_scenario_outside_one_to_five_federations_is_refused_with_what_is_allowed(text):
    with pytest.raises(CommandError, match="--federations"):
        scenarios(text)


def test_the_indexer_is_a_plain_http_url_whose_port_defaults_to_80():
    assert indexer_address("http://127.0.0.1:8321") == ("127.0.0.1", 8321)
    assert indexer_address("http://portal.example.org/") == ("portal.example.org", 80)
    for wrong in ("https://portal.example.org", "127.0.0.1:8321", "http://"):
        with pytest.raises(CommandError, match="--indexer takes a portal's http://host:port URL"):
            indexer_address(wrong)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (by their parents, from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_the_experiment_and_every_process_it_started(tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "f2f_site.settings.test",
           "FLWR_TELEMETRY_ENABLED": "0"}
    process = subprocess.Popen([sys.executable, "manage.py", "traffic_experiment", "--federations", "1", "--model",
                                "digits", "--rounds", "1000", "--out", str(tmp_path / "out")],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        # The portal (and its writer), the server and its two clients, once the clients are training.
        while time.monotonic() < deadline and process.poll() is None:
            started |= descendants(process.pid)
            if len(started) >= 4 and list((tmp_path / "out" / "logs").rglob("federation-0-client-1.log")):
                break
            time.sleep(0.5)
        if len(started) < 4 or process.poll() is not None:
            process.kill()
            pytest.fail(process.communicate()[0])
        time.sleep(3)
        started |= descendants(process.pid)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode != 0 and "interrupted: every process the experiment started is stopped" in output
        assert [pid for pid in started if alive(pid)] == []
    finally:
        for pid in [process.pid, *started]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait()
