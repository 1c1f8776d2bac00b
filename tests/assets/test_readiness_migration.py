"""Migration assets 0003 fills the stored readiness's new copies of each asset's kind, status and
holder (its active primary custody) for the rows written before it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.migrating import migrate, migrate_to_latest

BEFORE = [("assets", "0002_asset_readiness"), ("organizations", "0003_due_soon_days")]
T = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def old_apps(transactional_db: None) -> Iterator[Any]:
    """The schema as it was before 0003; the full schema is back afterwards, pass or fail."""
    try:
        yield migrate(BEFORE)
    finally:
        migrate_to_latest()


def _asset(apps: Any, org: Any, key: str, kind: str, status: str) -> Any:
    Asset = apps.get_model("assets", "Asset")
    asset = Asset.objects.create(
        id=f"asset_{key}",
        organization=org,
        asset_key=key,
        asset_kind=kind,
        display_name=key,
        status=status,
        decommissioned_at=T if status == "decommissioned" else None,
        created_at=T,
        updated_at=T,
    )
    apps.get_model("assets", "AssetReadiness").objects.create(
        asset=asset, organization=org, state="not-ready", reasons=[status], computed_at=T
    )
    return asset


def _custody(apps: Any, asset: Any, holder: str, *, kind: str, status: str) -> None:
    apps.get_model("assets", "CustodyAssignment").objects.create(
        id=f"ascust_{asset.asset_key}_{holder}_{kind}",
        organization_id=asset.organization_id,
        asset=asset,
        assignment_key=f"{asset.asset_key}-{holder}-{kind}",
        assignment_kind=kind,
        subject_module_key="membership",
        subject_resource_type="member-user",
        subject_resource_id=holder,
        status=status,
        started_at=T,
        ended_at=None if status == "active" else T,
        created_at=T,
        updated_at=T,
    )


def test_0003_copies_each_assets_kind_status_and_holder(old_apps: Any) -> None:
    org = old_apps.get_model("organizations", "Organization").objects.create(
        id="org_01HZZZZZZZZZZZZZZZZZZZZZZM", slug="mig", name="Mig", created_at=T, updated_at=T
    )
    held = _asset(old_apps, org, "TW-1", "calibrated-tool", "active")
    _custody(old_apps, held, "user_B", kind="primary", status="active")
    _custody(old_apps, held, "user_A", kind="primary", status="ended")  # an earlier holder
    _custody(old_apps, held, "user_C", kind="secondary", status="active")  # not the holder
    free = _asset(old_apps, org, "TUG-1", "vehicle", "inactive")
    _custody(old_apps, free, "user_A", kind="primary", status="ended")

    apps = migrate([("assets", "0003_readiness_dashboard")])
    stored = apps.get_model("assets", "AssetReadiness").objects.order_by("asset_id")
    assert [(r.asset_id, r.asset_kind, r.status, r.holder_id) for r in stored] == [
        ("asset_TUG-1", "vehicle", "inactive", None),
        ("asset_TW-1", "calibrated-tool", "active", "user_B"),
    ]
