"""Reads for assets, custody and readiness. Every selector takes the organization first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from registra.assets.choices import AssignmentKind, CustodyStatus
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.assets.readiness import Readiness, compute_readiness
from registra.core.queries import first_or_404, rows_in
from registra.organizations.models import Organization


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


def active_custody(organization: Organization, asset_id: str) -> list[CustodyAssignment]:
    """The asset's active custody assignments (every kind), oldest first: what decommissioning
    it would end."""
    return list(
        CustodyAssignment.objects.filter(
            organization=organization, asset_id=asset_id, status=CustodyStatus.ACTIVE
        ).order_by("started_at", "id")
    )


def custody_assignment_get(
    organization: Organization, asset_id: str, custody_id: str
) -> CustodyAssignment:
    """One custody assignment of this asset; NotFound otherwise."""
    found = CustodyAssignment.objects.filter(
        organization=organization, asset_id=asset_id, id=custody_id
    )
    return first_or_404(found, f"custody assignment {custody_id}")


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


# --- the register list (web UI): filters, sorts, keyset pages, the export's rows ------------

# Sort name -> model field. Every page is ordered by the field, then the id, in one direction,
# so a keyset position is (the field's value, id).
REGISTER_SORTS = {
    "key": "asset_key",
    "name": "display_name",
    "kind": "asset_kind",
    "status": "status",
    "source": "source_kind",
    "created": "created_at",
    "updated": "updated_at",
}
REGISTER_COLUMNS = (
    "id",
    "asset_key",
    "display_name",
    "asset_kind",
    "status",
    "source_kind",
    "description",
    "commissioned_at",
    "decommissioned_at",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class RegisterFilter:
    """What the register list shows: a search and equality filters (empty means any)."""

    search: str = ""
    status: str = ""
    kind: str = ""
    source: str = ""


@dataclass(frozen=True)
class RegisterSort:
    """A sort column (a key of ``REGISTER_SORTS``) and its direction."""

    column: str = "key"
    descending: bool = False

    @property
    def field(self) -> str:
        return REGISTER_SORTS[self.column]

    def order(self) -> tuple[str, str]:
        sign = "-" if self.descending else ""
        return f"{sign}{self.field}", f"{sign}id"


def register_assets(organization: Organization, flt: RegisterFilter) -> QuerySet[Asset]:
    """The organization's assets that match the filter (unordered)."""
    assets = Asset.objects.filter(organization=organization)
    if flt.search:
        s = flt.search
        assets = assets.filter(
            Q(asset_key__icontains=s)
            | Q(display_name__icontains=s)
            | Q(description__icontains=s)
            | Q(asset_snapshot__serialNumber__icontains=s)
        )
    for field, value in (
        ("status", flt.status),
        ("asset_kind", flt.kind),
        ("source_kind", flt.source),
    ):
        if value:
            assets = assets.filter(**{field: value})
    return assets


def register_page(
    organization: Organization,
    flt: RegisterFilter,
    sort: RegisterSort,
    *,
    after: tuple[Any, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[Any, str] | None]:
    """One keyset page of the register list and the position after it (None at the end)."""
    assets = register_assets(organization, flt)
    if after is not None:
        value, last_id = after
        op = "lt" if sort.descending else "gt"
        assets = assets.filter(
            Q(**{f"{sort.field}__{op}": value}) | Q(**{sort.field: value, f"id__{op}": last_id})
        )
    rows = list(assets.order_by(*sort.order()).values(*REGISTER_COLUMNS)[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1][sort.field], rows[-1]["id"])


def register_asset_ids(organization: Organization, flt: RegisterFilter, *, limit: int) -> list[str]:
    """The ids of the first ``limit`` assets matching the filter (a bulk action's batch)."""
    ids = register_assets(organization, flt).order_by("id").values_list("id", flat=True)
    return list(ids[:limit])


def register_export_rows(
    organization: Organization, flt: RegisterFilter, sort: RegisterSort
) -> Iterator[tuple[Any, ...]]:
    """Every matching asset as a tuple of ``REGISTER_COLUMNS``, streamed from the database in
    chunks (a million rows never sit in memory at once)."""
    assets = register_assets(organization, flt).order_by(*sort.order())
    return assets.values_list(*REGISTER_COLUMNS).iterator(chunk_size=2000)


def register_kinds(organization: Organization) -> list[str]:
    """The asset kinds in use, for the kind filter."""
    kinds = Asset.objects.filter(organization=organization).values_list("asset_kind", flat=True)
    return sorted(set(kinds.distinct()))
