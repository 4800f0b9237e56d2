"""The reporting protocol, as the ingest applies it.

It lives in ``flower_integration.protocol`` (plain Python, documented in
flower_integration/README.md), which the reporter imports too: the field limits, event kinds,
error answers and the order of a federation's events are written once, for both sides.
"""

from flower_integration.protocol import (  # noqa: F401
    EVENTS,
    HELLO,
    INVALID,
    MAX_CLOCK_AHEAD_MS,
    MESSAGES,
    PARSERS,
    PHASES,
    REFUSED_ADDRESS,
    REFUSED_TOKEN,
    RETRIABLE,
    RETRY_LATER,
    THROTTLED,
    TOKEN_REVOKED,
    VERSION,
    AliveEvent,
    FinalEvent,
    ProtocolError,
    RoundEvent,
    StateEvent,
    hello,
    order,
    parse_alive,
    parse_final,
    parse_round,
    parse_state,
    refusal,
    retriable,
)
