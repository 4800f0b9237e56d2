"""Every read of the catalog that a page, an API or a command shares."""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connections
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from f2f_site import memo

from . import search
from .models import (
    ClientFile, Federation, LiveState, OnlineSpell, RoundRecord, Status, TrainingRun, clients_label, labels,
    participants_wanted, progress_percent, stopped,
)

# Each sort orders by one field (a lookup path), descending, then by descending id (so ties have one
# order and pages never skip or repeat a federation). The live state the catalog reads:
# completed_rounds here, status and clients in _live_conditions below; nothing else in the catalog names it.
SORTS = {
    "newest": "created_at",
    "downloads": "download_count",
    "active": "live__completed_rounds",
}
DEFAULT_SORT = "newest"
# The catalog's filters, none applied: the keyword arguments of catalog_results, catalog_count and catalog_page.
NO_FILTERS = {"query": "", "category": "", "application": "", "online_only": False, "wanted_only": False}
PAGE_SIZE = 25
# Counting every match of a broad search costs as much as listing them all: counts stop past this.
COUNT_LIMIT = 100
TOTAL_CACHE_SECONDS = 60
# How many live states a page sorted by them walks past on SQLite before the matches are counted (_live_rows):
# ~4 ms at most, enough for filters that keep one federation in ~150.
WALK_LIMIT = 4000
APPLICATIONS_CACHE_SECONDS = 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BIGINT = 2**63


def listed_federations() -> QuerySet[Federation]:
    """The federations the catalog and search show: all but the suspended ones."""
    return Federation.objects.filter(suspended_at__isnull=True)


def catalog(
    *, query: str = "", category: str = "", application: str = "", online_only: bool = False,
    wanted_only: bool = False, sort: str = DEFAULT_SORT,
) -> QuerySet[Federation]:
    """The listed federations that match, in the sort's order (ties by descending id)."""
    federations = _matching(query=query, category=category, application=application, online_only=online_only,
                            wanted_only=wanted_only)
    if SORTS[sort].startswith("live__"):
        # Every federation has its live state: an inner join lets PostgreSQL walk the live state's index
        # in order (a left join, what ordering by a reverse relation makes, cannot).
        federations = federations.filter(live__isnull=False)
    # The live states of a page come in a query of their own: joined, they make the planner prefer
    # walking the newest-first index over the few rows a search finds.
    # The sort key comes with each row: a page's links must carry the values it was ordered by, not those
    # of a later read (the prefetched live states).
    return federations.annotate(sort_key=F(SORTS[sort])).select_related("client_file").prefetch_related("live").defer(
        "search_document", "client_file__content", "description", "data_expected", "privacy_measures"
    ).order_by(f"-{SORTS[sort]}", "-id")


def _matching(*, query: str, category: str, application: str, online_only: bool,
              wanted_only: bool = False) -> QuerySet[Federation]:
    federations = search.matching(listed_federations(), query)
    if category:
        federations = federations.filter(category=category)
    if application:
        federations = federations.filter(application=application)
    return federations.filter(*_live_conditions(online_only=online_only, wanted_only=wanted_only))


def _live_conditions(*, online_only: bool, wanted_only: bool, path: str = "live__") -> list[Q]:
    """The live state's filters: online federations, or those that want participants (the query form of
    ``models.participants_wanted``); with ``path=""``, on live states."""
    conditions = []
    if online_only or wanted_only:
        conditions.append(Q(**{f"{path}status": Status.ONLINE}))
    if wanted_only:
        conditions.append(Q(**{f"{path}connected_clients__lt": F(f"{path}min_clients")}))
    return conditions


_POSITION = re.compile(r"(-?\d{1,19})\.(\d{1,19})")


