"""Full-text search over the catalog, with the same results on PostgreSQL and SQLite.

Both backends see the text through one tokenizer: case-folded runs of letters and digits.
Each federation stores its searchable text as those tokens joined by spaces
(``search_document``). A query matches when every one of its tokens is a prefix of some
token of the document. PostgreSQL answers that with a ``term:* & ...`` tsquery over a stored
``to_tsvector('simple', search_document)`` column and its GIN index (a column a trigger writes
only when the document is written: a filter on an expression index recomputed the vector of
every row it looked at, and a generated column is recomputed on every update, the ingest's
too); SQLite with an FTS5 index of the
same documents (``"term"* AND ...``), whose ``unicode61`` tokenizer splits them where we did
(letters and digits are its token characters too) and, told not to, leaves diacritics alone.
The ``simple`` configuration neither stems nor drops stop words, so both agree.
"""

import re

from django.contrib.postgres.search import SearchVector
from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

_TOKEN = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 8
CONFIG = "simple"
SQLITE_INDEX = "federations_federation_search"
POSTGRESQL_COLUMN = "search_vector"
_POSTGRESQL_SQL = [
    f"ALTER TABLE federations_federation ADD COLUMN {POSTGRESQL_COLUMN} tsvector",
    f"""CREATE FUNCTION federations_federation_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.{POSTGRESQL_COLUMN} := to_tsvector('{CONFIG}', COALESCE(NEW.search_document, '')); RETURN NEW; END $$""",
    # Only when the document is written: the ingest's updates of live fields leave the vector alone.
    """CREATE TRIGGER federations_federation_search_vector BEFORE INSERT OR UPDATE OF search_document
        ON federations_federation FOR EACH ROW EXECUTE FUNCTION federations_federation_search_vector()""",
    f"UPDATE federations_federation SET {POSTGRESQL_COLUMN} = to_tsvector('{CONFIG}', COALESCE(search_document, ''))",
    f"CREATE INDEX federation_search_vector ON federations_federation USING gin ({POSTGRESQL_COLUMN})",
]
_SQLITE_INDEX_SQL = [
    # External content: the index keeps only the tokens and reads documents from the federations.
    f"""CREATE VIRTUAL TABLE {SQLITE_INDEX} USING fts5(search_document, content='federations_federation',
        content_rowid='id', tokenize='unicode61 remove_diacritics 0')""",
    f"""CREATE TRIGGER {SQLITE_INDEX}_insert AFTER INSERT ON federations_federation BEGIN
        INSERT INTO {SQLITE_INDEX}(rowid, search_document) VALUES (new.id, new.search_document); END""",
    f"""CREATE TRIGGER {SQLITE_INDEX}_delete AFTER DELETE ON federations_federation BEGIN
        INSERT INTO {SQLITE_INDEX}({SQLITE_INDEX}, rowid, search_document)
        VALUES ('delete', old.id, old.search_document); END""",
    # Only when the document is written: the ingest's updates of live fields leave the index alone.
    f"""CREATE TRIGGER {SQLITE_INDEX}_update AFTER UPDATE OF search_document ON federations_federation BEGIN
        INSERT INTO {SQLITE_INDEX}({SQLITE_INDEX}, rowid, search_document)
        VALUES ('delete', old.id, old.search_document);
        INSERT INTO {SQLITE_INDEX}(rowid, search_document) VALUES (new.id, new.search_document); END""",
    f"INSERT INTO {SQLITE_INDEX}({SQLITE_INDEX}) VALUES ('rebuild')",
]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def search_document(*parts: str) -> str:
    """The stored searchable text: tokens joined by single spaces, padded at both ends."""
    words = tokens(" ".join(part for part in parts if part))
    return f" {' '.join(words)} " if words else ""


def search_vector() -> SearchVector:
    """The expression migration 0002 indexed (0007 replaced that index with a stored column)."""
    return SearchVector("search_document", config=CONFIG)


def matching(queryset: QuerySet, query: str) -> QuerySet:
    terms = tokens(query)[:MAX_QUERY_TERMS]
    if not terms:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        tsquery = " & ".join(f"{term}:*" for term in terms)
        table = queryset.model._meta.db_table
        return queryset.filter(RawSQL(f'"{table}"."{POSTGRESQL_COLUMN}" @@ to_tsquery(%s::regconfig, %s)',
                                      (CONFIG, tsquery), output_field=BooleanField()))
    match = " AND ".join(f'"{term}"*' for term in terms)  # tokens hold no quote
    return queryset.filter(pk__in=RawSQL(f"SELECT rowid FROM {SQLITE_INDEX} WHERE {SQLITE_INDEX} MATCH %s", (match,)))


def install_sqlite_index(schema_editor) -> None:
    """Create SQLite's full-text index of the federations' documents and its triggers, and fill it."""
    remove_sqlite_index(schema_editor)
    for statement in _SQLITE_INDEX_SQL:
        schema_editor.execute(statement)


def remove_sqlite_index(schema_editor) -> None:
    for trigger in ("insert", "delete", "update"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {SQLITE_INDEX}_{trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {SQLITE_INDEX}")



def install_postgresql_column(schema_editor) -> None:
    """Add PostgreSQL's stored search vector, the trigger that writes it and its GIN index; fill it."""
    for statement in _POSTGRESQL_SQL:
        schema_editor.execute(statement)


def remove_postgresql_column(schema_editor) -> None:
    schema_editor.execute("DROP TRIGGER IF EXISTS federations_federation_search_vector ON federations_federation")
    schema_editor.execute("DROP FUNCTION IF EXISTS federations_federation_search_vector()")
    schema_editor.execute(f"ALTER TABLE federations_federation DROP COLUMN IF EXISTS {POSTGRESQL_COLUMN}")
