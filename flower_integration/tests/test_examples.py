"""The example federations and the local demo: a real digits run, the CIFAR client's setup, no orphans."""

import importlib.util
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from flower_integration import demo

EXAMPLES = Path(demo.__file__).resolve().parent / "examples"


@pytest.fixture(autouse=True)
def quiet_children(monkeypatch):
    monkeypatch.setenv("FLWR_TELEMETRY_ENABLED", "0")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")


def load_script(name: str, path: Path):
    """Import a distributed Client.py the way a participant has it: a lone file, not a package module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cifar_client():
    return load_script("cifar_mobilenet_client", EXAMPLES / "cifar_mobilenet" / "Client.py")


def test_digits_federation_runs_two_rounds_through_the_demo(capfd):
    code = demo.run(["--example", "digits", "--clients", "2", "--rounds", "2"])

    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert "  server | digits federation finished 2 of 2 rounds" in out
    assert "Run finished 2 round(s)" in out
    assert len(re.findall(r"^client \d: pid \d+$", out, re.MULTILINE)) == 2
    # A newcomer's first run: no GPU probes, deprecation notices or tracebacks, only that they were left out.
    for noise in ("DEPRECATED FEATURE", "deprecated", "cuda", "absl::InitializeLog", "oneDNN", "Traceback"):
        assert noise not in out + err, noise
    assert re.search(r"^\(\d+ lines of TensorFlow and Flower start-up notices were left out; --verbose shows them\)$",
                     out, re.MULTILINE)


def test_the_demo_relay_leaves_out_start_up_notices_and_nothing_else(capsys):
    import io

    lines = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796552109.784720   13179 port.cc:153] oneDNN custom operations are on.",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
        "compiler flags.",
        "E0000 00:00:1796552113.059977   13180 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)",
        "\x1b[93mWARNING \x1b[0m:   DEPRECATED FEATURE: flwr.client.start_client() is deprecated.",
        "\tInstead, use the `flower-supernode` CLI command",
        "            entirely in future versions of Flower.",
        "        ",
        "\x1b[92mINFO \x1b[0m:      [ROUND 1]",
        "",
        "E0000 00:00:1796552113.059977   13180 grpc_server.cc:12] a real error",
        "Traceback (most recent call last):",
    ]
    # Flower's other notice, which never says "entirely in future versions of Flower.": it ends after a few lines.
    lines += ["\x1b[93mWARNING \x1b[0m:   DEPRECATED FEATURE: flwr.serverapp ... is deprecated.",
              *[f"\tline {n} of its example" for n in range(demo.NOTICE_MAX_LINES)],
              "\x1b[92mINFO \x1b[0m:      [ROUND 2]"]
    relay = demo.Relay()
    relay._relay("client 0", io.BytesIO("\n".join(lines).encode() + b"\n"))
    relay.finish()
    shown = capsys.readouterr().out.splitlines()
    assert shown == ["client 0 | \x1b[92mINFO \x1b[0m:      [ROUND 1]", "client 0 | ",
                     "client 0 | E0000 00:00:1796552113.059977   13180 grpc_server.cc:12] a real error",
                     "client 0 | Traceback (most recent call last):",
                     "client 0 | \x1b[92mINFO \x1b[0m:      [ROUND 2]",
                     f"({8 + 1 + demo.NOTICE_MAX_LINES} lines of TensorFlow and Flower start-up notices were left out; "
                     "--verbose shows them)"]


def test_digits_clients_take_disjoint_deterministic_shards():
    from sklearn.datasets import load_digits

    client = load_script("digits_client", EXAMPLES / "digits" / "Client.py")
    shards = [client.load_partition(partition, 3) for partition in range(3)]

    def rows(*arrays):
        return sorted(row.tobytes() for array in arrays for row in array)

    every_shard = rows(*[x for (x_train, _), (x_test, _) in shards for x in (x_train, x_test)])
    assert every_shard == rows((load_digits().data / 16.0).astype("float32"))  # together, each image once
    assert np.array_equal(client.load_partition(1, 3)[0][0], shards[1][0][0])


def test_weighted_means_weights_each_client_by_its_examples():
    from flower_integration.examples.digits.server import weighted_means

    assert weighted_means([(30, {"accuracy": 0.5}), (10, {"accuracy": 0.9})]) == pytest.approx({"accuracy": 0.6})
    assert weighted_means([(5, {}), (5, {})]) == {}


def test_cifar_client_builds_mobilenet_v2_and_falls_back_to_synthetic_data(cifar_client, tmp_path, monkeypatch,
                                                                           caplog):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    (x_train, y_train), (x_test, y_test) = cifar_client.load_partition(0, 2, samples=40)

    assert x_train.shape == (40, 32, 32, 3) and x_test.shape == (8, 32, 32, 3)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(np.unique(y_train)) <= set(range(10))
    assert "synthetic CIFAR-shaped data" in caplog.text and "nothing is downloaded" in caplog.text
    assert cifar_client.build_model().count_params() == 2_270_794


def test_cifar_client_reads_batches_from_the_keras_cache(cifar_client, tmp_path, monkeypatch, caplog):
    batches = tmp_path / "datasets" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, size=(20, 3072), dtype=np.uint8), b"labels": list(range(10)) * 2}
        (batches / name).write_bytes(pickle.dumps(batch))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    (x_train, _), (x_test, _) = cifar_client.load_partition(1, 2, samples=500)

    assert x_train.shape == (50, 32, 32, 3) and x_test.shape == (10, 32, 32, 3)
    assert "synthetic" not in caplog.text


def test_interrupting_the_demo_stops_every_child(tmp_path):
    log = tmp_path / "demo.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "flower_integration.demo", "--rounds", "1000"],
                                   cwd=demo.PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT)
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(pids) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            pids = [int(pid) for pid in re.findall(r"^(?:server|client \d): pid (\d+)$", log.read_text(), re.MULTILINE)]
        assert len(pids) == 3, log.read_text()
        assert all(exists(pid) for pid in pids)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == demo.INTERRUPTED_EXIT_CODE
        assert [pid for pid in pids if exists(pid)] == []
        assert "Traceback" not in log.read_text()  # each child stopped once, cleanly
    finally:
        for pid in [process.pid, *pids]:
            if exists(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
