"""Set-based statements for the ingest's batches: a batch's rows in one statement, its reads in one round trip.

A batch carries up to a thousand events. Its rows go to the database as one JSON document per
statement, made by the C encoder and read by the database itself (PostgreSQL's
``json_to_recordset``, SQLite's ``json_each``): the statement's text stays the same whatever the
batch's size, and nothing is dumped or quoted value by value in Python. (Django's ``bulk_update``
builds a CASE per field and row, 2 ms a row in Python; a VALUES list makes psycopg quote
thousands of placeholders; one array per column made psycopg dump and quote each element in
Python: the writer's CPU per event, batches of 50, 179 -> 140 microseconds.) The database checks
each value against its column's type as it reads it: a text too long for its column is an error,
not cut short.

On PostgreSQL, statements that do not wait for each other's rows go in one round trip (a psycopg
pipeline, ``together``): a batch's writer spent half its time waiting for ten round trips. And they
are prepared once per connection (``_PreparedCursor``), which a pooler between the portal and
PostgreSQL must allow: PgBouncer in transaction mode does from 1.21 (``max_prepared_statements``).
"""

import contextlib
import functools
import json
from datetime import datetime

import psycopg
from psycopg.pq import ExecStatus
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import DateTimeField, JSONField
from django.db.models.base import ModelState


_TUPLES_OK = ExecStatus.TUPLES_OK
_ONLY_WHEN_ASKED = 2**31 - 1  # a prepare threshold no statement reaches by being run again and again


class _PreparedCursor(psycopg.Cursor):
    """PostgreSQL: parameters bound by the server, and each statement prepared once per connection.

    A batch's statements have the same text whatever its rows (they come as one parameter), so the
    server parses and plans each once, not for every batch (0.1-0.2 ms each, measured). Django's
    cursors bind on the client and never prepare.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def _cursor(db):
    """A cursor of ``db`` (a connection) for a batch's statements: on PostgreSQL one that prepares them,
    wrapped as Django wraps its own (errors); while queries are logged (debugging, tests that count
    statements), Django's own, whose log shows each statement with its parameters (Django cannot show
    a server-bound one)."""
    if db.vendor != "postgresql" or db.queries_logged:
        return db.cursor()
    db.ensure_connection()
    with db.wrap_database_errors:
        if db.connection.prepare_threshold is None:  # Django's "never"; psycopg would ignore prepare=True
            db.connection.prepare_threshold = _ONLY_WHEN_ASKED
        return db.make_cursor(_PreparedCursor(db.connection))


def columns(model, names: list[str]) -> list:
    return [model._meta.get_field(name) for name in names]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _carrier(column, vendor: str):
    """How a value of ``column`` travels in the JSON document to this database (None: as it is)."""
    if isinstance(column, DateTimeField):  # SQLite keeps text in its own format, which its comparisons rely on
        return connection.ops.adapt_datetimefield_value if vendor == "sqlite" else datetime.isoformat
    if isinstance(column, JSONField) and vendor == "sqlite":
        return json.dumps  # the text SQLite keeps; json_each hands it over as it is
    return None


def _reject(value):
    raise TypeError(f"{type(value).__name__} is not a value a batch writes")


def source(cols: list, values: list[tuple]) -> tuple[str, list]:
    """A table ``v`` of ``values`` (tuples in the order of ``cols``) for one statement, and its one parameter."""
    sql, names, carriers = _source(tuple(cols), connection.vendor)
    rows = [dict(zip(names, row)) for row in values]
    for name, carry in carriers:  # only the columns that need it, for they are few (a loop over each value cost 10 %)
        for row in rows:
            if (value := row[name]) is not None:
                row[name] = carry(value)
    data = json.dumps(rows, default=_reject, allow_nan=False, separators=(",", ":"))
    return sql, [data]


@functools.cache
def _source(cols: tuple, vendor: str) -> tuple[str, list, list]:
    """``source``'s text, its columns' names and the (name, carrier) of each column whose values do not travel
    as they are: the same for every batch, so made once (building it cost more than encoding a batch of 50)."""
    quote = connection.ops.quote_name
    names = [column.column for column in cols]
    carriers = [(column.column, carry) for column in cols if (carry := _carrier(column, vendor)) is not None]
    if vendor == "postgresql":
        definition = ", ".join(f"{quote(column.column)} {column.db_type(connection)}" for column in cols)
        return f"json_to_recordset(%s::json) AS v({definition})", names, carriers
    extracted = ", ".join(f"json_extract(value, '$.\"{name}\"') AS {quote(name)}" for name in names)
    return f"(SELECT {extracted} FROM json_each(%s)) AS v", names, carriers


def _row_values(cols: list, rows: list) -> list[tuple]:
    return [tuple(getattr(row, column.attname) for column in cols) for row in rows]


def select(model, names: list[str], *, where: list[str], keys: list[tuple], also: str = "",
           lock: bool = False) -> tuple[str, list]:
    """Read ``names`` of ``model``'s rows whose ``where`` columns hold one of ``keys`` (and that meet the
    SQL condition ``also``); ``lock`` takes their row locks (PostgreSQL) in primary-key order."""
    key_columns = tuple(columns(model, where))
    before, after = _select(model, tuple(names), key_columns, also, lock, connection.vendor)
    condition, params = _matching(model, key_columns, keys)
    return before + condition + after, params


@functools.cache
def _select(model, names: tuple, key_columns: tuple, also: str, lock: bool, vendor: str) -> tuple[str, str]:
    """``select``'s text before and after its condition on the keys (made once: see ``_source``)."""
    before = (f"SELECT {', '.join(_quote(column.column) for column in columns(model, names))} "
              f"FROM {_quote(model._meta.db_table)} WHERE ")
    after = f" AND {also}" if also else ""
    if lock:
        after += f" ORDER BY {_quote(model._meta.pk.column)}"
        if connection.features.has_select_for_update:
            after += " FOR UPDATE"
    return before, after


