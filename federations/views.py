from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from indexer import selectors as admission
from reports import selectors as trust

from . import join, selectors, services
from .forms import CatalogFilterForm

CURSOR_PARAMETERS = ("after", "before", "page")


@require_GET
def catalog(request):
    """The public catalog: search, filter, sort and page through federations (next and previous pages,
    from where the current one ends or starts; a link the catalog did not write gives the first page)."""
    made = timezone.now()  # before the query: a federation listed after this, the page is told of (live.js)
    form = CatalogFilterForm(request.GET, applications=selectors.applications())
    filters = form.filters()
    page, count = selectors.catalog_results(**filters, **form.position())
    open_reports = trust.open_report_counts(federation.pk for federation in page.federations)
    for federation in page.federations:
        federation.open_reports = open_reports.get(federation.pk, 0)
    query_without_position = request.GET.copy()
    for name in CURSOR_PARAMETERS:
        query_without_position.pop(name, None)
    return render(
        request,
        "federations/catalog.html",
        {"form": form, "page": page, "count": count, "filtered": form.is_filtered,
         "query_string": query_without_position.urlencode(), "made_ms": int(made.timestamp() * 1000)},
    )


@require_GET
def federation_detail(request, key):
    """A federation's card, its training state, how to join it and who checked the script it serves."""
    federation = selectors.federation_by_key(key)
    history = selectors.round_history(federation.live)
    return render(
        request,
        "federations/detail.html",
        {
            "federation": federation,
            "client_filename": join.client_filename(federation),
            "install_command": join.install_command(federation),
            "verify_command": join.verify_command(federation),
            "run_command": join.run_command(federation),
            "history": history,
            "earlier_runs": selectors.earlier_runs(federation.live),
            "uptimes": selectors.uptimes(federation),
            "clients_seen": max((point["num_clients"] for point in history), default=0),
            "provenance": admission.federation_provenance(federation),
            "trust": trust.federation_trust(federation),
        },
    )


@require_GET
def download_client(request, key):
    """The federation's client script as an attachment; each download is counted. Not served while the
    federation is suspended (410, with its page's explanation)."""
    federation = selectors.federation_by_key(key)
    if not federation.client_served:
        return render(request, "federations/suspended.html", {"federation": federation}, status=410)
    content = selectors.client_file_content(federation)
    services.federation_count_download(federation_id=federation.pk)
    response = HttpResponse(content, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{join.client_filename(federation)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
