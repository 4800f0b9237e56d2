import pytest

from federations import protocol

STARTED = 1_750_000_000_000
STATE = {"v": 2, "run": "r1", "started": STARTED, "phase": "training", "round": 2, "total_rounds": 10, "connected_clients": 3,
         "min_clients": 2, "fraction_fit": 0.5}
ROUND = {"v": 2, "run": "r1", "started": STARTED, "round": 2, "duration": 12.5, "loss": 0.4, "metrics": {"accuracy": 0.9},
         "num_clients": 2, "num_examples": 800}


def test_valid_events_are_parsed():
    assert protocol.parse_state(STATE) == protocol.StateEvent("r1", STARTED, "training", 2, 10, 3, 2, 0.5)
    assert protocol.parse_round(ROUND) == protocol.RoundEvent("r1", STARTED, 2, 12.5, 0.4, {"accuracy": 0.9}, 2, 800)
    assert protocol.parse_round({**ROUND, "loss": None, "metrics": {}}).loss is None
    assert protocol.parse_final({"v": 2, "run": "r1", "started": STARTED, "rounds": 10}) == protocol.FinalEvent("r1", STARTED, 10)


@pytest.mark.parametrize(
    ("parser", "payload", "complaint"),
    [
        (protocol.parse_state, [], "JSON object"),
        (protocol.parse_state, {**STATE, "v": 3}, "unsupported protocol version 3"),
        (protocol.parse_state, {**STATE, "v": 1}, "version 1 is no longer accepted.*upgrade f2f-flower-integration"),
        (protocol.parse_state, {k: v for k, v in STATE.items() if k != "started"}, "started"),
        (protocol.parse_state, {**STATE, "started": 1.75e12}, "started"),
        (protocol.parse_state, {**STATE, "started": -1}, "started"),
        (protocol.parse_round, {**ROUND, "started": "2025-06-15"}, "started"),
        (protocol.parse_state, {**STATE, "federation": 7}, "unknown fields: federation"),
        (protocol.parse_state, {**STATE, "phase": "hacking"}, "phase"),
        (protocol.parse_state, {**STATE, "round": "2"}, "round"),
        (protocol.parse_state, {**STATE, "round": True}, "round"),
        (protocol.parse_state, {**STATE, "round": 11}, "past total_rounds"),
        (protocol.parse_state, {**STATE, "connected_clients": -1}, "connected_clients"),
        (protocol.parse_state, {**STATE, "fraction_fit": 1.5}, "fraction_fit"),
        (protocol.parse_state, {**STATE, "run": "../etc"}, "run"),
        (protocol.parse_state, {**STATE, "run": "x" * 33}, "run"),
        (protocol.parse_state, {**STATE, "run": "x" * 32 + "\n"}, "run"),
        (protocol.parse_round, {**ROUND, "metrics": {"accuracy\n": 1}}, "metric names"),
        (protocol.parse_round, {**ROUND, "round": 0}, "round"),
        (protocol.parse_round, {**ROUND, "duration": float("nan")}, "duration"),
        (protocol.parse_round, {**ROUND, "duration": -1}, "duration"),
        (protocol.parse_round, {**ROUND, "loss": float("inf")}, "loss"),
        (protocol.parse_round, {**ROUND, "metrics": {"<script>": 1}}, "metric names"),
        (protocol.parse_round, {**ROUND, "metrics": {"accuracy": "high"}}, "finite number"),
        (protocol.parse_round, {**ROUND, "metrics": {f"m{i}": 1 for i in range(17)}}, "at most 16"),
        (protocol.parse_round, {**ROUND, "num_examples": 10**13}, "num_examples"),
        (protocol.parse_final, {"v": 2, "run": "r1", "started": STARTED}, "rounds"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(parser, payload, complaint):
    with pytest.raises(protocol.ProtocolError, match=complaint):
        parser(payload)


def test_a_start_ahead_of_the_indexers_clock_is_refused():
    now = STARTED
    ahead = now + protocol.MAX_CLOCK_AHEAD_MS
    assert protocol.parse_state({**STATE, "started": ahead}, now_ms=now).started == ahead
    with pytest.raises(protocol.ProtocolError, match="ahead of the indexer's clock"):
        protocol.parse_state({**STATE, "started": ahead + 1}, now_ms=now)
    assert protocol.parse_state({**STATE, "started": 0}, now_ms=now).started == 0  # a clock behind only loses


def test_events_are_ordered_by_run_start_then_finish_then_round():
    def state(**changes):
        return protocol.parse_state({**STATE, **changes})

    def final(**changes):
        return protocol.parse_final({"v": 2, "run": "r1", "started": STARTED, "rounds": 10, **changes})

    later_run = state(run="r0", started=STARTED + 1, round=0, phase="waiting")
    assert later_run.order > final().order > state(phase="finished", round=9).order > state(round=10).order
    assert state(round=10).order > state(round=2).order
    assert state(round=2, phase="evaluating").order == state(round=2).order  # phases of one round: arrival order
    assert state(run="r2").order > state(run="r1").order  # the same start: the run id breaks the tie


def test_the_reporter_and_the_ingest_read_one_protocol_module():
    from flower_integration import protocol as shared
    from flower_integration import reporter

    assert protocol.parse_state is shared.parse_state and protocol.VERSION == shared.VERSION
    assert reporter.protocol is shared