@dataclass(frozen=True)
class Position:
    """A place in a sorted catalog: a federation's sort key (an integer: timestamps in microseconds since
    the epoch) and its id. Written ``key.id`` in page links."""

    key: int
    id: int

    @classmethod
    def parse(cls, text: str) -> "Position":
        """The position ``text`` writes; ValueError when it is not one (a forged or mangled link)."""
        match = _POSITION.fullmatch(text)
        if not match:
            raise ValueError(f"not a catalog position: {text!r}")
        key, id_ = int(match[1]), int(match[2])
        if not (-_BIGINT < key < _BIGINT and 0 < id_ < _BIGINT):
            raise ValueError(f"catalog position out of range: {text!r}")
        return cls(key, id_)

    @classmethod
    def of(cls, federation: Federation, sort: str) -> "Position":
        """Where ``federation``, a row of ``catalog(sort=sort)``, stands."""
        value = federation.sort_key
        if isinstance(value, datetime):
            value = (value - _EPOCH) // timedelta(microseconds=1)
        return cls(value, federation.pk)

    def __str__(self) -> str:
        return f"{self.key}.{self.id}"


@dataclass(frozen=True)
class Page:
    """One page of the catalog and where its neighbours start: ``next`` to pass as ``after``,
    ``previous`` as ``before`` (None when there is no such page)."""

    federations: list[Federation]
    next: Position | None
    previous: Position | None


def catalog_results(*, sort: str = DEFAULT_SORT, after: Position | None = None, before: Position | None = None,
                    **filters) -> tuple["Page", "Count"]:
    """A page of the catalog (``catalog_page``) and how many federations match (``catalog_count``), together.

    A filtered catalog's first matches, up to COUNT_LIMIT + 1 in no order, are read once: to count them,
    and, when they are all there are, to find the page among them alone. Otherwise a rare word (no match,
    or a few) has PostgreSQL walk the whole newest-first index in search of a page it expects to fill soon
    (its estimate of a prefix's matches knows nothing of words outside its statistics): 227 ms at 100,000
    federations, against a few for the matches' ids and their page.
    """
    filters = {**NO_FILTERS, **filters}
    if not any(filters.values()):
        return catalog_page(sort=sort, after=after, before=before), catalog_count()
    found = _first_matches(filters)
    among = found if len(found) <= COUNT_LIMIT else None  # all the matches there are
    return catalog_page(**filters, sort=sort, after=after, before=before, among=among), _counted(found)


def catalog_page(
    *, query: str = "", category: str = "", application: str = "", online_only: bool = False,
    wanted_only: bool = False, sort: str = DEFAULT_SORT, after: Position | None = None,
    before: Position | None = None, among: list[int] | None = None,
) -> Page:
    """The PAGE_SIZE federations right after ``after`` (or right before ``before``, or the first ones); only
    those of ``among`` (ids), when given.

    Keyset pages: each is found through the sort's index from the position the link carries, so a
    deep page costs what the first one does, and a federation added meanwhile shifts nothing.
    """
    filters = {"query": query, "category": category, "application": application, "online_only": online_only,
               "wanted_only": wanted_only}
    backwards = before is not None and after is None
    position = before if backwards else after
    if among is not None:  # every match is known: its page is looked for among them alone
        rows = _matched_rows(catalog(**filters, sort=sort).filter(pk__in=among), SORTS[sort], position,
                             backwards) if among else []
    else:
        rows = _live_rows(filters, sort, position, backwards) if _walks_live_index(sort) else None
    if rows is None:
        rows = _matched_rows(catalog(**filters, sort=sort), SORTS[sort], position, backwards)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if backwards:
        rows = rows[::-1]
        return Page(rows, next=Position.of(rows[-1], sort) if rows else None,
                    previous=Position.of(rows[0], sort) if rows and more else None)
    return Page(rows, next=Position.of(rows[-1], sort) if more else None,
                previous=Position.of(rows[0], sort) if rows and after is not None else None)


def _past(field: str, pk: str, value, id_: int, *, descending: bool, including: bool = False) -> Q:
    """The rows past ``(value, id_)`` in an order by ``field`` then ``pk``, both descending (or both
    ascending); the row at ``(value, id_)`` too when ``including``. Written so that the range on the
    sort's leading column can use its index."""
    same, beyond = ("lte", "lt") if descending else ("gte", "gt")
    return Q(**{f"{field}__{same}": value}) & (
        Q(**{f"{field}__{beyond}": value}) | Q(**{f"{pk}__{same if including else beyond}": id_}))