def _matching(model, key_columns: tuple, keys: list[tuple]) -> tuple[str, list]:
    """The condition that a row of ``model`` holds one of ``keys`` in ``key_columns``, and its parameters.

    On PostgreSQL the keys come as one array per column: the planner expects ten rows from
    ``unnest`` of an array parameter and looks each up in an index, where it expects a hundred from
    ``json_to_recordset`` and joins by hashing a whole table of a few thousand rows instead (0.4 to
    0.8 ms a statement, measured; the writer's PostgreSQL time per event went from 188 to 120 us).
    """
    condition = _condition(model, key_columns, connection.vendor)
    if connection.vendor == "postgresql":
        return condition, [list(values) for values in zip(*keys)] or [[] for _ in key_columns]
    rows_table, params = source(key_columns, keys)
    return condition % rows_table, params


@functools.cache
def _condition(model, key_columns: tuple, vendor: str) -> str:
    """``_matching``'s text (made once: see ``_source``); on SQLite with ``%s`` where its keys' table goes."""
    table = _quote(model._meta.db_table)
    listed = ", ".join(f"{table}.{_quote(column.column)}" for column in key_columns)
    if vendor == "postgresql":
        arrays = ", ".join(f"%s::{column.db_type(connection)}[]" for column in key_columns)
        return f"({listed}) IN (SELECT * FROM unnest({arrays}))"
    return f"({listed}) IN (SELECT * FROM %s)"


def instances(model, names: list[str], rows: list[tuple]) -> list:
    """Model instances of rows read by ``select`` (the fields not read are deferred).

    Made as ``Model.from_db`` makes them, less its ``pre_init``/``post_init`` signals and its field by
    field assignment, which cost ten times the rest (13 microseconds an instance, 50 a batch).
    """
    alias = DEFAULT_DB_ALIAS
    db = connections[alias]  # not the proxy: its every attribute is a thread-local lookup
    read = _reading(model, tuple(names))
    converters = [(at, field, functions) for at, field in enumerate(read)
                  if (functions := [*db.ops.get_db_converters(field.cached_col), *field.get_db_converters(db)])]
    attnames = [field.attname for field in read]
    made = []
    for row in rows:
        if converters:
            row = list(row)
            for at, field, functions in converters:
                for function in functions:
                    row[at] = function(row[at], field.cached_col, db)
        instance = model.__new__(model)
        instance._state = ModelState()
        instance._state.adding, instance._state.db = False, alias
        instance.__dict__.update(zip(attnames, row))
        made.append(instance)
    return made


@functools.cache
def _reading(model, names: tuple) -> list:
    """The fields ``instances`` reads (the converters are this thread's connection's: looked up per call)."""
    return columns(model, names)


