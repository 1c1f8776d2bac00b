"""Asset updates (assetKey immutable) and status transitions (SPEC section 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registra.assets import services
from registra.assets.models import Asset
from registra.core.errors import NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import api_format, now
from tests.assets.services.helpers import REASON
from tests.assets.services.helpers import decommission as _decommission
from tests.assets.services.helpers import responsibility as _responsibility
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues
from tests.cast import make_asset, operator

# --- asset_update ----------------------------------------------------------------------------


def test_asset_update(cast):
    asset = make_asset(cast.org, "TW-001", asset_snapshot={"location": "Bay 3"})
    created_at = asset.created_at
    ra = _responsibility(cast.org)
    mark = _mark(cast.org)

    updated = services.asset_update(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        asset_id=asset.id,
        asset_key="TW-001",  # unchanged key is fine
        display_name="Torque wrench 5-60 Nm",
        description="Moved to bay 4",
        asset_snapshot={"location": "Bay 4"},
        custodian_responsibility_id=ra.id,
    )

    assert updated.id == asset.id
    stored = Asset.objects.get(id=asset.id)
    assert (stored.display_name, stored.description) == ("Torque wrench 5-60 Nm", "Moved to bay 4")
    assert stored.asset_snapshot == {"location": "Bay 4"}
    assert stored.custodian_responsibility_id == ra.id
    assert stored.created_at == created_at
    assert stored.updated_at > created_at
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "asset.updated",
        cast.editor.id,
        REASON,
        asset.id,
    )
    assert event.occurred_at == stored.updated_at
    # Only what changed is in the diff.
    assert event.diff == {
        "before": {
            "displayName": "Tool TW-001",
            "description": "",
            "custodianResponsibilityId": None,
            "assetSnapshot": {"location": "Bay 3"},
        },
        "after": {
            "displayName": "Torque wrench 5-60 Nm",
            "description": "Moved to bay 4",
            "custodianResponsibilityId": ra.id,
            "assetSnapshot": {"location": "Bay 4"},
        },
    }


def test_asset_update_clears_the_custodian(cast):
    ra = _responsibility(cast.org)
    asset = make_asset(cast.org, "TW-001", custodian_responsibility_id=ra.id)
    mark = _mark(cast.org)

    services.asset_update(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        custodian_responsibility_id="",
    )

    assert Asset.objects.get(id=asset.id).custodian_responsibility_id is None
    [event] = _since(cast.org, mark)
    assert event.diff == {
        "before": {"custodianResponsibilityId": ra.id},
        "after": {"custodianResponsibilityId": None},
    }


def test_asset_update_without_a_real_change_writes_no_event(cast):
    asset = make_asset(cast.org, "TW-001")
    updated_at = asset.updated_at
    mark = _mark(cast.org)

    services.asset_update(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        display_name="  Tool TW-001  ",
        asset_kind="calibrated-tool",
    )

    assert Asset.objects.get(id=asset.id).updated_at == updated_at
    assert _since(cast.org, mark) == []


def test_asset_update_refuses_to_change_the_asset_key(cast):
    asset = make_asset(cast.org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.asset_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=asset.id,
            asset_key="TW-002",
            display_name="Renamed at the same time",
        )

    assert exc.value.issues == [{"path": ["assetKey"], "message": "is immutable after creation"}]
    stored = Asset.objects.get(id=asset.id)
    assert (stored.asset_key, stored.display_name) == ("TW-001", "Tool TW-001")
    assert _since(cast.org, mark) == []


def test_asset_update_refuses_a_status_change(cast):
    asset = make_asset(cast.org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.asset_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=asset.id,
            status="inactive",
        )

    assert _issues(exc) == [["status"]]
    assert Asset.objects.get(id=asset.id).status == "active"
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("decommissioned_at", {"decommissioned_at": now()}),
        ("organization_id", {"organization_id": "org_X"}),
        ("displayName", {"display_name": ""}),
        ("displayName", {"display_name": None}),
        ("description", {"description": "d" * 4001}),
        ("assetKind", {"asset_kind": "k" * 65}),
        ("assetSnapshot", {"asset_snapshot": "Bay 4"}),
        ("commissionedAt", {"commissioned_at": now().replace(tzinfo=None)}),
        ("custodianResponsibilityId", {"custodian_responsibility_id": "ra_UNKNOWN"}),
    ],
)
def test_asset_update_names_the_invalid_field(cast, field, changes):
    asset = make_asset(cast.org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.asset_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=asset.id,
            **changes,
        )

    assert _issues(exc) == [[field]]
    stored = Asset.objects.get(id=asset.id)
    assert (stored.display_name, stored.updated_at) == ("Tool TW-001", asset.updated_at)
    assert _since(cast.org, mark) == []


def test_asset_update_refuses_another_organizations_responsibility(cast):
    asset = make_asset(cast.org, "TW-001")
    theirs = _responsibility(cast.other_org)

    with pytest.raises(ValidationFailed) as exc:
        services.asset_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=asset.id,
            custodian_responsibility_id=theirs.id,
        )

    assert _issues(exc) == [["custodianResponsibilityId"]]
    assert Asset.objects.get(id=asset.id).custodian_responsibility_id is None


def test_asset_update_refuses_another_organizations_asset(cast):
    theirs = make_asset(cast.other_org, "TW-001")
    ours, their_mark = _mark(cast.org), _mark(cast.other_org)

    with pytest.raises(NotFound):
        services.asset_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=theirs.id,
            display_name="X",
        )

    assert Asset.objects.get(id=theirs.id).display_name == "Tool TW-001"
    assert _since(cast.org, ours) == [] and _since(cast.other_org, their_mark) == []


def test_asset_update_refuses_a_decommissioned_asset(cast):
    asset = make_asset(cast.org, "TW-001")
    _decommission(cast, asset)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="decommissioned"):
        services.asset_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=asset.id,
            display_name="X",
        )

    assert Asset.objects.get(id=asset.id).display_name == "Tool TW-001"
    assert _since(cast.org, mark) == []


# --- asset_change_status ---------------------------------------------------------------------


def _status(cast, asset, status, actor=None):
    return services.asset_change_status(
        organization=cast.org,
        actor=actor or operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        status=status,
    )


def test_planned_to_active_sets_commissioned_at(cast):
    asset = make_asset(cast.org, "TW-001", status="planned")
    mark = _mark(cast.org)

    changed = _status(cast, asset, "active", actor=cast.actor(cast.editor))

    assert changed.status == "active"
    stored = Asset.objects.get(id=asset.id)
    assert stored.status == "active"
    assert stored.commissioned_at is not None
    assert stored.commissioned_at == stored.updated_at
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "asset.status-changed",
        cast.editor.id,
        REASON,
        asset.id,
    )
    assert event.diff == {
        "before": {"status": "planned", "commissionedAt": None},
        "after": {"status": "active", "commissionedAt": api_format(stored.commissioned_at)},
    }


def test_planned_to_active_keeps_an_earlier_commissioned_at(cast):
    commissioned = now() - timedelta(days=3)
    asset = make_asset(cast.org, "TW-001", status="planned", commissioned_at=commissioned)
    mark = _mark(cast.org)

    _status(cast, asset, "active")

    assert Asset.objects.get(id=asset.id).commissioned_at == commissioned
    [event] = _since(cast.org, mark)
    assert event.diff == {"before": {"status": "planned"}, "after": {"status": "active"}}


def test_active_to_inactive_and_back_keeps_commissioned_at(cast):
    asset = make_asset(cast.org, "TW-001", status="active")
    commissioned = asset.commissioned_at
    mark = _mark(cast.org)

    assert _status(cast, asset, "inactive").status == "inactive"
    assert Asset.objects.get(id=asset.id).status == "inactive"
    assert _status(cast, asset, "active").status == "active"

    stored = Asset.objects.get(id=asset.id)
    assert (stored.status, stored.commissioned_at) == ("active", commissioned)
    assert [(e.action, e.diff) for e in _since(cast.org, mark)] == [
        ("asset.status-changed", {"before": {"status": "active"}, "after": {"status": "inactive"}}),
        ("asset.status-changed", {"before": {"status": "inactive"}, "after": {"status": "active"}}),
    ]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("planned", "planned"),
        ("planned", "inactive"),
        ("active", "active"),
        ("active", "planned"),
        ("inactive", "inactive"),
        ("inactive", "planned"),
    ],
)
def test_illegal_status_transitions_are_refused(cast, start, target):
    asset = make_asset(cast.org, "TW-001", status=start)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable) as exc:
        _status(cast, asset, target)

    assert f"can't go from {start} to {target}" in exc.value.message
    assert "allowed from" in exc.value.message
    assert Asset.objects.get(id=asset.id).status == start
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("target", ["planned", "active", "inactive"])
def test_decommissioned_is_terminal(cast, target):
    asset = make_asset(cast.org, "TW-001")
    _decommission(cast, asset)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable) as exc:
        _status(cast, asset, target)

    assert "terminal" in exc.value.message
    stored = Asset.objects.get(id=asset.id)
    assert stored.status == "decommissioned" and stored.decommissioned_at is not None
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("start", ["planned", "active", "inactive"])
def test_change_status_to_decommissioned_needs_the_decommission_service(cast, start):
    asset = make_asset(cast.org, "TW-001", status=start)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="disposal authorization"):
        _status(cast, asset, "decommissioned")

    assert Asset.objects.get(id=asset.id).status == start
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("status", ["retired", "", None, "ACTIVE"])
def test_change_status_refuses_an_unknown_status(cast, status):
    asset = make_asset(cast.org, "TW-001", status="planned")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _status(cast, asset, status)

    assert _issues(exc) == [["status"]]
    assert "planned, active, inactive, decommissioned" in exc.value.issues[0]["message"]
    assert Asset.objects.get(id=asset.id).status == "planned"
    assert _since(cast.org, mark) == []


def test_change_status_refuses_another_organizations_asset(cast):
    theirs = make_asset(cast.other_org, "TW-001", status="active")

    with pytest.raises(NotFound):
        _status(cast, theirs, "inactive")

    assert Asset.objects.get(id=theirs.id).status == "active"