def _matched_rows(federations: QuerySet[Federation], field: str, position: Position | None,
                  backwards: bool) -> list[Federation]:
    """Up to PAGE_SIZE + 1 rows of ``federations`` past ``position``, nearest first."""
    if position is not None:
        federations = federations.filter(_past(field, "id", _sort_value(field, position.key), position.id,
                                               descending=not backwards))
    if backwards:
        federations = federations.reverse()
    return list(federations[:PAGE_SIZE + 1])


def _walks_live_index(sort: str) -> bool:
    """Whether a page sorted by ``sort`` is looked for by walking the live states' index (_walked_rows).

    SQLite only, which drives a query from its most selective-looking condition and never from an
    index that merely gives the order: from the full-text matches (``detection*`` + its category: 14,000
    of 100,000 federations, joined and sorted, 33 ms), from the category's index (49 ms), from the
    status index (online: 50,000, 133 ms), and, with ties broken by the federation's id rather than the
    index's own column, it sorts every federation with the top count (6 ms). PostgreSQL weighs the LIMIT
    and already walks the index when that is cheaper.
    """
    return SORTS[sort].startswith("live__") and connections[LiveState.objects.db].vendor == "sqlite"


def _live_rows(filters: dict, sort: str, position: Position | None, backwards: bool) -> list[Federation] | None:
    """A live sort's rows on SQLite (_walks_live_index), or None where the matches are cheaper to sort.

    The walk of the first WALK_LIMIT live states finds the page unless the filters keep fewer than one
    federation in ~150 there. Then the matches decide: few (fewer than WALK_LIMIT), they are found and
    sorted (the walk would pass the whole catalog for them: 120 ms); many (matching federations that sit
    low in this order, as online ones do in "most active": finished runs go offline), the walk goes on.
    """
    rows = _walked_rows(filters, sort, position, backwards, limit=WALK_LIMIT)
    if rows is not None:
        return rows
    matches = _matching(**filters).order_by().values("id")[:WALK_LIMIT].count()
    if matches == 0:
        return []
    return _walked_rows(filters, sort, position, backwards, limit=None) if matches == WALK_LIMIT else None


def _walked_rows(filters: dict, sort: str, position: Position | None, backwards: bool, *,
                 limit: int | None) -> list[Federation] | None:
    """Up to PAGE_SIZE + 1 matching rows past ``position`` in a live sort, found by walking the live states
    in the index's order (``live_most_active``) and checking each one's federation, which stops once the
    page is full; None when the first ``limit`` live states hold too few."""
    field = SORTS[sort].removeprefix("live__")
    states = LiveState.objects.order_by(*((field, "pk") if backwards else (f"-{field}", "-pk")))
    if position is not None:
        states = states.filter(_past(field, "pk", _sort_value(SORTS[sort], position.key), position.id,
                                     descending=not backwards))
    # The card's conditions in a correlated EXISTS (outside it, SQLite would drive the query from them); the
    # live state's on the walked row itself (checked in the EXISTS, each took a second lookup of it).
    card = _matching(**{**filters, "online_only": False, "wanted_only": False}).filter(pk=OuterRef("pk"))
    walk = states.filter(Exists(card), *_live_conditions(online_only=filters["online_only"],
                                                         wanted_only=filters["wanted_only"], path=""))
    bound = None if limit is None else next(iter(states.values_list(field, "pk")[limit - 1:limit]), None)
    if bound is not None:  # the walk stops there: rows up to and including the bound
        walk = walk.filter(_past(field, "pk", *bound, descending=backwards, including=True))
    rows = catalog(sort=sort).filter(pk__in=walk.values("pk")[:PAGE_SIZE + 1])
    rows = list(rows.reverse() if backwards else rows)
    return None if bound is not None and len(rows) <= PAGE_SIZE else rows


