"""Asset creation (SPEC section 3), single and in bulk as the importer uses it, and the bulk
update."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from registra.assets import services
from registra.assets.models import Asset
from registra.core.audit import verify_chain
from registra.core.errors import Conflict, NotFound, ValidationFailed
from registra.core.timefmt import api_format, now
from tests.assets.services.helpers import REASON
from tests.assets.services.helpers import create as _create
from tests.assets.services.helpers import responsibility as _responsibility
from tests.cast import OPERATOR_ID, make_asset, operator
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues

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
