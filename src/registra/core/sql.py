"""Hand-written SQL for the reads every API request makes (the token lookup, the API's readers
in ``api/v1/readers.py``), and the one function that runs them (``fetch``).

Compiling the ORM's query for these cost more than running it (``docs/benchmarks.md``), so
they write the SQL themselves, with names from the models' ``_meta``. These helpers keep the
two databases alike: parameters adapted as the ORM adapts them (so comparisons mean the same),
timestamps returned aware and in UTC on both, as the ORM returns them.

``fetch`` reads from API v1's read database (``core/db.py``: the replica when one is configured);
a read that must see the latest writes, such as the token lookup, passes ``using=db.PRIMARY``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

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