def update(model, rows: list, names: list[str]) -> tuple[str, list] | None:
    """The statement that saves ``names`` of each of ``rows`` (None when there are none)."""
    if not rows:
        return None
    cols = (model._meta.pk, *columns(model, names))
    values = _row_values(cols, rows)
    rows_table, params = source(cols, values)
    before, after = _update(model, cols, connection.vendor)
    if connection.vendor == "postgresql":  # the rows to update looked up in their keys' index (see _matching)
        params.append([row[0] for row in values])
    return before + rows_table + after, params


@functools.cache
def _update(model, cols: tuple, vendor: str) -> tuple[str, str]:
    """``update``'s text before and after its rows' table (made once: see ``_source``)."""
    table, key = _quote(model._meta.db_table), _quote(model._meta.pk.column)
    assignments = ", ".join(f"{_quote(column.column)} = v.{_quote(column.column)}" for column in cols[1:])
    after = f" WHERE {table}.{key} = v.{key}"
    if vendor == "postgresql":
        after += f" AND {table}.{key} = ANY(%s::{model._meta.pk.db_type(connection)}[])"
    return f"UPDATE {table} SET {assignments} FROM ", after


def insert(model, rows: list, names: list[str]) -> tuple[str, list] | None:
    """The statement that inserts ``names`` of each of ``rows`` (None when there are none)."""
    if not rows:
        return None
    cols = tuple(columns(model, names))
    rows_table, params = source(cols, _row_values(cols, rows))
    before, after = _insert(model, cols, connection.vendor)
    return before + rows_table + after, params


def insert_new(model, rows: list, names: list[str], *, key: list[str]) -> list:
    """Insert, in one statement, the ``rows`` whose ``key`` (a unique constraint) no stored row has yet;
    returns those inserted, their primary keys set. A key twice in ``rows`` is inserted the first time."""
    if not rows:
        return []
    cols, key_columns = tuple(columns(model, names)), tuple(columns(model, key))
    rows_table, params = source(cols, _row_values(cols, rows))
    before, after = _insert(model, cols, connection.vendor)
    returning = (f" ON CONFLICT DO NOTHING RETURNING {_quote(model._meta.pk.column)}, "
                 f"{', '.join(_quote(column.column) for column in key_columns)}")
    [returned] = together((before + rows_table + after + returning, params))
    inserted = {tuple(values): pk for pk, *values in returned}
    kept = []
    for row in rows:
        pk = inserted.pop(tuple(getattr(row, column.attname) for column in key_columns), None)
        if pk is not None:
            row.pk = pk
            kept.append(row)
    return kept


@functools.cache
def _insert(model, cols: tuple, vendor: str) -> tuple[str, str]:
    """The text of an insert before and after its rows' table (made once: see ``_source``)."""
    listed = ", ".join(_quote(column.column) for column in cols)
    # "WHERE true": SQLite would read an ON CONFLICT that follows as part of a join's ON without it.
    return f"INSERT INTO {_quote(model._meta.db_table)} ({listed}) SELECT {listed} FROM ", " WHERE true"


def _rows(cursor) -> list[tuple]:
    """The rows a statement returned, [] for one that returns none."""
    raw = cursor.cursor  # the driver's own: through Django's wrapper, each attribute cost a wrapped lookup
    if isinstance(raw, psycopg.Cursor):  # its description would be made column by column only to be tested
        return raw.fetchall() if raw.pgresult is not None and raw.pgresult.status == _TUPLES_OK else []
    return raw.fetchall() if raw.description else []


def together(*statements: tuple[str, list] | None) -> list[list[tuple]]:
    """Run ``statements`` in order (None is skipped), on PostgreSQL in one round trip; the rows each returned."""
    runs = [statement for statement in statements if statement is not None]
    if not runs:
        return [[] for _ in statements]
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy: its every attribute is a thread-local lookup
    cursors = [_cursor(db) for _ in runs]
    try:
        # A pipeline reports a statement's error when it syncs, outside Django's cursor wrapper: wrapped here,
        # it is Django's error, and a broken connection is marked so that it is closed.
        with db.wrap_database_errors:
            # (One statement needs no pipeline to take one round trip; entering and leaving one cost ~0.2 ms.)
            with db.connection.pipeline() if db.vendor == "postgresql" and len(runs) > 1 else contextlib.nullcontext():
                for cursor, (sql, params) in zip(cursors, runs):
                    cursor.execute(sql, params)
            results = iter([_rows(cursor) for cursor in cursors])
    finally:
        for cursor in cursors:
            cursor.close()
    return [next(results) if statement is not None else [] for statement in statements]
