"""Hand-written SQL for the reads every API request makes (the token lookup, the API's readers
in ``api/v1/readers.py``), and the one function that runs them (``fetch``).

Compiling the ORM's query for these cost more than running it (``docs/benchmarks.md``), so
they write the SQL themselves, with names from the models' ``_meta``. These helpers keep the
two databases alike: parameters adapted as the ORM adapts them (so comparisons mean the same),
timestamps returned aware and in UTC on both, as the ORM returns them.

``fetch`` reads from API v1's read database (``core/db.py``: the replica when one is configured);
a read that must see the latest writes, such as the token lookup, passes ``using=db.PRIMARY``.

``stream`` runs a ``values_list`` queryset whose every row is wanted (an export) the fastest way
each database allows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, QuerySet
from django.db.models.query import ValuesListIterable

from registra.core import db


def quoted(model: type[Model], *names: str) -> list[str]:
    """The quoted columns of these fields (by name or attname)."""
    columns = []
    for name in names:
        field = model._meta.get_field(name)
        if not isinstance(field, Field) or not field.column:
            raise ValueError(f"{model.__name__}.{name} is not a column")
        columns.append(connection.ops.quote_name(field.column))
    return columns


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def param(value: Any, on: BaseDatabaseWrapper = connection) -> Any:
    """A query parameter as the ORM would send it (to the database ``on``) for a field of its
    type."""
    if isinstance(value, datetime):
        return on.ops.adapt_datetimefield_value(value)
    return value


def fetch(
    sql: str,
    params: Sequence[Any],
    *,
    datetimes: Sequence[int] = (),
    using: str | None = None,
) -> list[tuple]:
    """Rows of a query on the database ``using`` (default: API v1's read database), the columns
    at ``datetimes`` as aware UTC datetimes."""
    on = connections[using or db.api_reads()]
    with on.cursor() as cursor:
        cursor.execute(sql, [param(p, on) for p in params])
        rows = cursor.fetchall()
    if on.vendor != "sqlite" or not datetimes:
        return rows
    # SQLite stores naive UTC text, which Django's converter parses to naive datetimes.
    fixed = []
    for row in rows:
        values = list(row)
        for i in datetimes:
            v = values[i]
            if v is not None and v.tzinfo is None:
                values[i] = v.replace(tzinfo=UTC)
        fixed.append(tuple(values))
    return fixed


# libpq 17 sends a streamed result in chunks of rows; older ones one row at a time.
_CHUNKED_STREAMS = psycopg.pq.version() >= 170000


def stream(rows: QuerySet[Any, Any], *, chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every row of ``rows`` (a ``values_list`` queryset), as its ``iterator()`` gives them, with
    memory flat whatever the count.

    On PostgreSQL the query runs as one statement whose result psycopg streams (``stream``,
    ``chunk_size`` rows at a time): the server computes rows while this process uses the ones it
    has, and plans for the whole result. The ORM's ``iterator()`` there asks a server-side
    cursor for each chunk in turn, the server idle while the rows are used and the cursor planned
    for its first rows (``docs/benchmarks.md``, the export). While a stream is being read, its
    connection runs nothing else. Other databases: ``iterator()``."""
    if rows._iterable_class is not ValuesListIterable:
        raise TypeError("stream() reads a values_list() queryset of tuples")
    on = connections[rows.db]
    if on.vendor != "postgresql":
        yield from rows.iterator(chunk_size=chunk_size)
        return
    compiler = rows.query.get_compiler(using=rows.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return
    width = compiler.col_count if compiler.has_extra_select else None
    with on.wrap_database_errors:
        on.ensure_connection()
        if on.queries_logged:  # as the ORM's own statements are, for the tests' query counts
            on.queries_log.append({"sql": sql, "time": "0.000"})
        with on.connection.cursor() as cursor:
            streamed = cursor.stream(sql, params, size=chunk_size if _CHUNKED_STREAMS else 1)
            chunks = iter(lambda: list(itertools.islice(streamed, chunk_size)), [])
            if width is not None:
                chunks = ([row[:width] for row in chunk] for chunk in chunks)
            # The ORM's own conversion of the rows (the fields' from_db_value).
            yield from compiler.results_iter(results=chunks, tuple_expected=True)


def analyze(*models: type[Model]) -> None:
    """Refresh PostgreSQL's statistics of these models' tables (``ANALYZE``), as after any bulk
    load: until autovacuum gets to it, a table that has just grown a hundredfold is planned as
    if it were still empty (the next import's lookups took twice as long, docs/benchmarks.md).
    Runs in the caller's transaction; other databases: nothing."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


# What the import's transaction tells PostgreSQL a random page read costs, against its default
# of 4 (a spinning disk's): its working set (the register's indexes it probes 2,000 keys at a
# time) is in memory, where PostgreSQL's documentation has the two page costs near equal.
CACHED_RANDOM_PAGE_COST = 1.1


def plan_for_cached_reads() -> None:
    """For the rest of the caller's transaction, plan PostgreSQL's reads as reads of cached pages
    (``SET LOCAL random_page_cost``): a lookup of 2,000 ids probes its index rather than
    scanning the whole table (decision 0022). Other databases: nothing."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL random_page_cost = {CACHED_RANDOM_PAGE_COST}")
