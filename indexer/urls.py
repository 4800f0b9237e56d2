from django.urls import path

from . import views

app_name = "indexer"

urlpatterns = [
    path("be-a-server/", views.be_a_server, name="apply"),
    path("be-a-server/<str:access_key>/", views.candidacy_status, name="status"),
]
