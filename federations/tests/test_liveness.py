"""A training server says it is alive between its events, so a long round is not taken for a dead server, and
a dead one is noticed after the silence allowed, whatever its rounds last."""

import time
from datetime import timedelta

import socketio
from django.utils import timezone

from conftest import stop
from federations import services
from federations.models import LiveState, Status
from federations.protocol import AliveEvent, RoundEvent, StateEvent, hello, parse_alive
from flower_integration import Reporter

START = 1_750_000_000_000


def _apply(federation, *events):
    token = services.reporting_token_authenticate(
        federation_id=federation.pk, token=services.reporting_token_issue(federation=federation))
    return services.federations_apply_reports(reports=[services.Report(federation.pk, token, e) for e in events])


def test_an_alive_signal_of_the_current_run_shortens_the_silence_allowed_to_the_floor(federation, settings):
    settings.F2F_OFFLINE_AFTER = 30
    outcomes = _apply(federation, StateEvent("r", START, "training", 2, 9, 2, 2, 1.0),
                      RoundEvent("r", START, 1, 60.0, 0.5, {}, 2, 10))
    live = LiveState.objects.get(pk=federation.pk)
    assert outcomes == ["applied", "applied"] and not live.signals_alive
    assert live.offline_after == live.last_update + timedelta(seconds=600)  # ten rounds of 60 s: no signal yet

    assert _apply(federation, AliveEvent("r", START)) == ["applied"]
    live = LiveState.objects.get(pk=federation.pk)
    assert live.signals_alive and live.offline_after == live.last_update + timedelta(seconds=30)
    assert (live.current_round, live.phase, live.run_rounds) == (2, "training", 1)  # nothing else moved


def test_an_alive_signal_of_another_run_only_shows_the_server_is_alive(federation):
    _apply(federation, StateEvent("new", START + 10, "training", 1, 9, 2, 2, 1.0))
    before = LiveState.objects.get(pk=federation.pk)
    assert _apply(federation, AliveEvent("old", START)) == ["applied"]
    after = LiveState.objects.get(pk=federation.pk)
    assert not after.signals_alive and after.current_run == "new"
    assert after.last_update > before.last_update


def test_a_new_run_starts_without_the_signal_and_with_its_own_counts(federation):
    _apply(federation, StateEvent("a", START, "training", 1, 9, 2, 2, 1.0), AliveEvent("a", START),
           RoundEvent("a", START, 1, 4.0, 0.5, {}, 2, 10), RoundEvent("a", START, 2, 6.0, 0.4, {}, 2, 10))
    live = LiveState.objects.get(pk=federation.pk)
    assert (live.signals_alive, live.run_rounds, live.run_avg_duration, live.completed_rounds) == (True, 2, 5.0, 2)

    _apply(federation, StateEvent("b", START + 1, "training", 1, 9, 2, 2, 1.0),
           RoundEvent("b", START + 1, 1, 10.0, 0.9, {}, 2, 10))
    live = LiveState.objects.get(pk=federation.pk)
    assert (live.signals_alive, live.run_rounds, live.run_avg_duration) == (False, 1, 10.0)
    assert (live.completed_rounds, live.avg_round_duration) == (3, 20.0 / 3)  # over every run, as sorted by
    runs = {run.name: (run.rounds_completed, run.avg_duration) for run in federation.runs.all()}
    assert runs == {"a": (2, 5.0), "b": (1, 10.0)}


