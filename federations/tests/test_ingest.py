"""The Socket.IO ingest as federation servers meet it: a real daphne serving the portal."""

import asyncio
import time

import pytest
import socketio
from django.forms.models import model_to_dict

from federations import protocol, services
from federations.models import Federation, LiveState, RoundRecord

STATE = {"v": 2, "run": "r1", "started": 1_750_000_000_000, "phase": "training", "round": 1, "total_rounds": 5, "connected_clients": 2,
         "min_clients": 2, "fraction_fit": 1.0}
ROUND = {"v": 2, "run": "r1", "started": 1_750_000_000_000, "round": 1, "duration": 2.5, "loss": 0.7, "metrics": {"accuracy": 0.6},
         "num_clients": 2, "num_examples": 100}


@pytest.fixture
def reporting_federation(make_federation):
    federation = make_federation()
    return federation, services.reporting_token_issue(federation=federation)


def snapshot():
    """Everything the ingest could change."""
    return [model_to_dict(f) for f in Federation.objects.order_by("pk")], RoundRecord.objects.count()


def connect(portal, auth):
    client = socketio.Client(reconnection=False)
    client.connect(portal.url, auth=auth, transports=["websocket"], wait_timeout=10)
    return client


def test_a_reporter_with_its_token_is_stored(live_portal, reporting_federation):
    federation, token = reporting_federation
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        assert client.call("state", STATE, timeout=10) == {"ok": True}
        assert client.call("round", ROUND, timeout=10) == {"ok": True}
    finally:
        client.disconnect()
    federation.refresh_from_db()
    assert federation.live.status == "online" and federation.live.completed_rounds == 1 and federation.live.current_round == 1
    assert RoundRecord.objects.get().metrics == {"accuracy": 0.6}


@pytest.mark.parametrize("case", ["no auth", "no token", "wrong token", "other federation's token", "revoked token",
                                  "id as text"])
def test_spoofed_connections_are_refused_and_write_nothing(live_portal, make_federation, case):
    federation, other = make_federation(), make_federation()
    token = services.reporting_token_issue(federation=federation)
    other_token = services.reporting_token_issue(federation=other)
    auth = {
        "no auth": None,
        "no token": {"federation": federation.pk},
        "wrong token": {"federation": federation.pk, "token": token[:-2] + "xx"},
        "other federation's token": {"federation": federation.pk, "token": other_token},
        "revoked token": {"federation": federation.pk, "token": token},
        "id as text": {"federation": str(federation.pk), "token": token},
    }[case]
    if case == "revoked token":
        services.reporting_token_revoke(federation=federation)
    before = snapshot()
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(live_portal, auth)
    assert snapshot() == before


def test_ids_inside_payloads_are_refused_not_followed(live_portal, reporting_federation, make_federation):
    federation, token = reporting_federation
    victim = make_federation()
    before = snapshot()
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        answer = client.call("round", {**ROUND, "federation": victim.pk}, timeout=10)
    finally:
        client.disconnect()
    assert answer["ok"] is False and "unknown fields: federation" in answer["error"]
    assert snapshot() == before


@pytest.mark.parametrize("payload", [
    "text", [1, 2], {**ROUND, "round": -1}, {**ROUND, "duration": "fast"}, {**ROUND, "metrics": {"a b": 1}},
    {**ROUND, "v": 99}, {k: v for k, v in ROUND.items() if k != "run"},
])
def test_malformed_payloads_are_refused_and_write_nothing(live_portal, reporting_federation, payload):
    federation, token = reporting_federation
    before = snapshot()
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        answer = client.call("round", payload, timeout=10)
    finally:
        client.disconnect()
    assert answer["ok"] is False and answer["error"]
    assert snapshot() == before


