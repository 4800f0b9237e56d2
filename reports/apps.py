from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Fault reports filed against federations, and the sanctions operators take."""

    name = "reports"
    verbose_name = "Fault reports"
