"""A short memory, in each process, of what a federation's page reads that seldom changes.

A federation's page read its trust signals (open reports, the operators' last action), the provenance
of its client script and its spells of uptime in three queries on every view: at 100,000 federations
~4.4 ms of the page's ~11 in Django, nearly all of it the ORM building the statements, for values
that change a few times a day. Each is kept here for ``SECONDS``, per federation. The services that
change one forget it, in their own process; another portal process shows the change within
``SECONDS``, and spells of uptime, which the ingest's writer and the heartbeat open and close in
processes of their own, are that much behind at most (30 s of a 7-day share: 0.005 %).
"""

from django.core.cache import caches

SECONDS = 30
ALIAS = "memo"
_MISSING = object()


def remembered(kind: str, key, compute):
    """``compute()``, or what it gave for ``kind`` and ``key`` less than ``SECONDS`` ago."""
    cache, name = caches[ALIAS], f"{kind}:{key}"
    value = cache.get(name, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(name, value, SECONDS)
    return value


def forget(kind: str, keys) -> None:
    """Have the next read of ``kind`` for each of ``keys`` computed afresh (in this process)."""
    caches[ALIAS].delete_many([f"{kind}:{key}" for key in keys])


def clear() -> None:
    caches[ALIAS].clear()
