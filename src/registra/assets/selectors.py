"""Reads for assets, custody and readiness. Every selector takes the organization first."""

from __future__ import annotations

from datetime import datetime

from registra.assets.choices import AssignmentKind, CustodyStatus
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.assets.readiness import Readiness, compute_readiness
from registra.core.errors import NotFound
from registra.organizations.models import Organization


def asset_get(organization: Organization, asset_id: str) -> Asset:
    asset = Asset.objects.filter(organization=organization, id=asset_id).first()
    if asset is None:
        raise NotFound(f"asset {asset_id} not found")
    return asset


def asset_get_by_key(organization: Organization, asset_key: str) -> Asset:
    asset = Asset.objects.filter(organization=organization, asset_key=asset_key).first()
    if asset is None:
        raise NotFound(f"asset {asset_key} not found")
    return asset


def asset_keys_taken(organization: Organization, asset_keys: list[str]) -> set[str]:
    """Which of these asset keys are already registered in the organization."""
    taken: set[str] = set()
    for start in range(0, len(asset_keys), 900):
        taken.update(
            Asset.objects.filter(
                organization=organization, asset_key__in=asset_keys[start : start + 900]
            ).values_list("asset_key", flat=True)
        )
    return taken


def assets_for_update(organization: Organization, asset_ids: list[str]) -> list[Asset]:
    """Lock the given assets of this organization (for bulk updates)."""
    found: list[Asset] = []
    for start in range(0, len(asset_ids), 900):
        found += list(
            Asset.objects.select_for_update().filter(
                organization=organization, id__in=asset_ids[start : start + 900]
            )
        )
    return found


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