def test_an_oversize_frame_is_refused_and_writes_nothing(live_portal, reporting_federation):
    federation, token = reporting_federation
    before = snapshot()
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        with pytest.raises((socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)):
            client.call("round", {**ROUND, "metrics": {"accuracy": 0.5}, "padding": "x" * 100_000}, timeout=5)
        deadline = time.monotonic() + 10
        while client.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not client.connected  # the server dropped the connection
    finally:
        client.disconnect()
    assert snapshot() == before


def test_a_flood_from_one_federation_is_throttled(live_portal, reporting_federation):
    federation, token = reporting_federation
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    answers = []
    try:
        for number in range(150):  # all sent at once, acknowledgements collected afterwards
            client.emit("state", {**STATE, "round": number % 5}, callback=answers.append)
        deadline = time.monotonic() + 30
        while len(answers) < 150 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.disconnect()
    assert len(answers) == 150
    throttled = [answer for answer in answers if not answer["ok"]]
    assert throttled and all(answer["error"].startswith("throttled") for answer in throttled)
    assert sum(answer["ok"] for answer in answers) >= 60  # the burst went through


def test_revoking_a_token_cuts_a_live_connection(live_portal, reporting_federation):
    federation, token = reporting_federation
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        assert client.call("state", STATE, timeout=10) == {"ok": True}
        services.reporting_token_revoke(federation=federation)
        before = snapshot()
        assert client.call("round", ROUND, timeout=10) == protocol.refusal(protocol.TOKEN_REVOKED)
        assert snapshot() == before
        deadline = time.monotonic() + 10
        while client.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not client.connected
    finally:
        client.disconnect()


def test_pages_of_other_sites_cannot_open_ingest_sessions(live_portal):
    import urllib.error
    import urllib.request

    def handshake(origin):
        request = urllib.request.Request(live_portal.url + "/socket.io/?EIO=4&transport=polling",
                                         headers={"Origin": origin})
        try:
            return urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as error:
            return error.code

    assert handshake("https://evil.example") == 400
    assert handshake(live_portal.url) == 200  # what a reporter's client sends


def test_a_deleted_federation_cuts_its_connection(live_portal, reporting_federation):
    federation, token = reporting_federation
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        Federation.objects.filter(pk=federation.pk).delete()
        assert client.call("state", STATE, timeout=10) == protocol.refusal(protocol.TOKEN_REVOKED)
    finally:
        client.disconnect()
    assert not RoundRecord.objects.exists()


