from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

admin.site.site_header = "F2F operators"
admin.site.site_title = "F2F operators"


def favicon(request):
    """Pages name their icon (base.html); this answers clients that ask for /favicon.ico all the same."""
    return HttpResponsePermanentRedirect(static("f2f/favicon.svg"))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("", include("indexer.urls")),
    path("", include("reports.urls")),
    path("", include("federations.urls")),
]
