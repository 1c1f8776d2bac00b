"""The database a browser test's server writes, read straight from the test: to check the rows
a journey wrote, and changing a row behind the server's back (``execute``)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg


def rows(server_env: dict[str, str], sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows ``sql`` (``%s`` placeholders) reads from the database of this module's server:
    its PostgreSQL database, or the SQLite file in its data folder. Read-only."""
    url = server_env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        with psycopg.connect(url) as conn:
            conn.read_only = True
            return conn.execute(sql, tuple(params)).fetchall()  # type: ignore[arg-type]
    path = Path(server_env["REGISTRA_DATA_DIR"]) / "registra.sqlite3"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql.replace("%s", "?"), tuple(params)).fetchall()


def execute(server_env: dict[str, str], sql: str, params: Sequence[Any]) -> int:
    """Run one writing statement on the server's database, as someone with database access
    but not the audit key would; the number of rows it changed."""
    url = server_env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        with psycopg.connect(url) as conn:
            return conn.execute(sql, tuple(params)).rowcount  # type: ignore[arg-type]
    path = Path(server_env["REGISTRA_DATA_DIR"]) / "registra.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql.replace("%s", "?"), tuple(params)).rowcount
