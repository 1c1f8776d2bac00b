"""Assets (SPEC section 3): create, update (assetKey immutable), status transitions,
decommissioning with a disposal authorization, and the bulk variants used by the importer.

Each test checks what the service returns, the rows it leaves, and the audit events it wrote;
each refused case must change nothing and audit nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from registra.assets import services
from registra.assets.models import Asset, CustodyAssignment
from registra.core.audit import verify_chain
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import api_format, now
from registra.organizations import services as org_services
from tests.cast import OPERATOR_ID, make_asset, operator
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues

REASON = "Register maintenance by quality team"


def _create(cast, **spec):
    values = {"asset_key": "TW-001", "asset_kind": "calibrated-tool", "display_name": "Wrench"}
    values.update(spec)
    return services.asset_create(
        organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, **values
    )


def _responsibility(org, key="toolbox-A"):
    return org_services.responsibility_assign(
        organization=org,
        actor=operator(org),
        reason=REASON,
        responsibility_key=key,
        title=f"Custodian of {key}",
        holder_id=None,
    )


# --- asset_create ----------------------------------------------------------------------------


def test_asset_create(cast):
    ra = _responsibility(cast.org)
    mark = _mark(cast.org)

    asset = _create(
        cast,
        asset_key="TW-001",
        display_name="Torque wrench 5-60 Nm",
        description="Bay 3 toolbox",
        source_kind="cmms-import",
        status="active",
        custodian_responsibility_id=ra.id,
        asset_snapshot={"manufacturer": "Norbar", "serialNumber": "N-7781"},
        classification_snapshot={"criticality": "high"},
    )

    assert asset.id.startswith("asset_")
    stored = Asset.objects.get(id=asset.id)
    assert stored.organization_id == cast.org.id
    assert (stored.asset_key, stored.asset_kind, stored.display_name) == (
        "TW-001",
        "calibrated-tool",
        "Torque wrench 5-60 Nm",
    )
    assert (stored.description, stored.source_kind, stored.status) == (
        "Bay 3 toolbox",
        "cmms-import",
        "active",
    )
    assert stored.custodian_responsibility_id == ra.id
    assert stored.asset_snapshot == {"manufacturer": "Norbar", "serialNumber": "N-7781"}
    assert stored.source_ref_snapshot == {}
    # Created active: commissioned at creation; never decommissioned.
    assert stored.commissioned_at == stored.created_at == stored.updated_at
    assert stored.decommissioned_at is None
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "asset.created",
        cast.editor.id,
        REASON,
    )
    assert (event.subject_type, event.subject_id) == ("asset", asset.id)
    assert event.occurred_at == stored.created_at
    assert event.diff == {
        "before": None,
        "after": {
            "assetKey": "TW-001",
            "assetKind": "calibrated-tool",
            "displayName": "Torque wrench 5-60 Nm",
            "description": "Bay 3 toolbox",
            "sourceKind": "cmms-import",
            "status": "active",
            "custodianResponsibilityId": ra.id,
            "commissionedAt": api_format(stored.commissioned_at),
            "decommissionedAt": None,
            "assetSnapshot": {"manufacturer": "Norbar", "serialNumber": "N-7781"},
            "classificationSnapshot": {"criticality": "high"},
            "sourceRefSnapshot": {},
        },
    }


def test_asset_create_defaults_to_planned_and_manual(cast):
    asset = _create(cast)

    stored = Asset.objects.get(id=asset.id)
    assert (stored.status, stored.source_kind, stored.description) == ("planned", "manual", "")
    assert stored.commissioned_at is None
    assert stored.custodian_responsibility_id is None


def test_asset_create_inactive_is_commissioned(cast):
    asset = _create(cast, status="inactive")

    assert Asset.objects.get(id=asset.id).commissioned_at == asset.created_at


def test_asset_create_keeps_a_given_commissioning_date(cast):
    commissioned = now() - timedelta(days=400)

    asset = _create(cast, status="active", commissioned_at=commissioned)

    assert Asset.objects.get(id=asset.id).commissioned_at == commissioned
    assert _since(cast.org, _mark(cast.org) - 1)[0].diff["after"]["commissionedAt"] == api_format(
        commissioned
    )


def test_asset_create_treats_an_empty_custodian_as_none(cast):
    asset = _create(cast, custodian_responsibility_id="")

    assert asset.custodian_responsibility_id is None
    assert Asset.objects.get(id=asset.id).custodian_responsibility_id is None
    assert (
        _since(cast.org, _mark(cast.org) - 1)[0].diff["after"]["custodianResponsibilityId"] is None
    )


@pytest.mark.parametrize("key", ["A", "7", "TW-001", "tw.001:rev_2", "x" * 128])
def test_asset_create_accepts_valid_keys(cast, key):
    asset = _create(cast, asset_key=key)

    assert Asset.objects.get(id=asset.id).asset_key == key


def test_asset_keys_may_repeat_across_organizations(cast):
    ours = _create(cast, asset_key="TW-001")
    theirs = services.asset_create(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        asset_key="TW-001",
        asset_kind="calibrated-tool",
        display_name="Their wrench",
    )

    assert ours.id != theirs.id
    assert Asset.objects.filter(asset_key="TW-001").count() == 2
    assert _since(cast.other_org, 0)[-1].subject_id == theirs.id


def test_asset_create_refuses_a_taken_key(cast):
    _create(cast, asset_key="TW-001")
    mark = _mark(cast.org)

    with pytest.raises(Conflict, match="TW-001"):
        _create(cast, asset_key="TW-001", display_name="Second wrench")

    assert Asset.objects.filter(organization=cast.org).count() == 1
    assert _since(cast.org, mark) == []


def test_the_database_refuses_a_taken_key(cast):
    asset = _create(cast, asset_key="TW-001")

    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.create(
            organization=cast.org,
            asset_key="TW-001",
            asset_kind="x",
            display_name="x",
            status="planned",
            created_at=asset.created_at,
            updated_at=asset.created_at,
        )


@pytest.mark.parametrize(
    ("field", "spec"),
    [
        ("assetKey", {"asset_key": ""}),
        ("assetKey", {"asset_key": None}),
        ("assetKey", {"asset_key": "-TW"}),
        ("assetKey", {"asset_key": ".TW"}),
        ("assetKey", {"asset_key": "TW 001"}),
        ("assetKey", {"asset_key": "TW/001"}),
        ("assetKey", {"asset_key": "Prüf-1"}),
        ("assetKey", {"asset_key": "x" * 129}),
        ("assetKind", {"asset_kind": ""}),
        ("assetKind", {"asset_kind": None}),
        ("assetKind", {"asset_kind": "k" * 65}),
        ("displayName", {"display_name": "   "}),
        ("displayName", {"display_name": "d" * 201}),
        ("description", {"description": "d" * 4001}),
        ("sourceKind", {"source_kind": ""}),
        ("sourceKind", {"source_kind": "s" * 65}),
        ("status", {"status": "decommissioned"}),
        ("status", {"status": "retired"}),
        ("assetSnapshot", {"asset_snapshot": ["not", "an", "object"]}),
        ("classificationSnapshot", {"classification_snapshot": "high"}),
        ("sourceRefSnapshot", {"source_ref_snapshot": 42}),
        ("commissionedAt", {"commissioned_at": now().replace(tzinfo=None)}),
        ("custodianResponsibilityId", {"custodian_responsibility_id": "ra_UNKNOWN"}),
        ("reason", {"reason": "short"}),
    ],
)
def test_asset_create_names_the_invalid_field(cast, field, spec):
    mark = _mark(cast.org)
    values = {"asset_key": "TW-001", "asset_kind": "calibrated-tool", "display_name": "Wrench"}
    values.update(spec)
    reason = values.pop("reason", REASON)

    with pytest.raises(ValidationFailed) as exc:
        services.asset_create(
            organization=cast.org, actor=operator(cast.org), reason=reason, **values
        )

    assert _issues(exc) == [[field]]
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert _since(cast.org, mark) == []


def test_asset_create_refuses_another_organizations_responsibility(cast):
    theirs = _responsibility(cast.other_org)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _create(cast, custodian_responsibility_id=theirs.id)

    assert _issues(exc) == [["custodianResponsibilityId"]]
    assert not Asset.objects.exists()
    assert _since(cast.org, mark) == []


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


# --- asset_decommission ----------------------------------------------------------------------


def _decommission(cast, asset, actor=None, authorization="DA-2026-0042", **kwargs):
    return services.asset_decommission(
        organization=cast.org,
        actor=actor or operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization=authorization,
        **kwargs,
    )


def _custody(cast, asset, member, kind="primary", key=None):
    return services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        member_id=member.id,
        assignment_kind=kind,
        assignment_key=key,
    )


@pytest.mark.parametrize("start", ["planned", "active", "inactive"])
def test_decommission_from_every_non_terminal_status(cast, start):
    asset = make_asset(cast.org, "TW-001", status=start)
    mark = _mark(cast.org)

    result = _decommission(cast, asset, actor=cast.actor(cast.admin))

    assert result.status == "decommissioned"
    stored = Asset.objects.get(id=asset.id)
    assert stored.status == "decommissioned"
    assert stored.decommissioned_at is not None
    assert stored.decommissioned_at == stored.updated_at
    assert stored.disposal_authorization == "DA-2026-0042"
    assert stored.decommissioned_by_id == cast.admin.id
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "asset.decommissioned",
        cast.admin.id,
        REASON,
        asset.id,
    )
    assert event.diff == {
        "before": {"status": start, "decommissionedAt": None},
        "after": {
            "status": "decommissioned",
            "decommissionedAt": api_format(stored.decommissioned_at),
        },
        "disposalAuthorization": "DA-2026-0042",
    }


def test_decommission_ends_every_active_custody_at_the_same_instant(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    other = make_asset(cast.org, "TW-002", asset_kind="vehicle")
    returned = _custody(cast, asset, cast.viewer, kind="loan", key="loan-1")
    services.custody_end(
        organization=cast.org, actor=operator(cast.org), reason=REASON, assignment_id=returned.id
    )
    primary = _custody(cast, asset, cast.technician)
    secondary = _custody(cast, asset, cast.editor, kind="secondary")
    loan = _custody(cast, asset, cast.auditor, kind="loan")
    elsewhere = _custody(cast, other, cast.technician)
    ended_before = CustodyAssignment.objects.get(id=returned.id).ended_at
    mark = _mark(cast.org)

    _decommission(cast, asset)

    stored = Asset.objects.get(id=asset.id)
    live = [primary, secondary, loan]
    rows = {c.id: c for c in CustodyAssignment.objects.filter(asset=asset)}
    for c in live:
        assert rows[c.id].status == "ended"
        assert rows[c.id].ended_at == stored.decommissioned_at
    assert rows[returned.id].ended_at == ended_before
    assert not CustodyAssignment.objects.filter(asset=asset, status="active").exists()
    assert CustodyAssignment.objects.get(id=elsewhere.id).status == "active"
    events = _since(cast.org, mark)
    assert [e.action for e in events] == ["asset.decommissioned"] + ["custody.ended"] * 3
    assert {e.subject_id for e in events[1:]} == {c.id for c in live}
    assert {e.occurred_at for e in events} == {stored.updated_at}
    assert {(e.actor_id, e.reason) for e in events} == {(OPERATOR_ID, REASON)}
    for e in events[1:]:
        assert e.diff == {
            "before": {"status": "active", "endedAt": None},
            "after": {"status": "ended", "endedAt": api_format(stored.decommissioned_at)},
        }
    assert verify_chain(cast.org.id).ok


def test_decommission_on_a_recorded_date(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    primary = services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        member_id=cast.technician.id,
        started_at=now() - timedelta(days=10),
    )
    when = now() - timedelta(days=2)

    result = _decommission(cast, asset, decommissioned_at=when)

    assert result.decommissioned_at == when
    assert Asset.objects.get(id=asset.id).decommissioned_at == when
    assert CustodyAssignment.objects.get(id=primary.id).ended_at == when


def test_decommission_refuses_a_date_before_an_active_custody_started(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    primary = _custody(cast, asset, cast.technician)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _decommission(cast, asset, decommissioned_at=primary.started_at - timedelta(days=1))

    assert _issues(exc) == [["decommissionedAt"]]
    assert Asset.objects.get(id=asset.id).status == "active"
    assert CustodyAssignment.objects.get(id=primary.id).status == "active"
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    "when",
    [now().replace(tzinfo=None), now() + timedelta(days=1)],
    ids=["naive", "future"],
)
def test_decommission_refuses_a_naive_or_future_date(cast, when):
    asset = make_asset(cast.org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _decommission(cast, asset, decommissioned_at=when)

    assert _issues(exc) == [["decommissionedAt"]]
    assert Asset.objects.get(id=asset.id).status == "active"
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("authorization", ["", "   ", None, "a" * 501])
def test_decommission_needs_a_disposal_authorization(cast, authorization):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    primary = _custody(cast, asset, cast.technician)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _decommission(cast, asset, authorization=authorization)

    assert _issues(exc) == [["disposalAuthorization"]]
    stored = Asset.objects.get(id=asset.id)
    assert (stored.status, stored.decommissioned_at, stored.disposal_authorization) == (
        "active",
        None,
        "",
    )
    assert CustodyAssignment.objects.get(id=primary.id).status == "active"
    assert _since(cast.org, mark) == []


def test_decommission_twice_is_refused(cast):
    asset = make_asset(cast.org, "TW-001")
    first = _decommission(cast, asset)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="can't go from decommissioned"):
        _decommission(cast, asset, authorization="DA-2026-9999")

    stored = Asset.objects.get(id=asset.id)
    assert stored.disposal_authorization == "DA-2026-0042"
    assert stored.decommissioned_at == first.decommissioned_at
    assert _since(cast.org, mark) == []


def test_decommission_refuses_another_organizations_asset(cast):
    theirs = make_asset(cast.other_org, "TW-001")

    with pytest.raises(NotFound):
        _decommission(cast, theirs)

    assert Asset.objects.get(id=theirs.id).status == "active"


def test_the_database_ties_decommissioned_at_to_the_status(cast):
    asset = make_asset(cast.org, "TW-001")

    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.filter(id=asset.id).update(status="decommissioned")
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.filter(id=asset.id).update(decommissioned_at=now())
    assert Asset.objects.get(id=asset.id).status == "active"


# --- bulk variants ---------------------------------------------------------------------------


def _specs(n, start=1, **extra):
    return [
        {
            "asset_key": f"TW-{i:03d}",
            "asset_kind": "calibrated-tool",
            "display_name": f"Wrench {i}",
            "status": "active",
            **extra,
        }
        for i in range(start, start + n)
    ]


def test_asset_bulk_create_writes_one_event_per_asset(cast):
    mark = _mark(cast.org)

    assets = services.asset_bulk_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        specs=_specs(5, source_kind="cmms-import"),
    )

    assert [a.asset_key for a in assets] == [f"TW-{i:03d}" for i in range(1, 6)]
    stored = Asset.objects.filter(organization=cast.org).order_by("asset_key")
    assert [a.id for a in stored] == [a.id for a in assets]
    assert {a.source_kind for a in stored} == {"cmms-import"}
    events = _since(cast.org, mark)
    assert [e.subject_id for e in events] == [a.id for a in assets]
    assert {(e.action, e.actor_id, e.reason) for e in events} == {
        ("asset.created", OPERATOR_ID, REASON)
    }
    assert [e.diff["after"]["assetKey"] for e in events] == [a.asset_key for a in assets]
    assert len({e.occurred_at for e in events}) == 1
    assert verify_chain(cast.org.id).ok


def test_asset_bulk_create_keeps_given_creation_times(cast):
    created = now() - timedelta(days=30)

    [asset] = services.asset_bulk_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        specs=_specs(1, created_at=created),
    )

    stored = Asset.objects.get(id=asset.id)
    assert stored.created_at == stored.updated_at == created


def test_asset_bulk_create_with_no_specs(cast):
    mark = _mark(cast.org)

    assert (
        services.asset_bulk_create(
            organization=cast.org, actor=operator(cast.org), reason=REASON, specs=[]
        )
        == []
    )
    assert _since(cast.org, mark) == []


def test_asset_bulk_create_names_every_bad_row_and_writes_nothing(cast):
    specs = _specs(4)
    specs[1]["asset_key"] = "bad key"
    specs[3]["display_name"] = ""
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.asset_bulk_create(
            organization=cast.org, actor=operator(cast.org), reason=REASON, specs=specs
        )

    assert _issues(exc) == [["specs[1]", "assetKey"], ["specs[3]", "displayName"]]
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("taken", ["in-request", "registered"])
def test_asset_bulk_create_refuses_repeated_or_taken_keys(cast, taken):
    if taken == "registered":
        make_asset(cast.org, "TW-002")
    specs = _specs(3)
    if taken == "in-request":
        specs[2]["asset_key"] = "TW-002"
    before = Asset.objects.filter(organization=cast.org).count()
    mark = _mark(cast.org)

    with pytest.raises(Conflict, match="TW-002"):
        services.asset_bulk_create(
            organization=cast.org, actor=operator(cast.org), reason=REASON, specs=specs
        )

    assert Asset.objects.filter(organization=cast.org).count() == before
    assert _since(cast.org, mark) == []


def test_asset_bulk_update_writes_one_event_per_changed_asset(cast):
    assets = services.asset_bulk_create(
        organization=cast.org, actor=operator(cast.org), reason=REASON, specs=_specs(3)
    )
    mark = _mark(cast.org)

    result = services.asset_bulk_update(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        changes={
            assets[0].id: {"display_name": "Wrench one"},
            assets[1].id: {"display_name": "Wrench 2"},  # unchanged
            assets[2].id: {"description": "In calibration lab", "asset_key": "TW-003"},
        },
    )

    assert [a.id for a in result] == [a.id for a in assets]
    stored = {a.id: a for a in Asset.objects.filter(organization=cast.org)}
    assert stored[assets[0].id].display_name == "Wrench one"
    assert stored[assets[2].id].description == "In calibration lab"
    assert stored[assets[1].id].updated_at == assets[1].created_at
    events = _since(cast.org, mark)
    assert [(e.subject_id, e.action, e.actor_id) for e in events] == [
        (assets[0].id, "asset.updated", cast.editor.id),
        (assets[2].id, "asset.updated", cast.editor.id),
    ]
    assert events[0].diff == {
        "before": {"displayName": "Wrench 1"},
        "after": {"displayName": "Wrench one"},
    }
    assert events[1].diff == {
        "before": {"description": ""},
        "after": {"description": "In calibration lab"},
    }


@pytest.mark.parametrize(
    ("error", "bad_change"),
    [
        (ValidationFailed, {"asset_key": "TW-999"}),
        (ValidationFailed, {"display_name": ""}),
        (NotFound, None),
    ],
)
def test_asset_bulk_update_is_all_or_nothing(cast, error, bad_change):
    assets = services.asset_bulk_create(
        organization=cast.org, actor=operator(cast.org), reason=REASON, specs=_specs(2)
    )
    changes = {assets[0].id: {"display_name": "Changed first"}}
    if bad_change is None:
        changes[make_asset(cast.other_org, "TW-001").id] = {"display_name": "Foreign"}
    else:
        changes[assets[1].id] = bad_change
    mark = _mark(cast.org)

    with pytest.raises(error):
        services.asset_bulk_update(
            organization=cast.org, actor=operator(cast.org), reason=REASON, changes=changes
        )

    assert Asset.objects.get(id=assets[0].id).display_name == "Wrench 1"
    assert Asset.objects.get(id=assets[1].id).asset_key == "TW-002"
    assert _since(cast.org, mark) == []


# --- every register service asks for a reason ------------------------------------------------


def _calls(cast):
    """One valid call of each register service, given a reason."""
    asset = make_asset(cast.org, "TW-001")
    services.readiness_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "readiness_assessment_key": "CAL-0",
                "assessment_kind": "calibration",
                "readiness_state": "ready",
                "status": "completed",
                "performed_at": now() - timedelta(days=1),
            }
        ],
    )
    held = _custody(cast, asset, cast.technician)
    scheduled = services.readiness_schedule(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        assessment_kind="calibration",
    )
    org, past = cast.org, now() - timedelta(hours=1)
    spec = {"asset_key": "TW-100", "asset_kind": "vehicle", "display_name": "Tug"}
    record = {
        "asset_id": asset.id,
        "member_id": cast.editor.id,
        "assignment_key": "LOAN-1",
        "assignment_kind": "loan",
        "started_at": past,
    }
    assessment = {
        "asset_id": asset.id,
        "readiness_assessment_key": "CAL-9",
        "assessment_kind": "calibration",
        "readiness_state": "unknown",
        "status": "scheduled",
    }
    common = {"organization": org, "actor": operator(org)}
    return {
        "asset_create": lambda r: services.asset_create(**common, reason=r, **spec),
        "asset_bulk_create": lambda r: services.asset_bulk_create(**common, reason=r, specs=[spec]),
        "asset_update": lambda r: services.asset_update(
            **common, reason=r, asset_id=asset.id, display_name="Renamed"
        ),
        "asset_bulk_update": lambda r: services.asset_bulk_update(
            **common, reason=r, changes={asset.id: {"display_name": "Renamed"}}
        ),
        "asset_change_status": lambda r: services.asset_change_status(
            **common, reason=r, asset_id=asset.id, status="inactive"
        ),
        "asset_decommission": lambda r: services.asset_decommission(
            **common, reason=r, asset_id=asset.id, disposal_authorization="DA-1"
        ),
        "custody_assign": lambda r: services.custody_assign(
            **common, reason=r, asset_id=asset.id, member_id=cast.auditor.id, assignment_kind="loan"
        ),
        "custody_hand_off": lambda r: services.custody_hand_off(
            **common, reason=r, asset_id=asset.id, to_member_id=cast.editor.id
        ),
        "custody_end": lambda r: services.custody_end(**common, reason=r, assignment_id=held.id),
        "custody_bulk_record": lambda r: services.custody_bulk_record(
            **common, reason=r, records=[record]
        ),
        "readiness_schedule": lambda r: services.readiness_schedule(
            **common, reason=r, asset_id=asset.id, assessment_kind="inspection"
        ),
        "readiness_start": lambda r: services.readiness_start(
            **common, reason=r, assessment_id=scheduled.id
        ),
        "readiness_complete": lambda r: services.readiness_complete(
            **common,
            reason=r,
            assessment_id=scheduled.id,
            readiness_state="ready",
            performed_at=past,
        ),
        "readiness_cancel": lambda r: services.readiness_cancel(
            **common, reason=r, assessment_id=scheduled.id
        ),
        "readiness_bulk_record": lambda r: services.readiness_bulk_record(
            **common, reason=r, records=[assessment]
        ),
    }


SERVICES = [
    "asset_create",
    "asset_bulk_create",
    "asset_update",
    "asset_bulk_update",
    "asset_change_status",
    "asset_decommission",
    "custody_assign",
    "custody_hand_off",
    "custody_end",
    "custody_bulk_record",
    "readiness_schedule",
    "readiness_start",
    "readiness_complete",
    "readiness_cancel",
    "readiness_bulk_record",
]


@pytest.mark.parametrize("name", SERVICES)
def test_every_register_service_needs_a_reason_of_10_to_1000_characters(cast, name):
    call = _calls(cast)[name]
    mark = _mark(cast.org)

    for bad in ("", "too short", " " * 20, "r" * 1001, None):
        with pytest.raises(ValidationFailed) as exc:
            call(bad)
        assert _issues(exc) == [["reason"]]
    assert _since(cast.org, mark) == []

    call("x" * 1000)

    events = _since(cast.org, mark)
    assert events
    assert {e.reason for e in events} == {"x" * 1000}
