"""A real ``registra serve`` process on a free loopback port, for tests of whole deployments
(replica routing, readiness with a part stopped), and a plain HTTP client for it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, seconds: float = START_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` once the deadline passes."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.05)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def call(self, method: str, path: str, *, token: str | None = None, body: Any = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            response = send(conn, method, path, token=token, body=body)
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def token(self, client_id: str, client_secret: str) -> str:
        reply = self.call(
            "POST",
            "/api/v1/auth/token",
            body={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        assert reply.status == 200, reply.body
        return str(reply.json()["access_token"])

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"registra serve exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
            )
        try:
            return self.call("GET", "/healthz").status == 200
        except OSError:
            return False  # not listening yet


def send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    """One request on ``conn`` (a bearer token and a JSON body if given); its response."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    return conn.getresponse()


def own_env(data_dir: Path, *, secret_key: str, **overrides: str) -> dict[str, str]:
    """This process's environment for a server of a test's own: without the suite's databases
    and Redis, with its own data folder and secret key, and ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL"}  # the suite's
    }
    env.update(REGISTRA_DATA_DIR=str(data_dir), REGISTRA_SECRET_KEY=secret_key)
    env.update(overrides)
    return env


def registra(*args: str) -> list[str]:
    """The ``registra`` command of this environment."""
    script = Path(sys.executable).with_name("registra")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "registra.cli", *args]


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    """``registra serve`` (one worker) with this environment, its output in ``log``, until it
    answers ``/healthz``; stopped, its process group with it, when the context ends."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            registra("serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing outlives the test
        )
    server = Server(process, port, log)
    try:
        wait_until(server.answers, "registra serve answering /healthz", START_SECONDS)
        yield server
    finally:
        stop(process)


@contextlib.contextmanager
def working(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``registra worker`` with this environment, its output in ``log``; stopped, its process
    group with it, when the context ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            registra("worker", "--worker-id", "tests"),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left behind in its group


def run_python(env: dict[str, str], code: str, *args: str) -> str:
    """``python -c code *args`` with this environment and Django's settings (``django.setup()``
    is the code's to call), which must succeed; what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**env, "DJANGO_SETTINGS_MODULE": "registra.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_registra(env: dict[str, str], *args: str) -> str:
    """``registra *args`` with this environment, which must succeed; what it printed."""
    done = subprocess.run(
        registra(*args), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def prepare_sqlite(env: dict[str, str], *, slug: str, scopes: str) -> tuple[str, str]:
    """Migrate the SQLite database of ``env``, create an organization and a service account
    through the command line; the account's client id and secret."""
    run_registra(env, "migrate")
    run_registra(env, "org", "create", "--slug", slug, "--name", slug.capitalize())
    account = ["service-account", "create", "--org", slug, "--name", "Reader"]
    creds = json.loads(run_registra(env, *account, "--scopes", scopes, "--json"))
    return creds["clientId"], creds["clientSecret"]


def fresh_postgres_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead, created empty (an earlier run's dropped)."""
    drop_postgres_database(url, name)
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def drop_postgres_database(url: str, name: str) -> None:
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


def _maintenance_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


@contextlib.contextmanager
def own_database(data_dir: Path, name: str, **overrides: str) -> Iterator[dict[str, str]]:
    """``own_env`` with a database of its own for ``registra`` processes: a SQLite file in
    ``data_dir``, or, when the suite runs on PostgreSQL, a fresh database ``name`` (dropped
    afterwards), migrated either way."""
    env = own_env(data_dir, secret_key=f"{name}-tests-only", **overrides)
    suite = os.environ.get("DATABASE_URL", "")
    if suite.startswith("postgres"):
        env["DATABASE_URL"] = fresh_postgres_database(suite, name)
    run_registra(env, "migrate")
    try:
        yield env
    finally:
        if suite.startswith("postgres"):
            drop_postgres_database(suite, name)
