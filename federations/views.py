from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from indexer import selectors as admission

from . import join, selectors, services
from .forms import CatalogFilterForm

PAGE_SIZE = 25


@require_GET
def catalog(request):
    """The public catalog: search, filter, sort and page through federations."""
    form = CatalogFilterForm(request.GET, applications=selectors.applications())
    filters = form.filters()
    page = Paginator(selectors.catalog(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query_without_page = request.GET.copy()
    query_without_page.pop("page", None)
    return render(
        request,
        "federations/catalog.html",
        {"form": form, "page": page, "filtered": form.is_filtered, "query_string": query_without_page.urlencode()},
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
