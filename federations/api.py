"""The scrape API: the catalog as JSON, like a tracker's scrape (described by ``openapi.SCHEMA``).

Read only, no session: the same search, filters and pages as the catalog; a federation's card,
client and live state; the states of many federations in one request.
"""

from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from reports import selectors as trust

from . import join, selectors
from .forms import CatalogFilterForm

MAX_SCRAPE_IDS = 200
SUMMARY_FIELDS = ["name", "slug", "category", "application", "model_name", "flower_version", "flower_api",
                  "server_address"]


def _error(status: int, message: str, errors: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": message, **({"errors": errors} if errors else {})}, status=status)


def _client(request, federation) -> dict | None:
    if not federation.client_served:
        return None
    return {"sha256": federation.client_file.sha256, "size": federation.client_file.size,
            "url": request.build_absolute_uri(reverse("federations:download", args=[federation.slug]))}


def _summary(request, federation) -> dict:
    return {
        "id": federation.pk,
        **{field: getattr(federation, field) for field in SUMMARY_FIELDS},
        "tags": federation.tag_list,
        "created_at": federation.created_at.isoformat(),
        "under_review": federation.under_review_since is not None,
        "page": request.build_absolute_uri(federation.get_absolute_url()),
        "client": _client(request, federation),
        "state": selectors.snapshot(federation.live, download_count=federation.download_count),
    }


@require_GET
def federation_list(request):
    """The catalog: ``q``, ``category``, ``application``, ``online``, ``wanted``, ``sort`` as on its page;
    ``after`` / ``before`` from ``next`` / ``previous``. A value it cannot read (a bad page link, sort or
    category) is a 400 that says so, rather than another page than the one asked for."""
    form = CatalogFilterForm(request.GET, applications=selectors.applications())
    if not form.is_valid():
        return _error(400, "Invalid parameters.", {name: [str(e) for e in errors] for name, errors in form.errors.items()})
    filters = form.filters()
    page, count = selectors.catalog_results(**filters, **form.position())

    def link(parameter, position):
        if position is None:
            return None
        query = request.GET.copy()
        for name in ("after", "before"):
            query.pop(name, None)
        query[parameter] = str(position)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return JsonResponse({
        "count": count.value, "count_is_lower_bound": count.more,
        "next": link("after", page.next), "previous": link("before", page.previous),
        "results": [_summary(request, federation) for federation in page.federations],
    })


@require_GET
def federation_detail(request, key):
    """A federation's card, client, live state and trust signals (suspended ones too: ``suspended``)."""
    try:
        federation = selectors.federation_by_key(key)
    except Http404:
        return _error(404, "No such federation.")
    signals = trust.federation_trust(federation)
    last = signals["last_action"]
    return JsonResponse({
        **_summary(request, federation),
        **{field: getattr(federation, field) for field in federation.CARD_FIELDS if field not in SUMMARY_FIELDS},
        "suspended": federation.suspended_at is not None,
        "join": {"filename": join.client_filename(federation), "install": join.install_command(federation),
                 "verify": join.verify_command(federation), "run": join.run_command(federation)},
        "trust": {
            "uptime": {f"{days}d": share for days, share in (selectors.uptimes(federation) or {}).items()} or None,
            "open_reports": signals["open_reports"],
            "last_moderation": None if last is None else {
                "action": last.action, "at": last.created_at.isoformat(), "reason": last.reason},
        },
    })


@require_GET
def scrape(request):
    """The live states of up to MAX_SCRAPE_IDS listed federations, ``ids`` comma-separated; unknown or
    unlisted ids are absent from the answer."""
    raw = request.GET.get("ids", "")
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        return _error(400, "Give ids: federation ids, comma-separated.")
    if len(parts) > MAX_SCRAPE_IDS:
        return _error(400, f"At most {MAX_SCRAPE_IDS} ids in one request.")
    if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts):
        return _error(400, "ids must be federation ids (whole numbers), comma-separated.")
    states = selectors.federation_snapshots({int(part) for part in parts})
    return JsonResponse({"federations": {str(state["id"]): state for state in states}})



@require_GET
def schema(request):
    """The OpenAPI description of this API."""
    from .openapi import SCHEMA  # it names this module's limits

    return JsonResponse(SCHEMA)