async def test_an_unexpected_failure_is_answered_try_again_later(monkeypatch):
    from federations import ingest

    async def session(sid):
        return {"federation_id": 1, "token_id": 1}

    def broken(**kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(ingest.sio, "get_session", session)
    monkeypatch.setattr(ingest.services, "federations_apply_reports", broken)
    answer = await ingest._apply("sid", "state", STATE)
    assert answer == {"ok": False, "code": protocol.RETRY_LATER, "error": "unavailable: try again later"}
    assert protocol.retriable(answer)


async def test_events_that_arrive_together_are_written_in_one_transaction(monkeypatch):
    from federations import ingest

    batches = []

    def recording(*, reports):
        batches.append(len(reports))
        return [ingest.services.Outcome.APPLIED] * len(reports)

    monkeypatch.setattr(ingest.services, "federations_apply_reports", recording)
    commit = ingest.group_commit()
    event = protocol.parse_state(STATE)
    answers = await asyncio.gather(*(commit.submit(ingest.services.Report(n, n, event)) for n in range(1, 51)))
    assert answers == [{"ok": True}] * 50
    assert sum(batches) == 50 and len(batches) <= 2  # the first event may go alone; the rest wait for its commit


async def test_an_ingest_that_falls_behind_answers_try_again_later_instead_of_queueing(monkeypatch):
    from federations import ingest

    release = asyncio.Event()
    monkeypatch.setattr(ingest, "MAX_WAITING", 3)
    monkeypatch.setattr(ingest.services, "federations_apply_reports",
                        lambda *, reports: [ingest.services.Outcome.APPLIED] * len(reports))
    commit = ingest.group_commit()
    original = commit._written
    handed = []

    async def slow(reports):
        handed.append(len(reports))
        await release.wait()
        return await original(reports)

    monkeypatch.setattr(commit, "_written", slow)
    event = protocol.parse_state(STATE)

    def submit(numbers):
        return [asyncio.ensure_future(commit.submit(ingest.services.Report(n, n, event))) for n in numbers]

    waiting = submit([1])
    await asyncio.sleep(0.05)  # the first is being written
    waiting += submit(range(2, 5))
    await asyncio.sleep(0.05)  # the next batch is handed to the writer too (two in flight)
    waiting += submit(range(5, 8))
    await asyncio.sleep(0.05)  # three more wait for a batch
    refused = await asyncio.wait_for(commit.submit(ingest.services.Report(9, 9, event)), timeout=5)
    assert refused["code"] == protocol.RETRY_LATER and protocol.retriable(refused)
    assert handed == [1, 3] and ingest.WRITES_IN_FLIGHT == 2
    assert not any(future.done() for future in waiting)
    release.set()
    assert await asyncio.gather(*waiting) == [{"ok": True}] * 7
    assert handed == [1, 3, 3]


def test_a_replayed_old_state_or_run_does_not_move_the_live_state_back(live_portal, reporting_federation):
    federation, token = reporting_federation
    later = {**STATE, "run": "r2", "started": STATE["started"] + 60_000}
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        assert client.call("state", STATE, timeout=10) == {"ok": True}
        assert client.call("state", {**later, "round": 5}, timeout=10) == {"ok": True}
        assert client.call("state", {**later, "round": 1}, timeout=10) == {"ok": True, "stale": True}
        assert client.call("state", {**STATE, "round": 4}, timeout=10) == {"ok": True, "stale": True}
    finally:
        client.disconnect()
    federation.refresh_from_db()
    assert (federation.live.current_run, federation.live.current_round) == ("r2", 5)


def test_an_old_reporter_is_told_to_upgrade(live_portal, reporting_federation):
    federation, token = reporting_federation
    before = snapshot()
    client = connect(live_portal, {"federation": federation.pk, "token": token})
    try:
        answer = client.call("state", {**{k: v for k, v in STATE.items() if k != "started"}, "v": 1}, timeout=10)
    finally:
        client.disconnect()
    assert answer["ok"] is False and "upgrade f2f-flower-integration" in answer["error"]
    assert snapshot() == before


def test_the_reporter_logs_why_the_indexer_refused_it(live_portal, reporting_federation, caplog):
    from flower_integration import Reporter

    federation, _ = reporting_federation
    reporter = Reporter(live_portal.url, federation_id=federation.pk, token="f2f_wrong", connect_timeout=5)
    reporter.state(phase="waiting", round=0, total_rounds=3, connected_clients=0, min_clients=2, fraction_fit=1.0)
    deadline = time.monotonic() + 15
    refusal = protocol.MESSAGES[protocol.REFUSED_TOKEN]
    while refusal not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.1)
    reporter.close(timeout=0)
    assert f"refused: {refusal}" in caplog.text


def test_a_reporter_whose_clock_is_behind_the_current_run_says_so(live_portal, reporting_federation, caplog):
    from flower_integration import Reporter

    federation, token = reporting_federation
    state = dict(phase="training", round=1, total_rounds=3, connected_clients=2, min_clients=2, fraction_fit=1.0)
    first = Reporter(live_portal.url, federation_id=federation.pk, token=token, run="current", connect_timeout=5)
    first.state(**state)
    first.close(timeout=15)
    behind = Reporter(live_portal.url, federation_id=federation.pk, token=token, run="restarted",
                      started=first.started - 3_600_000, connect_timeout=5)
    behind.state(**state)
    behind.close(timeout=15)
    assert behind.delivered == 1
    assert "is this machine's clock behind?" in caplog.text
    assert LiveState.objects.get(pk=federation.pk).current_run == "current"
