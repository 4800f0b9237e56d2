from django.urls import path

from . import api, views

app_name = "federations"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("federations/<slug:key>/", views.federation_detail, name="detail"),
    path("federations/<slug:key>/client.py", views.download_client, name="download"),
    path("api/federations/", api.federation_list, name="api-list"),
    path("api/federations/<slug:key>/", api.federation_detail, name="api-detail"),
    path("api/scrape/", api.scrape, name="api-scrape"),
    path("api/openapi.json", api.schema, name="api-schema"),
]
