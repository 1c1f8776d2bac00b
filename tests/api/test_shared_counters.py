"""Rate-limit counters hold across server processes (SPEC section 4: "Counters must hold across
several server processes (shared store), not per process").

Starts the real production server (``registra serve --workers 2``) on a free loopback port,
sharing Redis with ``REDIS_URL``, and sends every request on a new connection. Which worker
served each connection is read from ``/proc`` (the worker holding the accepted socket), so the
test proves that both workers counted into one bucket: with 20 reads allowed, the 21st request
in the window is refused even though the requests were spread over both processes.

Data: on PostgreSQL the server uses pytest-django's test database (``transaction=True`` so the
rows are committed and visible to it). SQLite's test database lives in memory, so there the
server gets its own database file, prepared through the ``registra`` command line."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from registra.assets import services as asset_services
from registra.organizations import services as org_services
from tests.api.conftest import (
    BASE,
    OpenApiContract,
    assert_counted_down,
    check_common,
    until_limited,
)
from tests.cast import REASON, operator
from tests.servers import free_port, prepare_sqlite, registra, send, stop

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [
    pytest.mark.skipif(
        not REDIS_URL,
        reason="REDIS_URL is unset: counters shared by server processes need Redis "
        "(CI's PostgreSQL run sets REDIS_URL)",
    ),
    # Committed rows, so that the server process sees them (PostgreSQL).
    pytest.mark.django_db(transaction=True),
]
TOKEN_READS = 20
START_TIMEOUT = 60.0


@dataclass
class Reply:
    """One HTTP exchange with the server, and the worker process that served it."""

    status_code: int
    headers: Any
    body: bytes
    worker: int | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ServerData:
    database_url: str
    client_id: str
    client_secret: str
    asset_ids: list[str] = field(default_factory=list)


def _postgres_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgresql://{auth}@{host}{port}/{quote(s['NAME'])}"


def _prepare_postgres() -> ServerData:
    org = org_services.organization_create(
        actor=operator(), reason=REASON, slug="shared-counters", name="Shared counters"
    )
    issued = org_services.service_account_create(
        organization=org,
        actor=operator(org),
        reason=REASON,
        name="Counter",
        scopes="assets:read",
    )
    assets = asset_services.asset_bulk_create(
        organization=org,
        actor=operator(org),
        reason=REASON,
        specs=[
            {"asset_key": f"tw-{i}", "asset_kind": "calibrated-tool", "display_name": f"T{i}"}
            for i in range(5)
        ],
    )
    ordered = sorted(assets, key=lambda a: (a.created_at, a.id), reverse=True)
    return ServerData(_postgres_url(), issued.account.id, issued.secret, [a.id for a in ordered])


def _prepare_sqlite(env: dict[str, str]) -> ServerData:
    client_id, secret = prepare_sqlite(env, slug="shared-counters", scopes="assets:read")
    return ServerData(env["DATABASE_URL"], client_id, secret)


# --- which worker served a connection (Linux /proc) ------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[1] == local and cols[2] == remote:
            return cols[9]
    return None


def _socket_owner(inode: str, pids: list[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


class Server:
    """The running ``registra serve`` process and a client that opens a connection per call."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process, self.port = process, port
        self.can_attribute = Path("/proc/net/tcp").exists()

    def workers(self) -> list[int]:
        return _children(self.process.pid) if self.can_attribute else []

    def call(self, method: str, path: str, *, token: str | None = None, body: Any = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            keep_alive = {"Connection": "keep-alive"}
            response = send(conn, method, path, token=token, body=body, headers=keep_alive)
            data = response.read()
            worker = None
            if self.can_attribute and conn.sock is not None:
                # The connection is still open (keep-alive): find the worker holding its socket.
                inode = _server_socket_inode(self.port, conn.sock.getsockname()[1])
                worker = _socket_owner(inode, self.workers()) if inode else None
            return Reply(response.status, response.headers, data, worker)
        finally:
            conn.close()

    def token(self, data: ServerData) -> str:
        reply = self.call(
            "POST",
            f"{BASE}/auth/token",
            body={
                "grant_type": "client_credentials",
                "client_id": data.client_id,
                "client_secret": data.client_secret,
            },
        )
        assert reply.status_code == 200, reply.body
        return str(reply.json()["access_token"])


def _wait_until_serving(server: Server) -> None:
    """Until both workers answer (or, without /proc, until the server answers at all)."""
    deadline = time.monotonic() + START_TIMEOUT
    seen: set[int] = set()
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            out = server.process.stdout.read().decode() if server.process.stdout else ""
            pytest.fail(f"registra serve exited with {server.process.returncode}:\n{out}")
        try:
            reply = server.call("GET", "/healthz")
        except OSError:
            time.sleep(0.1)  # not listening yet
            continue
        if reply.status_code == 200:
            if not server.can_attribute:
                return
            if reply.worker is not None:
                seen.add(reply.worker)
            if len(seen) >= 2:
                return
    pytest.fail(f"registra serve did not start two answering workers (saw {sorted(seen)})")


@pytest.fixture
def server_data(tmp_path: Path) -> ServerData:
    if connection.vendor == "postgresql":
        return _prepare_postgres()
    env = {**os.environ, "REGISTRA_DATA_DIR": str(tmp_path)}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    return _prepare_sqlite(env)


@pytest.fixture
def server(server_data: ServerData, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": server_data.database_url,
        "REDIS_URL": REDIS_URL,
        "REGISTRA_DATA_DIR": str(tmp_path),
        # Own key prefix: the test process's cache.clear() must not be what we measure.
        "REGISTRA_CACHE_PREFIX": f"registra-test-{uuid.uuid4().hex[:12]}",
        "REGISTRA_RATE_LIMIT_TOKEN_READS": str(TOKEN_READS),
        "REGISTRA_RATE_LIMIT_ORG_REQUESTS": "100000",
    }
    if connection.vendor == "postgresql":
        # This process created the secret: the server must hash with the same key.
        env["REGISTRA_SECRET_KEY"] = settings.SECRET_KEY
        env["REGISTRA_CREDENTIAL_KEY"] = settings.REGISTRA_CREDENTIAL_KEY
    process = subprocess.Popen(
        registra("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers go down with it
    )
    server = Server(process, port)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    stop(process)
    if process.stdout:
        out = process.stdout.read().decode(errors="replace")
        assert "Traceback" not in out, out


def test_counters_and_cursors_are_shared_by_both_workers(
    server: Server, server_data: ServerData, contract: OpenApiContract
) -> None:
    path = f"{BASE}/assets"

    def send(token: str) -> Any:
        def one(_: int) -> Reply:
            reply = server.call("GET", path, token=token)
            check_common(reply, contract, "GET", path)
            return reply

        return one

    # A sequence lands on one worker now and then; a fresh token (fresh bucket) tries again.
    workers: set[int | None] = set()
    for _attempt in range(6):
        window = until_limited(send(server.token(server_data)), TOKEN_READS)
        assert_counted_down(window, TOKEN_READS, "token-read")
        workers = {reply.worker for reply in window}
        if not server.can_attribute or (None not in workers and len(workers) >= 2):
            break
    if server.can_attribute:
        assert None not in workers and len(workers) >= 2, (
            f"the limited window was served by workers {workers}, not by both"
        )
    _walk_across_workers(server, server_data, contract)


def _walk_across_workers(
    server: Server, server_data: ServerData, contract: OpenApiContract
) -> None:
    """Cursors issued by one worker are honoured by the other (one key, stateless processes)."""
    if not server_data.asset_ids:
        return  # the SQLite server database is prepared through the CLI, without assets
    token = server.token(server_data)
    ids: list[str] = []
    cursor = None
    while True:
        query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
        reply = server.call("GET", f"{BASE}/assets{query}", token=token)
        check_common(reply, contract, "GET", f"{BASE}/assets")
        assert reply.status_code == 200, reply.body
        ids += [a["id"] for a in reply.json()["assets"]]
        cursor = reply.json()["pagination"]["nextCursor"]
        if not cursor:
            break
    assert ids == server_data.asset_ids
