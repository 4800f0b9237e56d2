from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("report/", views.report_new, name="new"),
    path("report/sent/", views.report_sent, name="sent"),
]
