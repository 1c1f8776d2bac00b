"""The SDK (``registra_client``) against a real ``registra serve`` on a loopback port, sync and
asyncio alike: full walks, filters, errors as exceptions, the token's renewal across a real
expiry, 429s, a real database fault answered 503 and retried, a closed port, and a cursor
that expires mid-walk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from registra_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConnectionFailedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    UnavailableError,
)
from tests.servers import (
    Server,
    drop_postgres_database,
    free_port,
    fresh_postgres_database,
    own_database,
    own_env,
    run_registra,
    serving,
    wait_until,
)

SLUG = "skyline-mro"
ASSETS = 1100
PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _account(env: dict[str, str], scopes: str) -> tuple[str, str]:
    out = run_registra(
        env,
        "service-account",
        "create",
        "--org",
        SLUG,
        "--name",
        scopes,
        "--scopes",
        scopes,
        "--json",
    )
    creds = json.loads(out)
    return creds["clientId"], creds["clientSecret"]


class Counting(httpx.HTTPTransport):
    """httpx's own transport, counting what it sends and keeping each answer's status."""

    def __init__(self, after: Callable[[httpx.Response], None] | None = None) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []
        self.statuses: list[int] = []
        self.after = after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        if self.after:
            self.after(response)
        return response

    def reads(self) -> list[httpx.Request]:
        return [r for r in self.sent if r.url.path != "/api/v1/auth/token"]


@dataclass
class Site:
    env: dict[str, str]
    data: Path
    reader: tuple[str, str]  # assets:read
    both: tuple[str, str]  # assets:read organization:read
    ids: set[str]  # every asset id, read by a plain httpx walk

    def url(self, server: Server) -> str:
        return f"http://127.0.0.1:{server.port}"


def _plain_ids(base: str, token: str) -> set[str]:
    ids, params = [], {"limit": "200"}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            body = http.get("/api/v1/assets", params=params).json()
            ids += [a["id"] for a in body["assets"]]
            if not body["pagination"].get("nextCursor"):
                return set(ids)
            params["cursor"] = body["pagination"]["nextCursor"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("sdk")
    with own_database(data, "sdk_against_a_server") as env:
        run_registra(env, "demo-data", "--org", SLUG, "--assets", str(ASSETS), "--seed", "3")
        yield Site(
            env,
            data,
            _account(env, "assets:read"),
            _account(env, "assets:read organization:read"),
            set(),
        )


@pytest.fixture(scope="module")
def server(site: Site) -> Iterator[Server]:
    with serving(site.env, site.data / "server.log") as running:
        site.ids = _plain_ids(site.url(running), running.token(*site.reader))
        assert len(site.ids) == ASSETS
        yield running


def _sync_walk(base: str, creds: tuple[str, str], **filters: Any) -> tuple[list[Any], Counting]:
    transport = Counting()
    with Client(base, *creds, transport=transport) as client:
        return list(client.assets.list(**filters)), transport


def _async_walk(base: str, creds: tuple[str, str], **filters: Any) -> list[Any]:
    async def walk() -> list[Any]:
        async with AsyncClient(base, *creds) as client:
            return [a async for a in client.assets.list(**filters)]

    return asyncio.run(walk())


def test_a_full_walk_returns_every_asset_once_as_typed_records(site: Site, server: Server) -> None:
    assets, transport = _sync_walk(site.url(server), site.reader)
    assert [a.id for a in assets] == [a.id for a in _async_walk(site.url(server), site.reader)]
    assert len(assets) == ASSETS and {a.id for a in assets} == site.ids
    assert len(transport.reads()) == 6  # 1,100 records, 200 a page
    assert all(r.url.params["limit"] == "200" for r in transport.reads())
    first = assets[0]
    assert isinstance(first.created_at, datetime) and first.created_at.tzinfo is not None
    assert first.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    stamps = [(a.created_at, a.id) for a in assets]
    assert stamps == sorted(stamps, reverse=True)  # newest first, as the API pages them


def test_filters_match_the_full_walk_filtered(site: Site, server: Server) -> None:
    base = site.url(server)
    everything, _ = _sync_walk(base, site.reader)
    active_tools = {
        a.id for a in everything if a.status == "active" and a.asset_kind == "calibrated-tool"
    }
    assert active_tools
    got, _ = _sync_walk(base, site.reader, status="active", asset_kind="calibrated-tool")
    assert {a.id for a in got} == active_tools
    assert {
        a.id for a in _async_walk(base, site.reader, status="active", asset_kind="calibrated-tool")
    } == active_tools
    middle = sorted(a.updated_at for a in everything)[len(everything) // 2]
    later, _ = _sync_walk(base, site.reader, updated_after=middle)
    # Timestamps are shown to the millisecond and compared to the microsecond: the records of
    # that very millisecond may or may not be later.
    later_ids = {a.id for a in later}
    assert {a.id for a in everything if a.updated_at > middle} <= later_ids
    assert later_ids <= {a.id for a in everything if a.updated_at >= middle}
    with Client(base, *site.reader) as client:
        active = list(client.custody_assignments.list(status="active"))
        assert active and {c.status for c in active} == {"active"}
        held = active[0].asset_id
        custody = list(client.custody_assignments.list(asset_id=held))
        assert active[0] in custody and {c.asset_id for c in custody} == {held}
        not_ready = list(client.readiness_assessments.list(readiness_state="not-ready"))
        assert not_ready and {r.readiness_state for r in not_ready} == {"not-ready"}
        holders = list(client.custody_holders.list())
        assert holders and all(h.id.startswith("user_") and h.external_employee_id for h in holders)
        one = holders[0].external_employee_id
        assert [h.id for h in client.custody_holders.list(external_employee_id=one)] == [
            holders[0].id
        ]


def test_errors_are_typed_exceptions(site: Site, server: Server) -> None:
    base = site.url(server)
    with Client(base, *site.reader) as client:
        some = next(iter(client.assets.list()))
        assert client.assets.get(some.id) == some
        with pytest.raises(NotFoundError) as missing:
            client.assets.get("asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA")
        assert missing.value.status == 404 and missing.value.error == "not_found"
        assert (missing.value.request_id or "").startswith("req_")
        with pytest.raises(PermissionDeniedError) as denied:
            client.organization.get()
        assert denied.value.status == 403 and "organization:read" in denied.value.message
    with Client(base, *site.both) as client:
        assert client.organization.get().slug == SLUG
    with (
        Client(base, site.reader[0], "not-the-secret") as client,
        pytest.raises(AuthenticationError) as refused,
    ):
        client.assets.get(some.id)
    assert refused.value.status == 401

    async def async_errors() -> None:
        async with AsyncClient(base, *site.reader) as client:
            assert (await client.assets.get(some.id)).id == some.id
            with pytest.raises(NotFoundError):
                await client.assets.get("asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA")
            with pytest.raises(PermissionDeniedError):
                await client.organization.get()

    asyncio.run(async_errors())


def test_the_token_is_renewed_before_it_expires(site: Site, server: Server) -> None:
    now = [0.0]
    with Client(site.url(server), *site.reader, clock=lambda: now[0]) as client:
        first = next(iter(client.assets.list()))
        assert client.session.grants == 1
        client.assets.get(first.id)
        assert client.session.grants == 1  # still fresh
        now[0] += 900 - 60 + 1  # within a minute of the 900 s lifetime
        client.assets.get(first.id)
        assert client.session.grants == 2


@pytest.fixture(scope="module")
def short_tokens(site: Site, server: Server) -> Iterator[Server]:
    """A second server on the same database whose tokens live 1 s."""
    env = {
        **site.env,
        "REGISTRA_TOKEN_TTL_SECONDS": "1",
        "REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT": "1000",
        "REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS": "1000",
    }
    with serving(env, site.data / "short-tokens.log") as running:
        yield running


def _expired(server: Server, token: str) -> bool:
    return server.call("GET", "/api/v1/assets?limit=1", token=token).status == 401


def test_a_token_the_server_let_expire_is_renewed_once(site: Site, short_tokens: Server) -> None:
    frozen = lambda: 0.0  # noqa: E731  (the client believes its token is fresh)
    with Client(site.url(short_tokens), *site.reader, clock=frozen) as client:
        some = next(iter(client.assets.list()))
        token = client.session.token
        assert token is not None
        wait_until(lambda: _expired(short_tokens, token), "the server letting the token expire", 30)
        assert client.assets.get(some.id).id == some.id  # a 401, a new grant, the answer
        assert client.session.grants == 2 and client.session.token != token


@pytest.fixture(scope="module")
def short_cursors(site: Site, server: Server) -> Iterator[Server]:
    """A second server on the same database whose cursors live 2 s."""
    env = {**site.env, "REGISTRA_CURSOR_TTL_SECONDS": "2"}
    with serving(env, site.data / "short-cursors.log") as running:
        yield running


def _wait_for_cursor_expiry(server: Server, token: str) -> None:
    """Until a cursor issued now (so after the walk's) is refused as expired."""
    cursor = server.call("GET", "/api/v1/assets?limit=50", token=token).json()["pagination"]
    path = f"/api/v1/assets?limit=50&cursor={cursor['nextCursor']}"

    def expired() -> bool:
        reply = server.call("GET", path, token=token)
        return reply.status == 400 and reply.json()["error"] == "invalid_cursor"

    wait_until(expired, "the cursor expiring", 30)


def test_a_walk_whose_cursor_expires_returns_every_asset_once(
    site: Site, short_cursors: Server
) -> None:
    base, token = site.url(short_cursors), short_cursors.token(*site.reader)
    transport = Counting()
    with Client(base, *site.reader, page_size=50, transport=transport) as client:
        walk = client.assets.list()
        seen = [next(walk).id for _ in range(120)]  # into the third page
        _wait_for_cursor_expiry(short_cursors, token)
        seen += [a.id for a in walk]
    assert len(seen) == len(set(seen)) == ASSETS and set(seen) == site.ids
    assert 400 in transport.statuses  # the walk did meet the expired cursor


def test_an_async_walk_whose_cursor_expires_returns_every_asset_once(
    site: Site, short_cursors: Server
) -> None:
    base, token = site.url(short_cursors), short_cursors.token(*site.reader)

    async def walk() -> list[str]:
        async with AsyncClient(base, *site.reader, page_size=50) as client:
            records = client.assets.list()
            seen = [(await anext(records)).id for _ in range(120)]
            await asyncio.to_thread(_wait_for_cursor_expiry, short_cursors, token)
            return seen + [a.id async for a in records]

    seen = asyncio.run(walk())
    assert len(seen) == len(set(seen)) == ASSETS and set(seen) == site.ids


@pytest.fixture(scope="module")
def limited(site: Site, server: Server) -> Iterator[Server]:
    """A server on the same database allowing a token 3 reads a minute."""
    env = {**site.env, "REGISTRA_RATE_LIMIT_TOKEN_READS": "3"}
    with serving(env, site.data / "limited.log") as running:
        yield running


def test_429s_are_retried_as_retry_after_says_then_raised(site: Site, limited: Server) -> None:
    waits: list[float] = []
    transport = Counting()
    with Client(site.url(limited), *site.reader, transport=transport, sleep=waits.append) as client:
        some = [next(iter(client.assets.list()))]
        client.assets.get(some[0].id)
        client.assets.get(some[0].id)  # the third read: the limit
        with pytest.raises(RateLimitedError) as limited_out:
            client.assets.get(some[0].id)
    answers = transport.statuses[-5:]
    assert answers == [429] * 5  # five attempts in all, then the error
    assert len(waits) == 4 and all(0 < w <= 60 for w in waits)
    assert limited_out.value.retry_after is not None and limited_out.value.status == 429
    # A Retry-After longer than the client may wait is not waited for.
    patient = RetryPolicy(max_retry_after=0.001)
    waits.clear()
    patient_client = Client(site.url(limited), *site.reader, retry=patient, sleep=waits.append)
    with patient_client as client, pytest.raises(RateLimitedError):
        for _ in range(4):
            client.assets.get(some[0].id)
    assert waits == []


def test_a_closed_port_is_a_connection_failure_after_five_attempts() -> None:
    waits: list[float] = []
    policy = RetryPolicy(random=lambda: 1.0)
    with (
        Client(
            f"http://127.0.0.1:{free_port()}", "svc_x", "s", retry=policy, sleep=waits.append
        ) as client,
        pytest.raises(ConnectionFailedError, match="5 attempt"),
    ):
        client.assets.get("asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA")
    assert waits == [0.5, 1.0, 2.0, 4.0]


def _allow(url: str, name: str, allow: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )


def test_a_database_outage_is_retried_and_survived(tmp_path: Path) -> None:
    name = f"sdk_outage_{datetime.now(UTC):%H%M%S%f}"
    url = fresh_postgres_database(PG, name)
    try:
        env = _pg_env(tmp_path, url)
        run_registra(env, "migrate")
        run_registra(env, "org", "create", "--slug", SLUG, "--name", "Skyline")
        creds = _account(env, "assets:read")
        with serving(env, tmp_path / "server.log") as running:
            base = f"http://127.0.0.1:{running.port}"
            with Client(base, *creds) as client:
                assert list(client.assets.list()) == []  # the token, and the database, work
                _allow(PG, name, False)

                def restore(response: httpx.Response) -> None:
                    if response.status_code == 503:
                        response.read()
                        assert response.json()["error"] == "unavailable"
                        _allow(PG, name, True)

                waits: list[float] = []
                transport = Counting(after=restore)
                healed = Client(base, *creds, transport=transport, sleep=waits.append)
                healed.session.token, healed.session.refresh_at = (
                    client.session.token,
                    client.session.refresh_at,
                )
                with healed:
                    assert list(healed.assets.list()) == []
                assert transport.statuses == [503, 200] and len(waits) == 1

                _allow(PG, name, False)
                down = Client(
                    base, *creds, retry=RetryPolicy(random=lambda: 1.0), sleep=(slept := []).append
                )
                down.session.token, down.session.refresh_at = (
                    client.session.token,
                    client.session.refresh_at,
                )
                with down, pytest.raises(UnavailableError) as unavailable:
                    list(down.assets.list())
                assert unavailable.value.status == 503 and slept == [0.5, 1.0, 2.0, 4.0]
                _allow(PG, name, True)
    finally:
        drop_postgres_database(PG, name)


def _pg_env(data: Path, url: str) -> dict[str, str]:
    env = own_env(data, secret_key="sdk-outage-tests-only")
    env["DATABASE_URL"] = url
    # A fresh connection for each request, no pool: refused while the database is down, made
    # again the moment it is back.
    env["REGISTRA_DB_CONN_MAX_AGE"] = "0"
    env["REGISTRA_DB_POOL_SIZE"] = "0"
    return env
