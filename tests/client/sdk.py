"""What the SDK's tests against a real server share: the blocking and the asyncio client behind
one facade (so each test is written once and runs with both), a real httpx transport that records
every exchange on the wire, a fake monotonic clock, and reads of the server's own database.

The servers are real ``registra serve`` processes (``tests/servers.py``); nothing here stands in
for them. The SDK's names are imported from the package's public surface only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from registra_client import AsyncClient, Client
from tests.servers import run_registra

Credentials = tuple[str, str]
# Every client of these tests grants its own token: the token endpoint's limits per client id
# and per address (10 and 30 a minute) are raised so that many clients a minute may.
GENEROUS_GRANTS = {
    "REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT": "1000",
    "REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS": "1000",
}
REQUEST_ID = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")  # what every error names
# Each test runs once with ``Client`` and once with ``AsyncClient``.
FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "async"])


def database_name(what: str) -> str:
    """A PostgreSQL database name of this test session's own, so that two sessions at once (the
    SQLite and the PostgreSQL suite, say) never drop each other's."""
    return f"helper_sdk_{what}_{os.getpid()}"


def service_account(env: dict[str, str], slug: str, name: str, scopes: str) -> Credentials:
    """A new service account of organization ``slug``, through the command line."""
    args = ["service-account", "create", "--org", slug, "--name", name, "--scopes", scopes]
    creds = json.loads(run_registra(env, *args, "--json"))
    return creds["clientId"], creds["clientSecret"]


# --- the wire -------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request as it went out, and its answer (``status`` None when none came)."""

    method: str
    path: str
    params: dict[str, str]
    authorization: str | None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # the answer's JSON, when it was JSON

    @property
    def cursor(self) -> str | None:
        return self.params.get("cursor")

    @property
    def next_cursor(self) -> str | None:
        if not isinstance(self.body, dict):
            return None
        return (self.body.get("pagination") or {}).get("nextCursor")


@dataclass
class Wire:
    """Every exchange of one client, in order; ``after`` runs on each answer before the client
    sees it (a test's way to change the world between two attempts)."""

    exchanges: list[Exchange] = field(default_factory=list)
    after: Callable[[Exchange], None] | None = None

    def start(self, request: httpx.Request) -> Exchange:
        exchange = Exchange(
            request.method,
            request.url.path,
            dict(request.url.params),
            request.headers.get("authorization"),
        )
        self.exchanges.append(exchange)
        return exchange

    def finish(self, exchange: Exchange, response: httpx.Response) -> None:
        exchange.status = response.status_code
        exchange.headers = {k.lower(): v for k, v in response.headers.items()}
        if response.headers.get("content-type", "").startswith("application/json"):
            exchange.body = json.loads(response.content)
        if self.after is not None:
            self.after(exchange)

    def gets(self, path: str | None = None) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == "GET" and path in (None, e.path)]

    def grants(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path == "/api/v1/auth/token"]

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]


class RecordingTransport(httpx.BaseTransport):
    """httpx's own transport, each exchange noted on a ``Wire``."""

    def __init__(self, wire: Wire, inner: httpx.BaseTransport) -> None:
        self.wire, self.inner = wire, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = self.wire.start(request)
        response = self.inner.handle_request(request)
        response.read()  # the client reads it again from the cache httpx keeps
        self.wire.finish(exchange, response)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """``RecordingTransport`` for ``AsyncClient``."""

    def __init__(self, wire: Wire, inner: httpx.AsyncBaseTransport) -> None:
        self.wire, self.inner = wire, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = self.wire.start(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.wire.finish(exchange, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- one facade over both clients -----------------------------------------------------------


class Sdk:
    """A client (``Client`` or ``AsyncClient``) with the test's transport, and the waits it asked
    for (recorded, not slept). ``all``, ``take`` and ``one`` consume what its resources return:
    an iterator or an awaitable for ``Client``, an async iterator or a coroutine for
    ``AsyncClient``, which runs on this facade's own event loop, one call at a time."""

    client: Any
    wire: Wire
    sleeps: list[float]

    def all(self, records: Any) -> list[Any]:
        raise NotImplementedError

    def take(self, records: Any, n: int) -> list[Any]:
        raise NotImplementedError

    def one(self, record: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SyncSdk(Sdk):
    def __init__(self, base_url: str, creds: Credentials, local: str, **options: Any) -> None:
        self.wire, self.sleeps = Wire(), []
        inner = httpx.HTTPTransport(local_address=local)
        self.client = Client(
            base_url,
            *creds,
            transport=RecordingTransport(self.wire, inner),
            sleep=self.sleeps.append,
            **options,
        )

    def all(self, records: Iterable[Any]) -> list[Any]:
        return list(records)

    def take(self, records: Iterator[Any], n: int) -> list[Any]:
        return [next(records) for _ in range(n)]

    def one(self, record: Any) -> Any:
        return record

    def close(self) -> None:
        self.client.close()


class AsyncSdk(Sdk):
    def __init__(self, base_url: str, creds: Credentials, local: str, **options: Any) -> None:
        self.wire, self.sleeps = Wire(), []
        self.loop = asyncio.new_event_loop()
        inner = httpx.AsyncHTTPTransport(local_address=local)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.client = AsyncClient(
            base_url,
            *creds,
            transport=AsyncRecordingTransport(self.wire, inner),
            sleep=sleep,
            **options,
        )

    def all(self, records: AsyncIterator[Any]) -> list[Any]:
        async def collect() -> list[Any]:
            return [record async for record in records]

        return self.loop.run_until_complete(collect())

    def take(self, records: AsyncIterator[Any], n: int) -> list[Any]:
        async def collect() -> list[Any]:
            return [await anext(records) for _ in range(n)]

        return self.loop.run_until_complete(collect())

    def one(self, record: Awaitable[Any]) -> Any:
        async def wait() -> Any:
            return await record

        return self.loop.run_until_complete(wait())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@contextlib.contextmanager
def sdk(
    flavour: str, base_url: str, creds: Credentials, *, local: str = "127.0.0.1", **options: Any
) -> Iterator[Sdk]:
    """A ``flavour`` ("sync" or "async") client of ``base_url``, its connections made from
    loopback address ``local``; ``options`` go to the client (``retry``, ``clock``...)."""
    make = SyncSdk if flavour == "sync" else AsyncSdk
    facade = make(base_url, creds, local, **options)
    try:
        yield facade
    finally:
        facade.close()


# --- the server's own database --------------------------------------------------------------


def server_rows(env: dict[str, str], query: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of ``query`` (``?`` placeholders) on the database of the server run with ``env``:
    its PostgreSQL database when it has a ``DATABASE_URL``, else its data folder's SQLite file."""
    url = env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        with psycopg.connect(url) as conn:
            return conn.execute(query.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]
    path = Path(env["REGISTRA_DATA_DIR"]) / "registra.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(query, params).fetchall()


def organization_id(env: dict[str, str], slug: str) -> str:
    rows = server_rows(env, "SELECT id FROM organizations_organization WHERE slug = ?", slug)
    return str(rows[0][0])


def ids_in(env: dict[str, str], table: str, slug: str) -> set[str]:
    """The ids of every row of ``table`` that organization ``slug`` has."""
    query = f"SELECT id FROM {table} WHERE organization_id = ?"  # a table name of the test's
    return {str(row[0]) for row in server_rows(env, query, organization_id(env, slug))}


def as_utc(value: str | datetime) -> datetime:
    """A timestamp as the database returned it (SQLite: naive UTC text) as an aware datetime."""
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def to_millisecond(value: datetime) -> datetime:
    """``value`` cut to the millisecond, as the API shows it."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
