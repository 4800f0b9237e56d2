"""How a reporter reads the Indexer's answers: by their codes (and, from an Indexer before the codes, their text)."""

from flower_integration import protocol


def test_retriable_answers_are_told_by_their_code():
    assert protocol.retriable(protocol.refusal(protocol.THROTTLED))
    assert protocol.retriable(protocol.refusal(protocol.RETRY_LATER))
    assert not protocol.retriable(protocol.refusal(protocol.TOKEN_REVOKED))
    assert not protocol.retriable(protocol.refusal(protocol.INVALID, "round must be an integer"))
    assert not protocol.retriable({"ok": True})
    assert not protocol.retriable("throttled")


def test_an_indexer_from_before_the_codes_is_understood_by_its_text():
    assert protocol.retriable({"ok": False, "error": "throttled: slow down"})
    assert protocol.retriable({"ok": False, "error": "unavailable: try again later"})
    assert not protocol.retriable({"ok": False, "error": "token revoked"})


def test_every_code_has_a_message():
    assert protocol.refusal(protocol.INVALID) == {"ok": False, "code": "invalid", "error": "invalid event"}
