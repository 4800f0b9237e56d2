from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "F2F operators"
admin.site.site_title = "F2F operators"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("indexer.urls")),
    path("", include("reports.urls")),
    path("", include("federations.urls")),
]
