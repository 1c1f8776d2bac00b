"""Parameter types and the shared response schemas of the OpenAPI document (the records'
schemas come from their declarations in ``records.py``). Handlers render JSON directly
(orjson) for speed; tests check that real responses match these schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from registra.core.timefmt import parse_timestamp


def _iso_timestamp(value: Any) -> datetime:
    """Timestamp filters are ISO 8601 date-times (``2026-05-25T14:08:33.000Z``); one without an
    offset is UTC, like every timestamp the API returns.

    Pydantic alone would also take unix seconds ("1700000000") and bare dates, and a time whose
    UTC equivalent falls outside years 1-9999 would fail later with a 500: all are refused."""
    if isinstance(value, datetime):
        return value
    return parse_timestamp(value)


Timestamp = Annotated[datetime, BeforeValidator(_iso_timestamp)]


def _no_nul(value: str) -> str:
    # PostgreSQL text can't hold U+0000: such a filter would fail in the database (a 500).
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    return value


FilterText = Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_nul)]
# As long as Member.external_employee_id may be: a longer value can match no member.
EmployeeIdFilter = Annotated[str, StringConstraints(max_length=128), AfterValidator(_no_nul)]


class AssetStatusFilter(StrEnum):
    planned = "planned"
    active = "active"
    inactive = "inactive"
    decommissioned = "decommissioned"


class CustodyStatusFilter(StrEnum):
    active = "active"
    ended = "ended"


class ReadinessStateFilter(StrEnum):
    ready = "ready"
    conditionally_ready = "conditionally-ready"
    not_ready = "not-ready"
    unknown = "unknown"


class PaginationOut(Schema):
    nextCursor: str | None = Field(
        description="Opaque cursor for the next page; null on the last page."
    )
    limit: int = Field(description="The page size used (requests above 200 are clamped).")


class IssueOut(Schema):
    path: list[str | int]
    message: str


class ErrorOut(Schema):
    error: str = Field(
        description="validation, invalid_cursor, unauthenticated, forbidden, not_found, "
        "method_not_allowed, payload_too_large, rate_limited, internal or unavailable"
    )
    message: str
    requestId: str
    issues: list[IssueOut] | None = None


class TokenOut(Schema):
    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(examples=[900])
    scope: str = Field(examples=["assets:read"])


def errors_out(*statuses: int) -> dict[int, type[Schema]]:
    """The error responses of an operation: these statuses, and 500 and 503, which any
    operation may answer (503 when the database or Redis is down)."""
    return {status: ErrorOut for status in (*statuses, 500, 503)}


READ_ERRORS = errors_out(400, 401, 403, 429)
