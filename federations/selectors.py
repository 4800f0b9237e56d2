"""Every read of the catalog that a page, an API or a command shares."""

from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404

from . import search
from .models import ClientFile, Federation, Phase, RoundRecord, Status

SORTS = {
    "newest": ("-created_at", "-id"),
    "downloads": ("-download_count", "-id"),
    "active": ("-completed_rounds", "-id"),
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
        federations = federations.filter(status=Status.ONLINE)
    return federations.select_related("client_file").defer(
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
        return listed_federations().select_related("client_file").defer("client_file__content").get(**lookup)
    except Federation.DoesNotExist:
        raise Http404("No such federation.") from None


def client_file_content(federation: Federation) -> bytes:
    return bytes(ClientFile.objects.values_list("content", flat=True).get(pk=federation.client_file_id))


SNAPSHOT_FIELDS = [
    "id", "status", "phase", "current_round", "total_rounds", "connected_clients", "min_clients",
    "fraction_fit", "completed_rounds", "avg_round_duration", "last_update", "download_count", "current_run",
    "live_version",
]


_STATUS_LABELS, _PHASE_LABELS = dict(Status.choices), dict(Phase.choices)


def snapshot(federation: Federation) -> dict:
    """The live part of a federation, as pages receive it (JSON-ready). Built for every write the ingest makes."""
    data = {field: getattr(federation, field) for field in SNAPSHOT_FIELDS}
    data["last_update"] = federation.last_update.isoformat() if federation.last_update else None
    data["status_label"] = _STATUS_LABELS.get(federation.status, federation.status)
    data["phase_label"] = _PHASE_LABELS.get(federation.phase, federation.phase)
    data["progress"] = federation.progress_percent
    return data


def federation_snapshots(federation_ids) -> list[dict]:
    """The live part of each listed federation among ``federation_ids``."""
    return [snapshot(federation)
            for federation in listed_federations().filter(pk__in=federation_ids).only(*SNAPSHOT_FIELDS)]


def round_point(record: RoundRecord) -> dict:
    """One point of the learning curves."""
    return {
        "run": record.run, "round": record.number, "duration": record.duration, "loss": record.loss,
        "metrics": record.metrics, "num_clients": record.num_clients, "num_examples": record.num_examples,
    }


def round_history_of(federation_ids) -> list[dict]:
    """The learning curves of the first listed federation among ``federation_ids`` (a federation page's)."""
    federation = listed_federations().filter(pk__in=federation_ids).only("id", "current_run").first()
    return round_history(federation) if federation else []


def round_history(federation: Federation, *, limit: int = 1000) -> list[dict]:
    """The learning curves of the federation's current (or last) run: its latest ``limit`` rounds, oldest first."""
    latest = RoundRecord.objects.filter(federation=federation, run=federation.current_run).order_by("-number")
    return [round_point(record) for record in reversed(latest[:limit])]