def test_the_alive_signal_is_the_envelope_and_nothing_else():
    assert parse_alive({"v": 2, "run": "r", "started": START}) == AliveEvent("r", START)
    for bad in ({"v": 2, "run": "r", "started": START, "round": 3}, {"v": 2, "started": START}, []):
        try:
            parse_alive(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    # On the wire: the event with its acknowledgement id, and its answer (Socket.IO packets, before framing).
    event = socketio.packet.Packet(socketio.packet.EVENT, data=["alive", {"v": 2, "run": "f" * 16,
                                                                          "started": START}], id=12).encode()
    answer = socketio.packet.Packet(socketio.packet.ACK, data=[{"ok": True}], id=12).encode()
    assert (len(event), len(answer)) == (69, 16), (event, answer)  # README: 70 and 17 with Engine.IO's type
    assert hello(alive_every=300) == {"v": 2, "alive_every": 300}


def _status(federation):
    return LiveState.objects.filter(pk=federation.pk).values_list("status", flat=True).get()


def test_a_long_round_stays_online_and_a_dead_server_turns_offline_after_the_floor(heartbeat_portal, federation):
    """The heartbeat sweeps every second and allows 3 s of silence: the Indexer asks for a signal every second.
    A round of 8 s with no event stays online all along; once the server dies, it is offline within the floor
    and a sweep."""
    token = services.reporting_token_issue(federation=federation)
    reporter = Reporter(heartbeat_portal.url, federation_id=federation.pk, token=token)
    try:
        reporter.state(phase="training", round=1, total_rounds=3, connected_clients=2, min_clients=2,
                       fraction_fit=1.0)
        deadline = time.monotonic() + 10
        while _status(federation) != Status.ONLINE:
            assert time.monotonic() < deadline, heartbeat_portal.log()
            time.sleep(0.1)
        seen = set()
        round_ends = time.monotonic() + 8
        while time.monotonic() < round_ends:
            seen.add(_status(federation))
            time.sleep(0.2)
        assert seen == {Status.ONLINE}, heartbeat_portal.log()
        assert reporter.alive_signals >= 5 and reporter.rejected == 0
        assert LiveState.objects.get(pk=federation.pk).signals_alive
    finally:
        reporter.close(timeout=0)  # the server dies: no final event, no more signals
    died = time.monotonic()
    while _status(federation) != Status.OFFLINE:
        assert time.monotonic() - died < 8, heartbeat_portal.log()
        time.sleep(0.1)
    print(f"\nthe dead server turned offline {time.monotonic() - died:.1f} s after its last signal "
          "(3 s allowed, sweeps every second)")
    live = LiveState.objects.get(pk=federation.pk)
    assert live.phase == "training" and live.last_update < timezone.now() - timedelta(seconds=2)


def test_an_indexer_restart_mid_round_is_bridged_by_the_signals(transactional_db, federation, tmp_path):
    """A reporter with nothing to send reconnects to say it is alive: a portal restarted in the middle of a
    long round sees the server again without waiting for its next event."""
    from conftest import database_url, free_port, start_portal

    port = free_port()
    env = {"DATABASE_URL": database_url(), "F2F_OFFLINE_AFTER": "3"}
    portal = start_portal(tmp_path, env, port=port)
    token = services.reporting_token_issue(federation=federation)
    reporter = Reporter(portal.url, federation_id=federation.pk, token=token, max_backoff=1, connect_timeout=1)
    try:
        reporter.state(phase="training", round=1, total_rounds=3, connected_clients=2, min_clients=2,
                       fraction_fit=1.0)
        deadline = time.monotonic() + 10
        while not reporter.alive_signals:
            assert time.monotonic() < deadline, portal.log()
            time.sleep(0.1)
        stop(portal.process)
        LiveState.objects.filter(pk=federation.pk).update(status=Status.OFFLINE)  # as a heartbeat would have
        portal = start_portal(tmp_path, env, port=port)
        deadline = time.monotonic() + 15
        while _status(federation) != Status.ONLINE:
            assert time.monotonic() < deadline, portal.log()
            time.sleep(0.2)
    finally:
        reporter.close(timeout=0)
        stop(portal.process)


def test_a_refused_signal_is_not_sent_again(transactional_db, federation, tmp_path):
    """What refuses one signal refuses the next (here a run name the protocol does not allow): the reporter
    stops signalling for that run rather than sending again and again."""
    from conftest import database_url, start_portal

    portal = start_portal(tmp_path, {"DATABASE_URL": database_url(), "F2F_OFFLINE_AFTER": "3"})
    token = services.reporting_token_issue(federation=federation)
    reporter = Reporter(portal.url, federation_id=federation.pk, token=token, run="not a valid run name")
    try:
        reporter.state(phase="training", round=1, total_rounds=3, connected_clients=2, min_clients=2,
                       fraction_fit=1.0)
        time.sleep(5)  # five signals' time
        assert (reporter.rejected, reporter.alive_signals, reporter.delivered) == (2, 0, 0)  # the state, one signal
    finally:
        reporter.close(timeout=0)
        stop(portal.process)
