"""Shared list mechanics: limit clamping, filter binding, keyset pages and the next cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

from registra.api.v1 import render
from registra.api.v1.errors import json_response
from registra.api.v1.pagination import decode_cursor, encode_cursor
from registra.assets.selectors import Position
from registra.core.errors import field_error
from registra.core.timefmt import to_micros

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
PageReader = Callable[..., list[tuple[Any, ...]]]


def clamp_limit(limit: int) -> int:
    if limit < 1:
        raise field_error("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return min(limit, MAX_LIMIT)


def _utc(value: datetime) -> datetime:
    """A timestamp without an offset is taken as UTC, like every timestamp the API returns."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_filters(created_after: datetime | None, updated_after: datetime | None) -> dict:
    lookups: dict[str, Any] = {}
    if created_after is not None:
        lookups["created_at__gt"] = _utc(created_after)
    if updated_after is not None:
        lookups["updated_at__gt"] = _utc(updated_after)
    return lookups


def binding(lookups: dict[str, Any]) -> dict[str, Any]:
    """The filters as a cursor binds them (timestamps exact to the microsecond)."""
    return {k: to_micros(v) if isinstance(v, datetime) else v for k, v in lookups.items()}


def page_response(
    *,
    organization_id: str,
    endpoint: str,
    key: str,
    reader: PageReader,
    columns: Sequence[tuple[str, str]],
    lookups: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> HttpResponse:
    limit = clamp_limit(limit)
    bound = binding(lookups)
    after = None
    if cursor is not None:
        after = decode_cursor(
            cursor, organization_id=organization_id, endpoint=endpoint, filters=bound
        )
    rows = reader(organization_id, filters=lookups, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        # Rows start with id; created_at is the second-to-last column.
        position = Position(created_at=last[-2], id=last[0])
        next_cursor = encode_cursor(
            organization_id=organization_id, endpoint=endpoint, filters=bound, position=position
        )
    body = {
        key: render.records(rows, columns),
        "pagination": {"nextCursor": next_cursor, "limit": limit},
    }
    return json_response(body)
