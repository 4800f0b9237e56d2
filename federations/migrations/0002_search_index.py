"""The full-text GIN index, on PostgreSQL only (SQLite searches with LIKE, see federations.search)."""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

from federations.search import search_vector

INDEX_NAME = "federation_search"


def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        Federation = apps.get_model("federations", "Federation")
        schema_editor.add_index(Federation, GinIndex(search_vector(), name=INDEX_NAME))


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        Federation = apps.get_model("federations", "Federation")
        schema_editor.remove_index(Federation, GinIndex(search_vector(), name=INDEX_NAME))


class Migration(migrations.Migration):
    dependencies = [("federations", "0001_initial")]
    operations = [migrations.RunPython(add_index, remove_index)]
