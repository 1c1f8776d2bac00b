"""Reads for assets, custody and readiness. Every selector takes the organization first."""

from __future__ import annotations

from datetime import datetime

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
