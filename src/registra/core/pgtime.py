"""PostgreSQL timestamps parsed by psycopg's C loader instead of Django's Python one.

Django 5.2 registers its own ``timestamptz`` loader on every psycopg 3 connection: a subclass of
psycopg's pure-Python loader that re-stamps each value with the connection's time zone (the C
loader cannot be subclassed). So every timestamp read is parsed in Python, which was the
largest single cost in the profile of an API page (200 assets, 800 timestamps). With the
connection's zone UTC (``USE_TZ`` and ``TIME_ZONE = "UTC"``), this loader returns the same
values, aware and in ``datetime.UTC``, from the C parser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import _cmodule
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader

_C_LOADER: Any = getattr(_cmodule._psycopg, "TimestamptzLoader", None)


class UtcTimestamptzLoader(Loader):
    """Delegates to psycopg's C ``timestamptz`` loader; values come back in UTC."""

    # Django's create_cursor compares this with the connection's zone.
    timezone = UTC

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self._load = _C_LOADER(oid, context).load

    def load(self, data: Buffer) -> datetime:
        value: datetime = self._load(data)
        # Django sets the session zone to UTC; convert anyway rather than relabel.
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def use_c_timestamp_loader(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: install the loader on UTC PostgreSQL connections."""
    if connection.vendor != "postgresql" or _C_LOADER is None or connection.timezone is not UTC:
        return
    connection.connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
