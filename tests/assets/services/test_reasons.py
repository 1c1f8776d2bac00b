"""Every register service asks for a reason of 10-1000 characters (SPEC section 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registra.assets import services
from registra.core.errors import ValidationFailed
from registra.core.timefmt import now
from tests.assets.services.helpers import REASON
from tests.assets.services.helpers import custody as _custody
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues
from tests.cast import make_asset, operator

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
