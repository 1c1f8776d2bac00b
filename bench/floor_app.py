"""The floor: the least work that can serve one page of the register, to measure Registra against.

A bare ASGI app (no framework, no auth, no rate limits) that reads the same rows as
``GET /api/v1/assets`` with the same keyset query (same columns, same order, same organization
filter) through psycopg 3 and renders the same JSON shape with orjson. Served by uvicorn, as in
every run since decision 0002 (``registra serve`` has used Granian since 0008; this app under
Granian's ASGI interface measured no faster, ``docs/benchmarks.md``), so the reference stays put::

    FLOOR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/registra_bench \\
    FLOOR_ORGANIZATION_ID=org_... \\
        .venv/bin/uvicorn floor_app:app --app-dir bench --host 127.0.0.1 --port 8100 \\
        --workers 1 --lifespan off --no-access-log --log-level warning

``GET /assets?limit=200[&cursor=...]`` -> ``{"assets": [...], "pagination": {"nextCursor",
"limit"}}``. The cursor is plain base64url of ``created_at|id`` (no signature, no binding).
"""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import psycopg

DATABASE_URL = os.environ.get("FLOOR_DATABASE_URL", "")
ORGANIZATION_ID = os.environ.get("FLOOR_ORGANIZATION_ID", "")
POOL_SIZE = int(os.environ.get("FLOOR_POOL_SIZE", "4"))

COLUMNS = (
    ("id", "id"),
    ("asset_key", "assetKey"),
    ("asset_kind", "assetKind"),
    ("display_name", "displayName"),
    ("description", "description"),
    ("source_kind", "sourceKind"),
    ("status", "status"),
    ("custodian_responsibility_id", "custodianResponsibilityId"),
    ("commissioned_at", "commissionedAt"),
    ("decommissioned_at", "decommissionedAt"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
)
NAMES = [api for _, api in COLUMNS]
STAMPS = [i for i, (col, _) in enumerate(COLUMNS) if col.endswith("_at")]
SELECT = f"SELECT {', '.join(c for c, _ in COLUMNS)} FROM assets_asset WHERE organization_id = %s"
ORDER = " ORDER BY created_at DESC, id DESC LIMIT %s"
FIRST_PAGE = SELECT + ORDER
NEXT_PAGE = (
    SELECT + " AND created_at <= %s AND (created_at < %s OR (created_at = %s AND id < %s))" + ORDER
)
JSON_HEADERS = [(b"content-type", b"application/json")]


class Pool:
    """A fixed set of connections handed out through a queue (opened on first use, because
    uvicorn runs with ``--lifespan off``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.queue: asyncio.Queue[psycopg.AsyncConnection] | None = None
        self.lock = asyncio.Lock()

    async def get(self) -> psycopg.AsyncConnection:
        if self.queue is None:
            async with self.lock:
                if self.queue is None:
                    queue: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
                    for _ in range(self.size):
                        conn = await psycopg.AsyncConnection.connect(
                            DATABASE_URL, autocommit=True, options="-c TimeZone=UTC"
                        )
                        queue.put_nowait(conn)
                    self.queue = queue
        return await self.queue.get()

    def put(self, conn: psycopg.AsyncConnection) -> None:
        assert self.queue is not None
        self.queue.put_nowait(conn)


POOL = Pool(POOL_SIZE)


def _stamp(value: datetime) -> str:
    # The session time zone is UTC, so isoformat ends in "+00:00".
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def _cursor_encode(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _cursor_decode(token: str) -> tuple[datetime, str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    stamp, _, row_id = raw.partition("|")
    return datetime.fromisoformat(stamp), row_id


def _records(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        values = list(row)
        for i in STAMPS:
            if values[i] is not None:
                values[i] = _stamp(values[i])
        out.append(dict(zip(NAMES, values, strict=True)))
    return out


async def _page(limit: int, cursor: str | None) -> bytes:
    if cursor:
        created_at, row_id = _cursor_decode(cursor)
        sql: str = NEXT_PAGE
        params: tuple[Any, ...] = (ORGANIZATION_ID, created_at, created_at, created_at, row_id)
    else:
        sql, params = FIRST_PAGE, (ORGANIZATION_ID,)
    conn = await POOL.get()
    try:
        cur = await conn.execute(sql, (*params, limit + 1))  # type: ignore[arg-type]
        rows = await cur.fetchall()
    finally:
        POOL.put(conn)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _cursor_encode(rows[-1][-2], rows[-1][0])
    body = {"assets": _records(rows), "pagination": {"nextCursor": next_cursor, "limit": limit}}
    return orjson.dumps(body)


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["50"])[0]
    return min(max(int(raw), 1), 200)


async def _send(send: Any, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] != "/assets" or scope["method"] != "GET":
        await _send(send, 404, b'{"error":"not_found"}')
        return
    query = parse_qs(scope["query_string"].decode())
    try:
        limit = _limit(query)
        body = await _page(limit, query.get("cursor", [None])[0])
    except ValueError:
        await _send(send, 400, b'{"error":"validation"}')
        return
    await _send(send, 200, body)
