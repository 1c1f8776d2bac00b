"""``/api/v1/assets`` and its custody, custody holder and readiness sub-collections
(read-only)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from registra.api.v1 import readers
from registra.api.v1.auth import BearerScope
from registra.api.v1.errors import json_response
from registra.api.v1.listing import (
    ASSESSMENTS,
    ASSETS,
    CUSTODY_ASSIGNMENTS,
    CUSTODY_HOLDERS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListSpec,
    page_response,
)
from registra.api.v1.records import (
    ASSET,
    AssetListOut,
    AssetOneOut,
    CustodyHolderListOut,
    CustodyListOut,
    ReadinessListOut,
)
from registra.api.v1.schemas import (
    READ_ERRORS,
    AssetStatusFilter,
    CustodyStatusFilter,
    EmployeeIdFilter,
    FilterText,
    ReadinessStateFilter,
    Timestamp,
    errors_out,
)
from registra.core.errors import NotFound
from registra.core.ids import is_id
from registra.organizations.selectors import TokenContext

SCOPE = "assets:read"
router = Router(tags=["assets"], auth=BearerScope(SCOPE))

LIMIT = Query(
    DEFAULT_LIMIT,
    ge=1,
    description=f"Page size, 1-{MAX_LIMIT} (larger values are clamped to {MAX_LIMIT}).",
)
CURSOR = Query(
    None,
    min_length=1,
    description="The nextCursor of the previous page, with the same filters.",
)
CREATED_AFTER = Query(None, description="Only records created after this timestamp.")
UPDATED_AFTER = Query(None, description="Only records updated after this timestamp.")
ASSET_KIND = Query(None, description="Only assets of this kind.")
ASSET_ID = Query(None, description="Only records of this asset.")
EXTERNAL_EMPLOYEE_ID = Query(None, description="Only the holder with this external employee id.")


def _list(
    spec: ListSpec, request: HttpRequest, limit: int, cursor: str | None, **params: Any
) -> HttpResponse:
    """A page of one of the lists; the view signatures declare its parameters for ninja."""
    ctx: TokenContext = request.auth  # type: ignore[attr-defined]  # set by BearerScope
    return page_response(
        spec, organization_id=ctx.organization_id, params=params, limit=limit, cursor=cursor
    )


@router.get("/assets", response={200: AssetListOut, **READ_ERRORS}, summary="List assets")
def list_assets(
    request: HttpRequest,
    status: AssetStatusFilter | None = None,
    assetKind: FilterText | None = ASSET_KIND,
    createdAfter: Timestamp | None = CREATED_AFTER,
    updatedAfter: Timestamp | None = UPDATED_AFTER,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
) -> HttpResponse:
    """Assets newest first (creation time, then id), keyset-paginated."""
    return _list(
        ASSETS,
        request,
        limit,
        cursor,
        status=status,
        assetKind=assetKind,
        createdAfter=createdAfter,
        updatedAfter=updatedAfter,
    )


@router.get(
    "/assets/custody-assignments",
    response={200: CustodyListOut, **READ_ERRORS},
    summary="List custody assignments",
)
def list_custody_assignments(
    request: HttpRequest,
    assetId: FilterText | None = ASSET_ID,
    status: CustodyStatusFilter | None = None,
    createdAfter: Timestamp | None = CREATED_AFTER,
    updatedAfter: Timestamp | None = UPDATED_AFTER,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
) -> HttpResponse:
    """Custody assignments newest first; filter to one asset with ``assetId``."""
    return _list(
        CUSTODY_ASSIGNMENTS,
        request,
        limit,
        cursor,
        assetId=assetId,
        status=status,
        createdAfter=createdAfter,
        updatedAfter=updatedAfter,
    )


@router.get(
    "/assets/custody-holders",
    response={200: CustodyHolderListOut, **READ_ERRORS},
    summary="List custody holders",
)
def list_custody_holders(
    request: HttpRequest,
    externalEmployeeId: EmployeeIdFilter | None = EXTERNAL_EMPLOYEE_ID,
    createdAfter: Timestamp | None = CREATED_AFTER,
    updatedAfter: Timestamp | None = UPDATED_AFTER,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
) -> HttpResponse:
    """Members with an external employee id (revoked ones aside), newest first: each one's id,
    as custody names its holder (``subjectResourceId``), with that external id and nothing else
    of the person, so a client can match the CMMS's custody holders to the register's."""
    return _list(
        CUSTODY_HOLDERS,
        request,
        limit,
        cursor,
        externalEmployeeId=externalEmployeeId,
        createdAfter=createdAfter,
        updatedAfter=updatedAfter,
    )


@router.get(
    "/assets/readiness-assessments",
    response={200: ReadinessListOut, **READ_ERRORS},
    summary="List readiness assessments",
)
def list_readiness_assessments(
    request: HttpRequest,
    assetId: FilterText | None = ASSET_ID,
    readinessState: ReadinessStateFilter | None = None,
    createdAfter: Timestamp | None = CREATED_AFTER,
    updatedAfter: Timestamp | None = UPDATED_AFTER,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
) -> HttpResponse:
    """Readiness assessments newest first; filter by asset or readiness state."""
    return _list(
        ASSESSMENTS,
        request,
        limit,
        cursor,
        assetId=assetId,
        readinessState=readinessState,
        createdAfter=createdAfter,
        updatedAfter=updatedAfter,
    )


@router.get(
    "/assets/{assetId}",
    response={200: AssetOneOut, **errors_out(400, 401, 403, 404, 429)},
    summary="Get one asset",
)
def get_asset(request: HttpRequest, assetId: str) -> HttpResponse:
    """One asset; 404 when it does not exist or belongs to another organization."""
    ctx: TokenContext = request.auth  # type: ignore[attr-defined]  # set by BearerScope
    if not is_id(assetId, "asset"):
        # Malformed ids (control characters included) can't exist: no database round trip.
        raise NotFound(f"asset {assetId} not found")
    row = readers.asset(ctx.organization_id, assetId)
    return json_response({"asset": readers.as_records(ASSET, [row])[0]})
