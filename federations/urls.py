from django.urls import path

from . import views

app_name = "federations"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("federations/<slug:key>/", views.federation_detail, name="detail"),
    path("federations/<slug:key>/client.py", views.download_client, name="download"),
]
