"""Search indexes that cost nothing when a federation's live fields change (see federations.search).

PostgreSQL: a stored tsvector column, written by a trigger only when search_document is, with a
GIN index; it replaces 0002's expression index, through which a search sorted by an index
recomputed the vector of each row it passed (``q=fraud``, newest first: 24 ms). Filling it at
100,000 federations rewrites every row under the table's lock (seconds; see docs/benchmarks.md).

SQLite: a full-text index (FTS5) of the search documents, kept current by triggers. Without it
SQLite read every federation's document for each search. And (category or application, newest):
SQLite otherwise sorted all of a category's federations for each page (tabular + online: 94 ms).
Only on card fields: an index on a live field would be written by each of the ingest's updates.

The triggers live on federations_federation: a later migration that makes SQLite rebuild that
table (Django does for some AlterField / RemoveField) drops them with the old table, and must
call ``federations.search.install_sqlite_index`` again (the search tests fail otherwise).
"""

from django.db import migrations

from django.contrib.postgres.indexes import GinIndex

from federations import search

EXPRESSION_INDEX = "federation_search"  # 0002's
SQLITE_PAGE_INDEXES = {
    "federation_category_newest": "category, created_at DESC, id DESC",
    "federation_application_newest": "application, created_at DESC, id DESC",
}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        search.install_sqlite_index(schema_editor)
        for name, columns in SQLITE_PAGE_INDEXES.items():
            schema_editor.execute(f"CREATE INDEX {name} ON federations_federation ({columns})")
    elif schema_editor.connection.vendor == "postgresql":
        search.install_postgresql_column(schema_editor)
        schema_editor.execute(f"DROP INDEX IF EXISTS {EXPRESSION_INDEX}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        search.remove_sqlite_index(schema_editor)
        for name in SQLITE_PAGE_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    elif schema_editor.connection.vendor == "postgresql":
        search.remove_postgresql_column(schema_editor)
        Federation = apps.get_model("federations", "Federation")
        schema_editor.add_index(Federation, GinIndex(search.search_vector(), name=EXPRESSION_INDEX))


class Migration(migrations.Migration):
    dependencies = [("federations", "0006_live_state")]
    operations = [migrations.RunPython(forward, backward)]
