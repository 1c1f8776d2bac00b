"""The per-process plumbing that keeps the API path cheap: psycopg's C timestamp loader on
PostgreSQL connections, one Redis connection pool per process, and API timestamps written by
the database."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.db import connection

from registra.api.v1 import readers
from registra.api.v1.records import ASSET
from registra.assets.models import Asset
from registra.core.pgtime import UtcTimestamptzLoader
from registra.core.timefmt import api_format
from tests.cast import Cast, make_asset

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


# Run with the real settings module in a fresh process: cache objects from two threads and two
# event-loop tasks (Django keeps one per thread and per async context, so under ASGI one per
# request) must all use one redis-py pool. Nothing here connects to Redis.
_POOL_PROBE = """
import asyncio, threading, django
django.setup()
from django.core.cache import caches
from django_redis import get_redis_connection

def probe():
    return caches["default"], get_redis_connection("default").connection_pool

async def task():
    return probe()

async def two_tasks():
    return await asyncio.gather(task(), task())

seen = [probe()]
for target in (lambda: seen.append(probe()), lambda: seen.extend(asyncio.run(two_tasks()))):
    thread = threading.Thread(target=target)
    thread.start(); thread.join()
print(len({id(c) for c, _ in seen}), len({id(p) for _, p in seen}), caches["default"].make_key("k"))
"""


def test_one_redis_pool_per_process(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registra.settings",
        "REGISTRA_DATA_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "REGISTRA_CACHE_PREFIX": "probe",
    }
    result = subprocess.run(
        [sys.executable, "-c", _POOL_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cache_objects, pools, key = result.stdout.split()
    assert (int(cache_objects), int(pools)) == (4, 1)  # four cache objects, one pool
    assert key == "probe:1:k"  # KEY_PREFIX kept: a suite clears only "probe:*"


@pytest.mark.django_db
def test_api_timestamps_from_the_database_match_api_format(cast: Cast) -> None:
    # The API readers have PostgreSQL write timestamps (to_char); SQLite rows are formatted in
    # Python. Either way the text must be exactly timefmt.api_format's: UTC, milliseconds
    # truncated (never rounded), "Z". Edge values, then a deterministic spread over the range.
    asset = make_asset(cast.org, "stamp-probe")
    spread = random.Random(7)
    start = datetime(1, 1, 1, tzinfo=UTC)
    span = int((datetime(9999, 12, 31, tzinfo=UTC) - start).total_seconds())
    values = [
        datetime(2026, 11, 29, 10, 30, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 30, 15, 999, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 30, 15, 1000, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 30, 15, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, 999500, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(999, 6, 1, 12, 0, 0, 5000, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ] + [
        start + timedelta(seconds=spread.randrange(span), microseconds=spread.randrange(10**6))
        for _ in range(150)
    ]
    for value in values:
        Asset.objects.filter(id=asset.id).update(commissioned_at=value, updated_at=value)
        row = readers.as_records(ASSET, [readers.asset(cast.org.id, asset.id)])[0]
        assert row["commissionedAt"] == row["updatedAt"] == api_format(value), value
