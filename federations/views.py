from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from indexer import selectors as admission

from . import join, selectors, services
from .forms import CatalogFilterForm

CURSOR_PARAMETERS = ("after", "before", "page")


@require_GET
def catalog(request):
    """The public catalog: search, filter, sort and page through federations (next and previous pages,
    from where the current one ends or starts; a link the catalog did not write gives the first page)."""
    form = CatalogFilterForm(request.GET, applications=selectors.applications())
    filters = form.filters()
    page = selectors.catalog_page(**filters, **form.position())
    count_filters = {name: value for name, value in filters.items() if name != "sort"}
    query_without_position = request.GET.copy()
    for name in CURSOR_PARAMETERS:
        query_without_position.pop(name, None)
    return render(
        request,
        "federations/catalog.html",
        {"form": form, "page": page, "count": selectors.catalog_count(**count_filters), "filtered": form.is_filtered,
         "query_string": query_without_position.urlencode()},
    )


@require_GET
def federation_detail(request, key):
    """A federation's card, its training state, how to join it and who checked the script it serves."""
    federation = selectors.federation_by_key(key)
    return render(
        request,
        "federations/detail.html",
        {
            "federation": federation,
            "client_filename": join.client_filename(federation),
            "install_command": join.install_command(federation),
            "verify_command": join.verify_command(federation),
            "run_command": join.run_command(federation),
            "history": selectors.round_history(federation.live),
            "provenance": admission.federation_provenance(federation),
        },
    )


@require_GET
def download_client(request, key):
    """The federation's client script as an attachment; each download is counted."""
    federation = selectors.federation_by_key(key)
    content = selectors.client_file_content(federation)
    services.federation_count_download(federation_id=federation.pk)
    response = HttpResponse(content, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{join.client_filename(federation)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
