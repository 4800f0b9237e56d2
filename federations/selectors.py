"""Every read of the catalog that a page, an API or a command shares."""

from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404

from . import search
from .models import ClientFile, Federation, LiveState, Phase, RoundRecord, Status, progress_percent

SORTS = {
    "newest": ("-created_at", "-id"),
    "downloads": ("-download_count", "-id"),
    "active": ("-live__completed_rounds", "-id"),
}
DEFAULT_SORT = "newest"
APPLICATIONS_CACHE_SECONDS = 60


def listed_federations() -> QuerySet[Federation]:
    """The federations the public may see."""
    return Federation.objects.all()


def catalog(
    *, query: str = "", category: str = "", application: str = "", online_only: bool = False, sort: str = DEFAULT_SORT
) -> QuerySet[Federation]:
    federations = search.matching(listed_federations(), query)
    if category:
        federations = federations.filter(category=category)
    if application:
        federations = federations.filter(application=application)
    if online_only:
        federations = federations.filter(live__status=Status.ONLINE)
    return federations.select_related("client_file", "live").defer(
        "search_document", "client_file__content", "description", "data_expected", "privacy_measures"
    ).order_by(*SORTS[sort])


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
    """The listed federation whose slug, or id when ``key`` is all digits, is ``key``; else 404."""
    if key.isascii() and key.isdigit():
        if len(key) > 18:  # beyond any bigint id
            raise Http404("No such federation.")
        lookup = {"pk": int(key)}
    else:
        lookup = {"slug": key}
    try:
        return listed_federations().select_related("client_file", "live").defer("client_file__content").get(**lookup)
    except Federation.DoesNotExist:
        raise Http404("No such federation.") from None


def client_file_content(federation: Federation) -> bytes:
    return bytes(ClientFile.objects.values_list("content", flat=True).get(pk=federation.client_file_id))


# The live state a page receives: these fields of a LiveState, its federation's id and download count.
SNAPSHOT_FIELDS = [
    "status", "phase", "current_round", "total_rounds", "connected_clients", "min_clients", "fraction_fit",
    "completed_rounds", "avg_round_duration", "last_update", "current_run", "live_version",
]


_STATUS_LABELS, _PHASE_LABELS = dict(Status.choices), dict(Phase.choices)


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
    data["status_label"] = _STATUS_LABELS.get(values["status"], values["status"])
    data["phase_label"] = _PHASE_LABELS.get(values["phase"], values["phase"])
    data["progress"] = progress_percent(values["current_round"], values["total_rounds"])
    return data


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
    live = live_states(federation_ids).only("current_run").first()
    return round_history(live) if live else []


def round_history(live: LiveState, *, limit: int = 1000) -> list[dict]:
    """The learning curves of a federation's current (or last) run: its latest ``limit`` rounds, oldest first."""
    latest = RoundRecord.objects.filter(federation_id=live.pk, run=live.current_run).order_by("-number")
    return [round_point(record) for record in reversed(latest[:limit])]
