"""Shared pieces of the asset, custody and readiness services: audited field views,
single-field rules and lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from registra.assets.choices import (
    AssessmentStatus,
    AssetStatus,
    AssignmentKind,
    ReadinessState,
)
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core import validation
from registra.core.errors import NotFound, Unprocessable, field_error
from registra.core.ids import new_id
from registra.core.queries import first_or_404, rows_in
from registra.organizations.models import Organization, ResponsibilityAssignment

ASSET_KEY_RE = RECORD_KEY_RE = validation.KEY_RE
_KEY_RULE = validation.KEY_RULE
# Allowed values, computed once: the choices classes rebuild their lists on every access,
# which showed up when validating hundreds of thousands of imported rows.
ASSET_STATUSES = tuple(AssetStatus.values)
CREATABLE_STATUSES = (
    AssetStatus.PLANNED.value,
    AssetStatus.ACTIVE.value,
    AssetStatus.INACTIVE.value,
)
ASSIGNMENT_KINDS = tuple(AssignmentKind.values)
READINESS_STATES = tuple(ReadinessState.values)
ASSESSMENT_STATUSES = tuple(AssessmentStatus.values)
UPDATABLE = (
    "asset_kind",
    "display_name",
    "description",
    "source_kind",
    "custodian_responsibility_id",
    "commissioned_at",
    "asset_snapshot",
    "classification_snapshot",
    "source_ref_snapshot",
)


def asset_fields(a: Asset) -> dict[str, Any]:
    """The audited view of an asset (API names, snapshots included)."""
    return {
        "assetKey": a.asset_key,
        "assetKind": a.asset_kind,
        "displayName": a.display_name,
        "description": a.description,
        "sourceKind": a.source_kind,
        "status": a.status,
        "custodianResponsibilityId": a.custodian_responsibility_id,
        "commissionedAt": a.commissioned_at,
        "decommissionedAt": a.decommissioned_at,
        "assetSnapshot": a.asset_snapshot,
        "classificationSnapshot": a.classification_snapshot,
        "sourceRefSnapshot": a.source_ref_snapshot,
    }


def custody_fields(c: CustodyAssignment) -> dict[str, Any]:
    return {
        "assetId": c.asset_id,
        "assignmentKey": c.assignment_key,
        "assignmentKind": c.assignment_kind,
        "subjectResourceId": c.subject_resource_id,
        "status": c.status,
        "startedAt": c.started_at,
        "endedAt": c.ended_at,
        "assignmentSnapshot": c.assignment_snapshot,
    }


def assessment_fields(r: ReadinessAssessment) -> dict[str, Any]:
    return {
        "assetId": r.asset_id,
        "readinessAssessmentKey": r.readiness_assessment_key,
        "assessmentKind": r.assessment_kind,
        "readinessState": r.readiness_state,
        "status": r.status,
        "performedAt": r.performed_at,
        "performedByResponsibilityId": r.performed_by_responsibility_id,
        "validUntil": r.valid_until,
        "postureSnapshot": r.posture_snapshot,
        "evidenceSnapshot": r.evidence_snapshot,
    }


# --- validation ----------------------------------------------------------------------------


def _snapshot(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise field_error(name, "must be a JSON object")
    return dict(value)


def _responsibility(organization: Organization, field: str, ra_id: str | None) -> str | None:
    if ra_id in (None, ""):
        return None
    exists = ResponsibilityAssignment.objects.filter(organization=organization, id=ra_id).exists()
    if not exists:
        raise field_error(field, f"responsibility {ra_id} not found in this organization")
    return ra_id


def _clean_asset_values(values: dict[str, Any]) -> dict[str, Any]:
    """Single-record rules for the updatable fields present in ``values``."""
    v = dict(values)
    rules = {
        "asset_kind": ("assetKind", 1, 64),
        "display_name": ("displayName", 1, 200),
        "description": ("description", 0, 4000),
        "source_kind": ("sourceKind", 1, 64),
    }
    for name, (api_name, lo, hi) in rules.items():
        if name in v:
            v[name] = validation.text(
                api_name, v[name] if v[name] is not None else "", min_len=lo, max_len=hi
            )
    for name, api_name in (
        ("asset_snapshot", "assetSnapshot"),
        ("classification_snapshot", "classificationSnapshot"),
        ("source_ref_snapshot", "sourceRefSnapshot"),
    ):
        if name in v:
            v[name] = _snapshot(api_name, v[name])
    if "commissioned_at" in v:
        validation.aware("commissionedAt", v["commissioned_at"])
    return v


def _build_asset(organization: Organization, spec: Mapping[str, Any], at: datetime) -> Asset:
    key = validation.pattern("assetKey", spec.get("asset_key"), ASSET_KEY_RE, _KEY_RULE, 128)
    status = validation.choice(
        "status",
        spec.get("status", AssetStatus.PLANNED),
        CREATABLE_STATUSES,
    )
    values = _clean_asset_values(
        {
            "asset_kind": spec.get("asset_kind"),
            "display_name": spec.get("display_name"),
            "description": spec.get("description", ""),
            "source_kind": spec.get("source_kind", "manual"),
            "asset_snapshot": spec.get("asset_snapshot"),
            "classification_snapshot": spec.get("classification_snapshot"),
            "source_ref_snapshot": spec.get("source_ref_snapshot"),
            "commissioned_at": spec.get("commissioned_at"),
        }
    )
    if status != AssetStatus.PLANNED and values["commissioned_at"] is None:
        values["commissioned_at"] = at
    created_at = spec.get("created_at") or at
    return Asset(
        id=new_id("asset"),
        organization=organization,
        asset_key=key,
        status=status,
        # An empty column (CSV import, form) means no custodian, not a dangling foreign key.
        custodian_responsibility_id=spec.get("custodian_responsibility_id") or None,
        created_at=created_at,
        updated_at=spec.get("updated_at") or created_at,
        **values,
    )


def _lock_asset(organization: Organization, asset_id: str) -> Asset:
    assets = Asset.objects.filter(organization=organization, id=asset_id)
    return first_or_404(assets, f"asset {asset_id}", lock=True)


# The most assets one bulk action may touch (a web bulk action over a whole filter included):
# enough for a hangar's equipment, small enough for one transaction's row locks.
MAX_BATCH = 10_000


def _lock_batch(organization: Organization, asset_ids: Sequence[str]) -> list[Asset]:
    """A bulk action's assets, locked, in the order given (repeats dropped): 1 to
    ``MAX_BATCH`` of them, every one of this organization (else NotFound naming it)."""
    ids = list(dict.fromkeys(asset_ids))
    if not ids or len(ids) > MAX_BATCH:
        raise field_error("assetIds", f"must name 1 to {MAX_BATCH} assets, got {len(ids)}")
    locked = Asset.objects.select_for_update().filter(organization=organization)
    assets = {a.id: a for a in rows_in(locked, "id", ids)}
    missing = [i for i in ids if i not in assets]
    if missing:
        raise NotFound(f"asset {missing[0]} not found")
    return [assets[i] for i in ids]


def _refuse_decommissioned(assets: Sequence[Asset]) -> None:
    """Nothing is handed over or scheduled for a decommissioned asset: the first one found
    refuses the whole request, named."""
    for asset in assets:
        if asset.status == AssetStatus.DECOMMISSIONED:
            raise Unprocessable(f"asset {asset.asset_key} is decommissioned")


def _asset_statuses(organization: Organization, asset_ids: set[str]) -> dict[str, str]:
    """``{asset id: status}`` for these assets; NotFound if any is not in this organization."""
    assets = Asset.objects.filter(organization=organization).values_list("id", "status")
    statuses: dict[str, str] = dict(rows_in(assets, "id", asset_ids))
    if len(statuses) != len(asset_ids):
        raise NotFound("an asset named in these records was not found in this organization")
    return statuses


def _known_responsibilities(organization: Organization, ids: set[str | None]) -> set[str]:
    """Which of these responsibility ids exist in this organization."""
    known = ResponsibilityAssignment.objects.filter(organization=organization)
    return set(rows_in(known.values_list("id", flat=True), "id", ids - {None, ""}))
