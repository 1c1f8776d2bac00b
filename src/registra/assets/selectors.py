"""Reads for assets, custody and readiness. Every selector takes the organization first."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model

from registra.assets.choices import AssignmentKind, CustodyStatus
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.assets.readiness import Readiness, compute_readiness
from registra.core import sql
from registra.core.errors import NotFound
from registra.core.queries import first_or_404, rows_in
from registra.organizations.models import Organization

# Columns read for API v1 records, in the order the rows come back (API names beside them).
# The API readers below return rows of these values, timestamps (``*_at``) already the API's text,
# followed by the raw ``created_at`` (an aware datetime) for the keyset position.
ASSET_COLUMNS = (
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
CUSTODY_COLUMNS = (
    ("id", "id"),
    ("asset_id", "assetId"),
    ("assignment_key", "assignmentKey"),
    ("assignment_kind", "assignmentKind"),
    ("subject_module_key", "subjectModuleKey"),
    ("subject_resource_type", "subjectResourceType"),
    ("subject_resource_id", "subjectResourceId"),
    ("status", "status"),
    ("started_at", "startedAt"),
    ("ended_at", "endedAt"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
)
ASSESSMENT_COLUMNS = (
    ("id", "id"),
    ("asset_id", "assetId"),
    ("readiness_assessment_key", "readinessAssessmentKey"),
    ("assessment_kind", "assessmentKind"),
    ("readiness_state", "readinessState"),
    ("status", "status"),
    ("performed_at", "performedAt"),
    ("performed_by_responsibility_id", "performedByResponsibilityId"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
)


@dataclass(frozen=True)
class Position:
    """A keyset position: the last row returned (newest-first order by created_at, id)."""

    created_at: datetime
    id: str


_OPERATORS = {"": "=", "gt": ">"}


@functools.cache
def _select_sql(model: type[Model], columns: tuple[str, ...]) -> str:
    """``SELECT`` of an API reader (see the column lists above) and its ``FROM``."""
    exprs = [
        sql.api_stamp(column) if name.endswith("_at") else column
        for name, column in zip(columns, sql.quoted(model, *columns), strict=True)
    ]
    created = sql.quoted(model, "created_at")[0]
    return f"SELECT {', '.join(exprs)}, {created} FROM {sql.table(model)}"


@functools.cache
def _page_sql(
    model: type[Model], lookups: tuple[str, ...], keyset: bool, columns: tuple[str, ...]
) -> str:
    created, pk, org = sql.quoted(model, "created_at", "id", "organization_id")
    where = [f"{org} = %s"]
    for lookup in lookups:
        name, _, op = lookup.partition("__")
        where.append(f"{sql.quoted(model, name)[0]} {_OPERATORS[op]} %s")
    if keyset:
        # The redundant `created_at <= x` lets both databases seek the index before the OR.
        where.append(f"{created} <= %s AND ({created} < %s OR ({created} = %s AND {pk} < %s))")
    return (
        f"{_select_sql(model, columns)} WHERE {' AND '.join(where)}"
        f" ORDER BY {created} DESC, {pk} DESC LIMIT %s"
    )


def _api_fetch(query: str, params: list[Any], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    stamps = [i for i, name in enumerate(columns) if name.endswith("_at")]
    return sql.fetch(query, params, api_stamps=stamps, datetimes=(len(columns),))


def _page(
    model: type[Model],
    organization_id: str,
    filters: dict[str, Any],
    after: Position | None,
    limit: int,
    columns: Sequence[tuple[str, str]],
) -> list[tuple[Any, ...]]:
    """One keyset page, newest first (created_at, then id), as API reader rows. Hand-written
    SQL (see ``core/sql.py``); ``filters`` are equality or ``__gt`` lookups on the model's
    fields."""
    names = tuple(c for c, _ in columns)
    query = _page_sql(model, tuple(filters), after is not None, names)
    params = [organization_id, *filters.values()]
    if after is not None:
        params += [after.created_at, after.created_at, after.created_at, after.id]
    return _api_fetch(query, [*params, limit], names)


def asset_page(
    organization_id: str, *, filters: dict[str, Any], after: Position | None, limit: int
) -> list[tuple[Any, ...]]:
    """One page of assets, newest first. ``filters`` are model lookups (status, asset_kind,
    created_at__gt, updated_at__gt)."""
    return _page(Asset, organization_id, filters, after, limit, ASSET_COLUMNS)


def custody_page(
    organization_id: str, *, filters: dict[str, Any], after: Position | None, limit: int
) -> list[tuple[Any, ...]]:
    return _page(CustodyAssignment, organization_id, filters, after, limit, CUSTODY_COLUMNS)


def assessment_page(
    organization_id: str, *, filters: dict[str, Any], after: Position | None, limit: int
) -> list[tuple[Any, ...]]:
    return _page(ReadinessAssessment, organization_id, filters, after, limit, ASSESSMENT_COLUMNS)


_ASSET_NAMES = tuple(c for c, _ in ASSET_COLUMNS)


@functools.cache
def _asset_row_sql() -> str:
    org, pk = sql.quoted(Asset, "organization_id", "id")
    return f"{_select_sql(Asset, _ASSET_NAMES)} WHERE {org} = %s AND {pk} = %s"


def asset_row(organization_id: str, asset_id: str) -> tuple[Any, ...]:
    """One asset as an API reader row; NotFound when absent or in another organization."""
    rows = _api_fetch(_asset_row_sql(), [organization_id, asset_id], _ASSET_NAMES)
    if not rows:
        raise NotFound(f"asset {asset_id} not found")
    return rows[0]


def asset_get(organization: Organization, asset_id: str) -> Asset:
    assets = Asset.objects.filter(organization=organization, id=asset_id)
    return first_or_404(assets, f"asset {asset_id}")


def asset_get_by_key(organization: Organization, asset_key: str) -> Asset:
    assets = Asset.objects.filter(organization=organization, asset_key=asset_key)
    return first_or_404(assets, f"asset {asset_key}")


def asset_keys_taken(organization: Organization, asset_keys: list[str]) -> set[str]:
    """Which of these asset keys are already registered in the organization."""
    keys = Asset.objects.filter(organization=organization).values_list("asset_key", flat=True)
    return set(rows_in(keys, "asset_key", asset_keys))


def assets_for_update(organization: Organization, asset_ids: list[str]) -> list[Asset]:
    """Lock the given assets of this organization (for bulk updates)."""
    locked = Asset.objects.select_for_update().filter(organization=organization)
    return list(rows_in(locked, "id", asset_ids))


def active_primary(
    organization: Organization, asset_id: str, *, lock: bool = False
) -> CustodyAssignment | None:
    qs = CustodyAssignment.objects.filter(
        organization=organization,
        asset_id=asset_id,
        status=CustodyStatus.ACTIVE,
        assignment_kind=AssignmentKind.PRIMARY,
    )
    return (qs.select_for_update() if lock else qs).first()


def custody_history(organization: Organization, asset_id: str) -> list[CustodyAssignment]:
    return list(
        CustodyAssignment.objects.filter(organization=organization, asset_id=asset_id).order_by(
            "-started_at", "-id"
        )
    )


def assessment_history(organization: Organization, asset_id: str) -> list[ReadinessAssessment]:
    return list(
        ReadinessAssessment.objects.filter(organization=organization, asset_id=asset_id).order_by(
            "-created_at", "-id"
        )
    )


def asset_readiness(organization: Organization, asset: Asset, *, at: datetime) -> Readiness:
    """The asset's computed readiness at ``at``, with reasons."""
    requirements = organization.readiness_requirements or {}
    required = requirements.get(asset.asset_kind, [])
    assessments = (
        ReadinessAssessment.objects.filter(
            organization=organization, asset_id=asset.id, assessment_kind__in=required
        )
        if required
        else ReadinessAssessment.objects.none()
    )
    return compute_readiness(
        asset_status=asset.status,
        asset_kind=asset.asset_kind,
        requirements=requirements,
        assessments=assessments,
        at=at,
    )
