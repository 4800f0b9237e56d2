import pytest

from federations import protocol

STATE = {"v": 1, "run": "r1", "phase": "training", "round": 2, "total_rounds": 10, "connected_clients": 3,
         "min_clients": 2, "fraction_fit": 0.5}
ROUND = {"v": 1, "run": "r1", "round": 2, "duration": 12.5, "loss": 0.4, "metrics": {"accuracy": 0.9},
         "num_clients": 2, "num_examples": 800}


def test_valid_events_are_parsed():
    assert protocol.parse_state(STATE) == protocol.StateEvent("r1", "training", 2, 10, 3, 2, 0.5)
    assert protocol.parse_round(ROUND) == protocol.RoundEvent("r1", 2, 12.5, 0.4, {"accuracy": 0.9}, 2, 800)
    assert protocol.parse_round({**ROUND, "loss": None, "metrics": {}}).loss is None
    assert protocol.parse_final({"v": 1, "run": "r1", "rounds": 10}) == protocol.FinalEvent("r1", 10)


@pytest.mark.parametrize(
    ("parser", "payload", "complaint"),
    [
        (protocol.parse_state, [], "JSON object"),
        (protocol.parse_state, {**STATE, "v": 2}, "version"),
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
        (protocol.parse_final, {"v": 1, "run": "r1"}, "rounds"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(parser, payload, complaint):
    with pytest.raises(protocol.ProtocolError, match=complaint):
        parser(payload)
