"""Throwaway PostgreSQL clusters for tests: a primary and its streaming replica, each in its own
temporary folder on a free loopback port, torn down (and deleted) when the context ends.

The machine's own cluster is never touched. ``initdb`` writes a ``pg_hba.conf`` that trusts local
replication connections; the replica is ``pg_basebackup -R`` of the primary. PostgreSQL refuses
to run as root, so as root the server programs run as the ``postgres`` OS user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.servers import free_port, wait_until

PG_BIN = Path(os.environ.get("REGISTRA_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Bounds every wait: a cluster that does not start or stream within it fails the test.
DEADLINE_SECONDS = 30.0
# Small, fast and unsafe on a crash: these clusters live for one test module.
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    " -c full_page_writes=off -c shared_buffers=16MB -c max_connections=40"
)


def unavailable() -> str | None:
    """Why throwaway clusters cannot run here, or None when they can."""
    for program in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        if not (PG_BIN / program).is_file():
            return f"no PostgreSQL server program {PG_BIN / program} (set REGISTRA_TEST_PG_BIN)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root needs runuser to start PostgreSQL as the postgres user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs a postgres OS user to run PostgreSQL"
    return None


@dataclass
class Cluster:
    """One running cluster: its folder, port and a way to run SQL on it."""

    data: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """Stop the server (every client connection is cut) and start it again, waiting until
        it accepts connections (``pg_ctl restart`` keeps the options it was started with): an
        outage of the database, as a restart or a failover gives."""
        log = self.data.parent / f"{self.data.name}.log"  # as _start names it
        _run(
            PG_BIN / "pg_ctl", "-D", self.data, "-l", log, "-m", "fast", "-w", "-t", "30",
            "restart", log=log,
        )  # fmt: skip

    def sql(self, query: str, params: tuple[Any, ...] = (), database: str = "postgres") -> Any:
        """The first column of the first row (None for a statement without rows)."""
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(query, params)
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


class Clusters:
    """A primary and, unless ``replica=False``, a streaming replica of it; use as a context
    manager."""

    def __init__(self, *, replica: bool = True) -> None:
        self._stack = contextlib.ExitStack()
        self._with_replica = replica
        self.primary: Cluster
        self.replica: Cluster

    def __enter__(self) -> Clusters:
        try:
            root = Path(tempfile.mkdtemp(prefix="registra-pg-"))
            self._stack.callback(shutil.rmtree, root, ignore_errors=True)
            _give_to_server_user(root)
            self.primary = self._start(root, "primary", _initdb)
            if self._with_replica:
                self.replica = self._start(root, "replica", self._basebackup)
                wait_until(
                    self._streaming, "the replica streaming from the primary", DEADLINE_SECONDS
                )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self, root: Path, name: str, create: Callable[[Path], None]) -> Cluster:
        cluster = Cluster(root / name, free_port())
        create(cluster.data)
        log = root / f"{name}.log"
        options = f"-p {cluster.port} -k {root} {_SERVER_OPTIONS}"
        self._stack.callback(_stop, cluster.data)  # registered first: runs even if start fails
        _run(
            PG_BIN / "pg_ctl", "-D", cluster.data, "-l", log, "-w", "-t", "30", "-o", options,
            "start", log=log,
        )  # fmt: skip
        return cluster

    def _basebackup(self, data: Path) -> None:
        _run(
            PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres", "-D", data, "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip

    def _streaming(self) -> bool:
        streaming = self.primary.sql(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        )
        return bool(streaming) and bool(self.replica.sql("SELECT pg_is_in_recovery()"))

    def pause_replay(self) -> None:
        """Stop the replica applying WAL (it still receives it): the replica now lags."""
        self.replica.sql("SELECT pg_wal_replay_pause()")
        wait_until(
            lambda: self.replica.sql("SELECT pg_get_wal_replay_pause_state()") == "paused",
            "the replica pausing replay",
            DEADLINE_SECONDS,
        )

    def resume_replay(self) -> None:
        self.replica.sql("SELECT pg_wal_replay_resume()")

    def catch_up(self) -> None:
        """Wait until the replica has applied all the primary has written so far."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()::text")
        wait_until(
            lambda: bool(
                self.replica.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))
            ),
            "the replica replaying up to the primary",
            DEADLINE_SECONDS,
        )


def _initdb(data: Path) -> None:
    _run(
        PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
        "-E", "UTF8", "--locale=C",
    )  # fmt: skip


def _stop(data: Path) -> None:
    if not (data / "postmaster.pid").exists():
        return
    done = subprocess.run(
        [
            *_as_server_user(),
            PG_BIN / "pg_ctl",
            "-D",
            data,
            "-m",
            "immediate",
            "-w",
            "-t",
            "30",
            "stop",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and (data / "postmaster.pid").exists():
        # The postmaster we started, by the id it wrote; its children exit with it.
        with contextlib.suppress(ProcessLookupError, ValueError, OSError):
            pid = int((data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user="postgres", group=pwd.getpwnam("postgres").pw_gid)


def _run(*command: str | Path, log: Path | None = None) -> None:
    done = subprocess.run(
        [*_as_server_user(), *map(str, command)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS * 2,
        check=False,
    )
    if done.returncode != 0:
        detail = log.read_text()[-2000:] if log is not None and log.exists() else ""
        output = f"{done.stdout}{done.stderr}{detail}"
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}):\n{output}")
