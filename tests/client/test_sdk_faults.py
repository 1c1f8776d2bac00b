"""The SDK's retries against real faults. A server on a PostgreSQL database of its own, which the
test makes refuse connections (``ALLOW_CONNECTIONS false``, its sessions ended): the server
answers 503 ``unavailable``; the database back after the first 503, the client's next try
succeeds; left down, ``UnavailableError`` after exactly ``attempts`` tries with the backoff
doubling (jitter pinned by the policy's ``random``). A port where nothing listens:
``ConnectionFailedError`` after the attempts.

The PostgreSQL database is the suite's server when the suite runs on PostgreSQL, else the
machine's at 127.0.0.1:5432; without one the database tests are skipped, saying so."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from registra_client import ConnectionFailedError, RetryPolicy, ServerError, UnavailableError
from tests.client.sdk import (
    FLAVOURS,
    GENEROUS_GRANTS,
    REQUEST_ID,
    Credentials,
    Exchange,
    database_name,
    ids_in,
    sdk,
    service_account,
)
from tests.servers import (
    drop_postgres_database,
    fresh_postgres_database,
    own_env,
    run_registra,
    serving,
)

SLUG = "skyline-mro"
DATABASE = database_name("faults")
MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
ASSETS = "/api/v1/assets"
DOUBLING = [0.5, 1.0, 2.0, 4.0]  # base 0.5 s, the jitter's factor pinned at 1
ENVELOPE = {"error", "message", "requestId"}


def _pinned(*, attempts: int = 5, cap: float = 30.0) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, cap=cap, random=lambda: 1.0)


def _postgres() -> str:
    """The administrator's URL (its ``postgres`` database) of the PostgreSQL server to use."""
    suite = os.environ.get("DATABASE_URL", "")
    url = suite if suite.startswith("postgres") else MACHINE_POSTGRES
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


class Switch:
    """The server's database, taken down and brought back by its administrator."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)

    def down(self) -> None:
        self._admin(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(self.name))
        )
        self._admin(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(self.name))
        )

    def up(self) -> None:
        self._admin(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(self.name))
        )


@dataclass
class Faulty:
    base: str
    reader: Credentials
    database: Switch


@pytest.fixture(scope="module")
def faulty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    admin = _postgres()
    try:
        psycopg.connect(admin, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {admin} for the database faults: {exc}")
    data = tmp_path_factory.mktemp("sdk-faults")
    url = fresh_postgres_database(admin, DATABASE)
    # A connection of its own for each request, no pool: a pool keeps the connections the
    # database ended and hands each out once more after it is back (one more 503 each, as many
    # as the pool held), which would make the number of 503s before the 200 the pool's size.
    env = own_env(
        data,
        secret_key="sdk-faults-tests-only",
        DATABASE_URL=url,
        REGISTRA_DB_POOL_SIZE="0",
        REGISTRA_DB_CONN_MAX_AGE="0",
        **GENEROUS_GRANTS,
    )
    switch = Switch(admin, DATABASE)
    try:
        run_registra(env, "migrate")
        run_registra(env, "demo-data", "--org", SLUG, "--assets", "5")
        reader = service_account(env, SLUG, "SDK reader", "assets:read")
        assert len(ids_in(env, "assets_asset", SLUG)) == 5
        with serving(env, Path(data) / "server.log") as server:
            yield Faulty(f"http://127.0.0.1:{server.port}", reader, switch)
    finally:
        switch.up()
        drop_postgres_database(admin, DATABASE)


@pytest.fixture
def faulty(faulty_server: Faulty) -> Iterator[Faulty]:
    yield faulty_server
    faulty_server.database.up()  # whatever the test did


def _unavailable(exchange: Exchange) -> bool:
    body = exchange.body
    return (
        exchange.status == 503
        and set(body) == ENVELOPE
        and body["error"] == "unavailable"
        and REQUEST_ID.match(body["requestId"]) is not None
        and body["requestId"] == exchange.headers["x-request-id"]
    )


@FLAVOURS
def test_a_503_of_a_database_down_is_tried_again_and_succeeds_once_it_is_back(
    flavour: str, faulty: Faulty
) -> None:
    with sdk(flavour, faulty.base, faulty.reader, retry=_pinned()) as api:
        assets = api.all(api.client.assets.list())  # the token, while the database is up
        faulty.database.down()

        def bring_back(exchange: Exchange) -> None:
            if exchange.status == 503 and api.wire.after is not None:
                api.wire.after = None  # only after the first 503
                faulty.database.up()

        api.wire.after = bring_back
        mark = len(api.wire.exchanges)
        again = api.all(api.client.assets.list())

    assert len(assets) == 5
    assert again == assets
    tries = api.wire.since(mark)
    assert [(e.method, e.path, e.status) for e in tries] == [
        ("GET", ASSETS, 503),
        ("GET", ASSETS, 200),
    ]
    assert _unavailable(tries[0])
    assert api.sleeps == DOUBLING[:1]
    assert api.client.session.grants == 1


@FLAVOURS
def test_a_database_left_down_is_an_unavailable_error_after_the_attempts(
    flavour: str, faulty: Faulty
) -> None:
    with sdk(flavour, faulty.base, faulty.reader, retry=_pinned()) as api:
        asset_id = api.all(api.client.assets.list())[0].id
        faulty.database.down()
        mark = len(api.wire.exchanges)
        with pytest.raises(UnavailableError) as caught:
            api.one(api.client.assets.get(asset_id))

    tries = api.wire.since(mark)
    assert len(tries) == 5
    assert all(e.method == "GET" and _unavailable(e) for e in tries)
    assert api.sleeps == DOUBLING
    error = caught.value
    assert isinstance(error, ServerError)
    assert (error.status, error.error) == (503, "unavailable")
    assert error.request_id == tries[-1].headers["x-request-id"]

    # A new client's token grant meets the same: tried as often, then the same error.
    with (
        sdk(flavour, faulty.base, faulty.reader, retry=_pinned(attempts=3)) as fresh,
        pytest.raises(UnavailableError),
    ):
        fresh.one(fresh.client.assets.get(asset_id))
    assert [(e.method, e.status) for e in fresh.wire.exchanges] == [("POST", 503)] * 3
    assert all(_unavailable(e) for e in fresh.wire.exchanges)
    assert fresh.sleeps == DOUBLING[:2]
    assert fresh.client.session.grants == 0


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound, never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@FLAVOURS
@pytest.mark.parametrize(
    ("policy", "waits"),
    [(_pinned(), DOUBLING), (_pinned(cap=1.5), [0.5, 1.0, 1.5, 1.5])],
    ids=["doubling", "capped"],
)
def test_a_port_nothing_listens_on_is_a_connection_failure_after_the_attempts(
    flavour: str, policy: RetryPolicy, waits: list[float], closed_port: int
) -> None:
    base = f"http://127.0.0.1:{closed_port}"
    with (
        sdk(flavour, base, ("svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA", "rsec_x"), retry=policy) as api,
        pytest.raises(ConnectionFailedError) as caught,
    ):
        api.all(api.client.assets.list())

    assert [(e.method, e.status) for e in api.wire.exchanges] == [("POST", None)] * 5
    assert api.sleeps == waits
    assert caught.value.status is None
    assert "5 attempt" in str(caught.value)
