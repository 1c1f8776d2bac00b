"""``/readyz`` of a real ``registra serve`` with a part really gone: the SQLite file moved or
replaced, PostgreSQL or Redis on a closed loopback port. Always JSON; 503 names what failed.
(The replica's checks are in ``test_replica.py``, beside the replica they need.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.servers import Reply, Server, free_port, own_env, registra, serving


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return own_env(tmp_path, secret_key="readyz-tests-only", **overrides)


def _migrated_sqlite(env: dict[str, str]) -> None:
    done = subprocess.run(
        registra("migrate"), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def _readyz(server: Server) -> Reply:
    reply = server.call("GET", "/readyz")
    assert reply.headers["Content-Type"] == "application/json", reply.body
    return reply


def _unavailable(checks: dict[str, str]) -> dict[str, object]:
    failed = [name for name, state in checks.items() if state != "ok"]
    return {"status": "unavailable", "checks": checks, "failed": failed}


def test_a_moved_or_replaced_sqlite_file_fails_readyz_and_is_not_recreated(
    tmp_path: Path,
) -> None:
    database = tmp_path / "data" / "registra.sqlite3"
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    _migrated_sqlite(env)
    moved = tmp_path / "moved"
    moved.mkdir()
    with serving(env, tmp_path / "server.log") as server:
        ready = _readyz(server)
        assert (ready.status, ready.json()) == (200, {"status": "ok", "checks": {"database": "ok"}})

        for path in database.parent.glob("registra.sqlite3*"):  # the file and its WAL sidecars
            shutil.move(path, moved / path.name)
        missing = _readyz(server)
        assert missing.status == 503
        assert missing.json() == _unavailable({"database": "file missing"})
        assert not list(database.parent.glob("registra.sqlite3*")), "readyz created a file"

        database.touch()  # an empty file where the database was: no schema
        empty = _readyz(server)
        assert empty.status == 503
        assert empty.json() == _unavailable({"database": "not migrated"})

        database.unlink()
        for path in moved.iterdir():
            shutil.move(path, database.parent / path.name)
        assert _readyz(server).status == 200


def test_an_unreachable_postgresql_fails_readyz(tmp_path: Path) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/registra"
    env = _env(tmp_path, DATABASE_URL=closed, REGISTRA_DB_POOL_TIMEOUT="1")
    with serving(env, tmp_path / "server.log") as server:
        reply = _readyz(server)
        assert reply.status == 503
        assert reply.json() == _unavailable({"database": "unreachable"})
        assert server.call("GET", "/healthz").status == 200  # the process itself is alive


def test_an_unreachable_redis_fails_readyz(tmp_path: Path) -> None:
    database = tmp_path / "registra.sqlite3"
    env = _env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{database}",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    _migrated_sqlite(env)
    with serving(env, tmp_path / "server.log") as server:
        reply = _readyz(server)
        assert reply.status == 503
        assert reply.json() == _unavailable({"database": "ok", "redis": "unreachable"})
