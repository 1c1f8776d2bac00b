"""The per-process plumbing that keeps the API path cheap: psycopg's C timestamp loader on
PostgreSQL connections, and one Redis connection pool per process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from registra.core.cache import SharedConnectionPool
from registra.core.pgtime import UtcTimestamptzLoader

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the timestamp loader is for PostgreSQL connections"
)


@on_postgresql
@pytest.mark.django_db
def test_postgresql_timestamps_come_back_exact_and_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    sent = [
        datetime(2026, 11, 29, 10, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 30, 15, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=berlin),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz, %s::timestamptz, %s::timestamptz", sent)
        got = cursor.fetchone()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text format
    assert loader is UtcTimestamptzLoader
    assert list(got) == sent
    assert all(value.tzinfo is UTC for value in got)


def test_one_redis_pool_per_url_and_options() -> None:
    url = "redis://127.0.0.1:6379/15"
    first = SharedConnectionPool.from_url(url, socket_timeout=5)
    assert SharedConnectionPool.from_url(url, socket_timeout=5) is first
    assert SharedConnectionPool.from_url(url, socket_timeout=6) is not first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/14") is not first
