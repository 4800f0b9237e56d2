"""The ingest's writer: a process of its own beside the portal's server, started again when it dies."""

import os
import signal
import time
from pathlib import Path

from federations import protocol, services
from federations.models import LiveState, RoundRecord

from .test_ingest import ROUND, STATE, connect


def writer_processes(portal_pid: int) -> list[int]:
    """The portal's children that are writers (spawned Python processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == portal_pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def reporter(portal, federation):
    return connect(portal, {"federation": federation.pk, "token": services.reporting_token_issue(federation=federation)})


def wait_until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_portal_writes_in_a_process_of_its_own_and_starts_another_when_it_dies(live_portal, make_federation):
    federation = make_federation()
    client = reporter(live_portal, federation)
    try:
        assert client.call("state", STATE, timeout=30) == {"ok": True}
        [writer] = writer_processes(live_portal.process.pid)
        os.kill(writer, signal.SIGKILL)
        wait_until(lambda: not writer_processes(live_portal.process.pid), 10)  # reaped once the portal reads EOF

        # An event the portal hands to the dead writer before it has noticed is answered "try again later",
        # as a reporter's events are whenever the Indexer cannot store them; sent again, it is stored.
        answers = [client.call("round", ROUND, timeout=30)]
        if not answers[0].get("ok"):
            answers.append(client.call("round", ROUND, timeout=30))
        assert answers[-1] == {"ok": True} and all(protocol.retriable(answer) for answer in answers[:-1])
        [again] = writer_processes(live_portal.process.pid)
        assert again != writer
        assert client.call("round", {**ROUND, "round": 2}, timeout=30) == {"ok": True}
    finally:
        client.disconnect()
    assert LiveState.objects.get(pk=federation.pk).completed_rounds == 2
    assert RoundRecord.objects.filter(federation=federation).count() == 2
    assert "The ingest's writer process ended" in live_portal.log()


def test_a_portal_stopped_takes_its_writer_with_it(live_portal, make_federation):
    federation = make_federation()
    client = reporter(live_portal, federation)
    try:
        assert client.call("state", STATE, timeout=30) == {"ok": True}
        [writer] = writer_processes(live_portal.process.pid)
    finally:
        client.disconnect()
    live_portal.process.terminate()
    live_portal.process.wait(timeout=20)
    wait_until(lambda: not Path(f"/proc/{writer}").exists(), 10)
    assert not Path(f"/proc/{writer}").exists() or "(Z)" in Path(f"/proc/{writer}/stat").read_text()


def test_events_are_answered_through_a_writer_that_dies_in_the_middle(live_portal, make_federation):
    """Batches the dead writer held are tried again, event by event, by the next one: every event gets an answer,
    and every event answered "ok" is stored."""
    federations = [make_federation() for _ in range(5)]
    clients = [reporter(live_portal, federation) for federation in federations]
    try:
        assert clients[0].call("state", STATE, timeout=30) == {"ok": True}
        [writer] = writer_processes(live_portal.process.pid)
        answers = {}
        for number in range(1, 21):
            for index, client in enumerate(clients):
                client.emit("round", {**ROUND, "round": number},
                            callback=lambda answer, key=(index, number): answers.__setitem__(key, answer))
            if number == 5:
                os.kill(writer, signal.SIGKILL)
        wait_until(lambda: len(answers) == 100, 60)
    finally:
        for client in clients:
            client.disconnect()
    assert len(answers) == 100
    assert all(answer.get("ok") or answer.get("code") == protocol.RETRY_LATER for answer in answers.values())
    for index, federation in enumerate(federations):
        acknowledged = {number for (at, number), answer in answers.items() if at == index and answer.get("ok")}
        stored = set(RoundRecord.objects.filter(federation=federation).values_list("number", flat=True))
        assert acknowledged <= stored
        assert max(acknowledged) == 20  # the writer that took over stored the last ones


def test_the_writer_starts_when_the_first_reporter_connects(live_portal, make_federation):
    assert writer_processes(live_portal.process.pid) == []
    federation = make_federation()
    client = reporter(live_portal, federation)
    try:
        wait_until(lambda: writer_processes(live_portal.process.pid), 30)
        assert len(writer_processes(live_portal.process.pid)) == 1  # before any event
        assert client.call("state", STATE, timeout=30) == {"ok": True}
        assert len(writer_processes(live_portal.process.pid)) == 1
    finally:
        client.disconnect()
