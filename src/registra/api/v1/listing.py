"""Shared list mechanics: the three list endpoints as data, limit clamping, filter binding,
keyset pages and the next cursor. The ninja views and the hot path (``hotpath.py``) both serve
lists through ``page_body``, so a page is built one way whichever path serves it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from django.http import HttpResponse

from registra.api.v1 import render
from registra.api.v1.errors import json_response
from registra.api.v1.pagination import decode_cursor, encode_cursor
from registra.api.v1.schemas import (
    AssetStatusFilter,
    CustodyStatusFilter,
    FilterText,
    ReadinessStateFilter,
    Timestamp,
)
from registra.assets import selectors
from registra.assets.selectors import Position
from registra.core.errors import field_error
from registra.core.timefmt import to_micros

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
PageReader = Callable[..., list[tuple[Any, ...]]]


@dataclass(frozen=True)
class ListSpec:
    """One list endpoint: its cursor binding name, response key, reader and columns, and its
    filters as (query parameter, model lookup, parameter type)."""

    path: str
    endpoint: str
    key: str
    reader: PageReader
    columns: Sequence[tuple[str, str]]
    filters: tuple[tuple[str, str, Any], ...]


_TIMES = (
    ("createdAfter", "created_at__gt", Timestamp),
    ("updatedAfter", "updated_at__gt", Timestamp),
)
ASSETS = ListSpec(
    path="/api/v1/assets",
    endpoint="assets",
    key="assets",
    reader=selectors.asset_page,
    columns=selectors.ASSET_COLUMNS,
    filters=(
        ("status", "status", AssetStatusFilter),
        ("assetKind", "asset_kind", FilterText),
        *_TIMES,
    ),
)
CUSTODY = ListSpec(
    path="/api/v1/assets/custody-assignments",
    endpoint="custody-assignments",
    key="custodyAssignments",
    reader=selectors.custody_page,
    columns=selectors.CUSTODY_COLUMNS,
    filters=(
        ("assetId", "asset_id", FilterText),
        ("status", "status", CustodyStatusFilter),
        *_TIMES,
    ),
)
ASSESSMENTS = ListSpec(
    path="/api/v1/assets/readiness-assessments",
    endpoint="readiness-assessments",
    key="readinessAssessments",
    reader=selectors.assessment_page,
    columns=selectors.ASSESSMENT_COLUMNS,
    filters=(
        ("assetId", "asset_id", FilterText),
        ("readinessState", "readiness_state", ReadinessStateFilter),
        *_TIMES,
    ),
)
LISTS = (ASSETS, CUSTODY, ASSESSMENTS)


def clamp_limit(limit: int) -> int:
    if limit < 1:
        raise field_error("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return min(limit, MAX_LIMIT)


def _lookup_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        # A timestamp without an offset is taken as UTC, like every timestamp the API returns.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def lookups(spec: ListSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The model lookups for the validated query parameters that were given."""
    return {
        lookup: _lookup_value(params[name])
        for name, lookup, _ in spec.filters
        if params.get(name) is not None
    }


def binding(lookups: dict[str, Any]) -> dict[str, Any]:
    """The filters as a cursor binds them (timestamps exact to the microsecond)."""
    return {k: to_micros(v) if isinstance(v, datetime) else v for k, v in lookups.items()}


def page_body(
    spec: ListSpec,
    *,
    organization_id: str,
    params: Mapping[str, Any],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """One page of a list as its JSON body; ``InvalidCursor`` or a validation error on bad
    input."""
    limit = clamp_limit(limit)
    filters = lookups(spec, params)
    bound = binding(filters)
    after = None
    if cursor is not None:
        after = decode_cursor(
            cursor, organization_id=organization_id, endpoint=spec.endpoint, filters=bound
        )
    rows = spec.reader(organization_id, filters=filters, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        # Reader rows start with the id and end with the raw created_at.
        position = Position(created_at=last[-1], id=last[0])
        next_cursor = encode_cursor(
            organization_id=organization_id,
            endpoint=spec.endpoint,
            filters=bound,
            position=position,
        )
    return {
        spec.key: render.records(rows, spec.columns),
        "pagination": {"nextCursor": next_cursor, "limit": limit},
    }


def page_response(
    spec: ListSpec,
    *,
    organization_id: str,
    params: Mapping[str, Any],
    limit: int,
    cursor: str | None,
) -> HttpResponse:
    return json_response(
        page_body(spec, organization_id=organization_id, params=params, limit=limit, cursor=cursor)
    )
