"""SQLite: a full-text index (FTS5) of the search documents, kept current by triggers.

Without it SQLite read every federation's document for each search (a rare word at 100,000
federations: ~100 ms). PostgreSQL already answers from its GIN expression index (0002), which,
unlike a stored generated column, computes nothing when a federation's live fields change.

The triggers live on federations_federation: a later migration that makes SQLite rebuild that
table (Django does for some AlterField / RemoveField) drops them with the old table, and must
call ``federations.search.install_sqlite_index`` again (the search tests fail otherwise).
"""

from django.db import migrations

from federations.search import install_sqlite_index, remove_sqlite_index


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        install_sqlite_index(schema_editor)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        remove_sqlite_index(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("federations", "0005_federation_live_version")]
    operations = [migrations.RunPython(forward, backward)]
