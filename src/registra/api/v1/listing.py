"""List mechanics: the list endpoints as data, limit clamping, filter binding, keyset
pages and the next cursor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from django.http import HttpResponse

from registra.api.v1 import readers
from registra.api.v1.errors import json_response
from registra.api.v1.pagination import decode_cursor, encode_cursor
from registra.api.v1.readers import Position
from registra.api.v1.records import ASSESSMENT, ASSET, CUSTODY, CUSTODY_HOLDER, Record
from registra.core.timefmt import to_micros
from registra.organizations.choices import MembershipStatus

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


@dataclass(frozen=True)
class ListSpec:
    """One list endpoint: its cursor binding name, response key and record, and its filters
    as (query parameter, model lookup); the view's signature declares their types.

    ``where`` is the list's fixed condition, (model lookup, value) pairs every page has besides
    the organization: the filters narrow it. A cursor binds the filters, not ``where``: the
    endpoint it is bound to stands for it."""

    endpoint: str
    key: str
    record: Record
    filters: tuple[tuple[str, str], ...]
    where: tuple[tuple[str, Any], ...] = ()


_TIMES = (("createdAfter", "created_at__gt"), ("updatedAfter", "updated_at__gt"))
ASSETS = ListSpec(
    endpoint="assets",
    key="assets",
    record=ASSET,
    filters=(("status", "status"), ("assetKind", "asset_kind"), *_TIMES),
)
CUSTODY_ASSIGNMENTS = ListSpec(
    endpoint="custody-assignments",
    key="custodyAssignments",
    record=CUSTODY,
    filters=(("assetId", "asset_id"), ("status", "status"), *_TIMES),
)
ASSESSMENTS = ListSpec(
    endpoint="readiness-assessments",
    key="readinessAssessments",
    record=ASSESSMENT,
    filters=(("assetId", "asset_id"), ("readinessState", "readiness_state"), *_TIMES),
)
CUSTODY_HOLDERS = ListSpec(
    endpoint="custody-holders",
    key="custodyHolders",
    record=CUSTODY_HOLDER,
    filters=(("externalEmployeeId", "external_employee_id"), *_TIMES),
    # The condition of the unique constraint member_org_extid_uniq, so an external id names at
    # most one holder (a test keeps the two the same).
    where=(
        ("external_employee_id__ne", ""),
        ("status__ne", MembershipStatus.REVOKED.value),
    ),
)


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
        for name, lookup in spec.filters
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
    limit = min(limit, MAX_LIMIT)  # the view refuses a limit below 1
    filters = lookups(spec, params)
    bound = binding(filters)
    after = None
    if cursor is not None:
        after = decode_cursor(
            cursor, organization_id=organization_id, endpoint=spec.endpoint, filters=bound
        )
    rows = readers.page(
        spec.record,
        organization_id,
        where=spec.where,
        filters=filters,
        after=after,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        # Page rows start with the id and end with the raw created_at.
        position = Position(created_at=last[-1], id=last[0])
        next_cursor = encode_cursor(
            organization_id=organization_id,
            endpoint=spec.endpoint,
            filters=bound,
            position=position,
        )
    return {
        spec.key: readers.as_records(spec.record, rows),
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
