"""API v1 when a part it needs is down: every response is the JSON envelope, 503
``unavailable``, with ``X-Request-Id``, never Django's HTML page and never a stack trace.

The faults are real: the production server (``registra serve``) runs in a subprocess with
``DATABASE_URL`` or ``REDIS_URL`` pointing at a loopback port where nothing listens (a socket
bound but not listening, so connections are refused), or with its SQLite file moved away after
it started. The server keeps its own SQLite file, prepared through the command line, so these
tests run the same in the SQLite and the PostgreSQL suite."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import REQUEST_ID_RE
from tests.servers import free_port, prepare_sqlite, registra, stop

BASE = "/api/v1"
START_TIMEOUT = 60.0
# Each fault is checked on every kind of API request: a bearer read, the token grant, the
# organization, an unknown path and the document.
REQUESTS = [
    ("GET", f"{BASE}/assets", True),
    ("GET", f"{BASE}/assets/asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA", True),
    ("GET", f"{BASE}/organization", True),
    ("POST", f"{BASE}/auth/token", False),
]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class Prepared:
    env: dict[str, str]
    database: Path
    client_id: str
    client_secret: str


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log

    def call(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound, never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture
def prepared(tmp_path: Path) -> Prepared:
    database = tmp_path / "server.sqlite3"
    env = {
        **os.environ,
        "REGISTRA_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
    }

    client_id, secret = prepare_sqlite(env, slug="faults", scopes="assets:read organization:read")
    return Prepared(env, database, client_id, secret)


def _start(env: dict[str, str], log: Path) -> Server:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            registra("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"registra serve exited:\n{log.read_text()}")
        try:
            if server.call("GET", "/healthz", {}).status == 200:
                return server
        except OSError:
            time.sleep(0.1)  # not listening yet
    stop(process)
    pytest.fail("registra serve did not answer /healthz")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(env: dict[str, str]) -> Server:
        started.append(_start(env, tmp_path / f"server-{len(started)}.log"))
        return started[-1]

    yield start
    for server in started:
        stop(server.process)


def _token(server: Server, prepared: Prepared) -> str:
    reply = server.call(
        "POST",
        f"{BASE}/auth/token",
        {"Content-Type": "application/json"},
        {
            "grant_type": "client_credentials",
            "client_id": prepared.client_id,
            "client_secret": prepared.client_secret,
        },
    )
    assert reply.status == 200, reply.body
    return str(json.loads(reply.body)["access_token"])


def _assert_all_unavailable(server: Server, prepared: Prepared, token: str) -> None:
    grant = {
        "grant_type": "client_credentials",
        "client_id": prepared.client_id,
        "client_secret": prepared.client_secret,
    }

    def send(request: tuple[str, str, bool]) -> Reply:
        method, path, bearer = request
        headers = {"Content-Type": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {token}"
        return server.call(method, path, headers, grant if method == "POST" else None)

    # At once: with the database down, each request waits out the pool's timeout first.
    with ThreadPoolExecutor(len(REQUESTS)) as pool:
        replies = list(pool.map(send, REQUESTS))
    for (method, path, _), reply in zip(REQUESTS, replies, strict=True):
        assert reply.status == 503, (method, path, reply.status, reply.body)
        assert reply.headers["Content-Type"] == "application/json", (path, reply.body)
        body = json.loads(reply.body)
        assert set(body) == {"error", "message", "requestId"}, body
        assert body["error"] == "unavailable"
        assert REQUEST_ID_RE.match(reply.headers["X-Request-Id"])
        assert body["requestId"] == reply.headers["X-Request-Id"]
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    log = server.log.read_text()
    assert "API v1 unavailable" in log
    assert "Traceback" not in log, log


def test_database_unreachable_is_503_everywhere(
    prepared: Prepared, closed_port: int, serve: Any
) -> None:
    env = {**prepared.env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port}/x"}
    server = serve(env)
    _assert_all_unavailable(server, prepared, "any-token-the-database-cannot-check")
    # The document needs no database: it is still served.
    assert server.call("GET", f"{BASE}/openapi.json", {}).status == 200


def test_redis_unreachable_is_503_everywhere(
    prepared: Prepared, closed_port: int, serve: Any
) -> None:
    # A token granted while Redis was up, then the same database with Redis down.
    token = _token(serve(prepared.env), prepared)
    server = serve({**prepared.env, "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"})
    _assert_all_unavailable(server, prepared, token)


def test_sqlite_file_moved_away_is_503_everywhere(
    prepared: Prepared, serve: Any, tmp_path: Path
) -> None:
    server = serve(prepared.env)
    token = _token(server, prepared)
    stop(server.process)
    server = serve(prepared.env)  # started with the file in place, no connection open yet
    prepared.database.rename(tmp_path / "moved.sqlite3")
    _assert_all_unavailable(server, prepared, token)