def _sort_value(path: str, key: int):
    """The value of the field at ``path`` that a position's key stands for."""
    *relations, name = path.split("__")
    model = functools.reduce(lambda model, relation: model._meta.get_field(relation).related_model, relations,
                             Federation)
    if not isinstance(model._meta.get_field(name), DateTimeField):
        return key
    try:
        return _EPOCH + timedelta(microseconds=key)
    except OverflowError:  # beyond the years datetime holds: as good as the end of time, either way
        return datetime.max.replace(tzinfo=UTC) if key > 0 else datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Count:
    """How many federations match: ``value``, or at least ``value`` when ``more``."""

    value: int
    more: bool = False


def catalog_count(**filters) -> Count:
    """How many listed federations match, counted up to COUNT_LIMIT. The whole catalog's total is cached
    for a minute: even an index-only count visits every row."""
    filters = {**NO_FILTERS, **filters}
    if not any(filters.values()):
        return Count(cache.get_or_set("federations:total", listed_federations().count, TOTAL_CACHE_SECONDS))
    return _counted(_first_matches(filters))


def _first_matches(filters: dict) -> list[int]:
    """The ids of the first COUNT_LIMIT + 1 matches, in no order: ordered, SQLite sorted every match to find
    the first 101 (26 of 29 ms for a broad search)."""
    return list(_matching(**filters).order_by().values_list("id", flat=True)[:COUNT_LIMIT + 1])


def _counted(matches: list[int]) -> Count:
    return Count(COUNT_LIMIT, more=True) if len(matches) > COUNT_LIMIT else Count(len(matches))


def applications() -> list[str]:
    """The distinct applications of listed federations, for the catalog's filter.

    Cached for a minute: a DISTINCT over a large catalog costs more than the rest of the page.
    """
    return cache.get_or_set(
        "federations:applications",
        lambda: list(listed_federations().order_by("application").values_list("application", flat=True).distinct()),
        APPLICATIONS_CACHE_SECONDS,
    )


def federation_by_key(key: str) -> Federation:
    """The federation whose slug, or id when ``key`` is all digits, is ``key``, else 404: a suspended one too,
    whose page says so."""
    if key.isascii() and key.isdigit():
        if len(key) > 18:  # beyond any bigint id
            raise Http404("No such federation.")
        lookup = {"pk": int(key)}
    else:
        lookup = {"slug": key}
    try:
        return Federation.objects.select_related("client_file", "live").defer("client_file__content").get(**lookup)
    except Federation.DoesNotExist:
        raise Http404("No such federation.") from None


def client_file_content(federation: Federation) -> bytes:
    return bytes(ClientFile.objects.values_list("content", flat=True).get(pk=federation.client_file_id))


# The live state a page receives: these fields of a LiveState, its federation's id and download count.
SNAPSHOT_FIELDS = [
    "status", "phase", "current_round", "total_rounds", "connected_clients", "min_clients", "fraction_fit",
    "completed_rounds", "avg_round_duration", "run_rounds", "run_avg_duration", "last_update", "current_run",
    "live_version",
]




def snapshot(live: LiveState, *, download_count: int) -> dict:
    """A federation's live state as pages receive it (JSON-ready). Built for every write the ingest makes."""
    return state_of({"id": live.pk, **{field: getattr(live, field) for field in SNAPSHOT_FIELDS},
                     "download_count": download_count})


def state_of(values: dict) -> dict:
    """The state pages receive from a federation's ``id``, ``download_count`` and live ``SNAPSHOT_FIELDS``.

    For writers that read rows rather than models (the heartbeat turns thousands offline at once).
    """
    data = dict(values)
    data["last_update"] = values["last_update"].isoformat() if values["last_update"] else None
    data["status_label"], data["phase_label"] = labels(values["status"], values["phase"])
    data["progress"] = progress_percent(values["current_round"], values["total_rounds"], values["phase"])
    data["participants_wanted"] = participants_wanted(values["status"], values["connected_clients"],
                                                      values["min_clients"])
    data["stopped"] = stopped(values["status"], values["phase"])
    data["clients_label"] = clients_label(values["status"], values["connected_clients"])
    return data


