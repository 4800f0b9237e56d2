from django.apps import AppConfig


class IndexerConfig(AppConfig):
    """Admission of new federation servers (Be a Server): candidacies, validation, moderation."""

    name = "indexer"
    verbose_name = "Admission"