UPTIME_DAYS = (7, 30)  # the windows a federation's page gives its uptime over (spells are kept as long)


SPELLS = "spells"  # their memo's kind, by federation id


def _recent_spells(federation: Federation, now: datetime) -> list[tuple]:
    oldest = max(now - timedelta(days=max(UPTIME_DAYS)), federation.created_at)
    return list(OnlineSpell.objects.filter(federation=federation).filter(
        Q(ended__isnull=True) | Q(ended__gt=oldest)).values_list("started", "ended"))


def uptimes(federation: Federation, *, now: datetime | None = None) -> dict[int, float] | None:
    """For each of ``UPTIME_DAYS``, the share of those last days (of its life, when it is younger) that its
    server was online, 0 to 1; None for a federation listed this very minute. One query, none when read in
    the last seconds (``f2f_site.memo``: the spells, which the ingest's writer and the heartbeat change in
    processes of their own, are that much behind at most)."""
    now = now or timezone.now()
    if (now - federation.created_at).total_seconds() < 60:
        return None
    spells = memo.remembered(SPELLS, federation.pk, lambda: _recent_spells(federation, now))
    shares = {}
    for days in UPTIME_DAYS:
        start = max(now - timedelta(days=days), federation.created_at)
        online = sum(max(0.0, (min(ended or now, now) - max(started, start)).total_seconds())
                     for started, ended in spells)
        shares[days] = min(1.0, online / (now - start).total_seconds())
    return shares


def listed_since(moment: datetime, *, limit: int, **filters) -> list[int]:
    """The ids of the latest ``limit`` federations listed after ``moment`` that match ``filters`` (``catalog``'s
    but the sort), newest first."""
    return list(_matching(**{**NO_FILTERS, **filters}).filter(created_at__gt=moment).order_by("-created_at", "-id")
                .values_list("id", flat=True)[:limit])


def listed_among(federation_ids, **filters) -> list[int]:
    """Those of ``federation_ids`` that are listed and match ``filters``, in the order given."""
    matching = set(_matching(**{**NO_FILTERS, **filters}).filter(pk__in=list(federation_ids))
                   .values_list("id", flat=True))
    return [pk for pk in federation_ids if pk in matching]



def live_states(federation_ids) -> QuerySet[LiveState]:
    """The live states of the listed federations among ``federation_ids``."""
    return LiveState.objects.filter(pk__in=federation_ids, federation__in=listed_federations())


def federation_snapshots(federation_ids) -> list[dict]:
    """The live part of each listed federation among ``federation_ids``."""
    states = live_states(federation_ids).select_related("federation").only(*SNAPSHOT_FIELDS, "federation__download_count")
    return [snapshot(live, download_count=live.federation.download_count) for live in states]


def round_point(record: RoundRecord) -> dict:
    """One point of the learning curves."""
    return {
        "run": record.run, "round": record.number, "duration": record.duration, "loss": record.loss,
        "metrics": record.metrics, "num_clients": record.num_clients, "num_examples": record.num_examples,
    }


def round_history_of(federation_ids) -> list[dict]:
    """The learning curves of the first listed federation among ``federation_ids`` (a federation page's)."""
    live = live_states(federation_ids).only("current_run", "run_rounds").first()
    return round_history(live) if live else []


def earlier_runs(live: LiveState) -> list[TrainingRun]:
    """A federation's runs before its current one, latest first (those kept: ``F2F_RUNS_KEPT``). No query
    when every round it completed is of its current run (most federations' case)."""
    if live.completed_rounds == live.run_rounds:
        return []
    return list(TrainingRun.objects.filter(federation_id=live.pk).exclude(name=live.current_run).order_by(
        "-started", "-name"))


def round_history(live: LiveState, *, limit: int = 1000) -> list[dict]:
    """The learning curves of a federation's current (or last) run: its latest ``limit`` rounds, oldest first.
    No query when that run has finished no round."""
    if not live.run_rounds:
        return []
    latest = RoundRecord.objects.filter(federation_id=live.pk, run=live.current_run).order_by("-number")
    return [round_point(record) for record in reversed(latest[:limit])]
