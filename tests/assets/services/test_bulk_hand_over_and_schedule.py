"""``custody_bulk_hand_over`` and ``readiness_bulk_schedule``: one reason for the batch, one
event per record, all or nothing, the not-ready override asked once for the batch."""

from __future__ import annotations

import pytest

from registra.assets import services
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core.errors import (
    Forbidden,
    NotFound,
    Unprocessable,
    ValidationFailed,
)
from registra.organizations.models import Member
from tests.assets.services.helpers import custody, decommission, responsibility
from tests.cast import (
    REASON,
    Cast,
    active_primary,
    audit_mark,
    audit_since,
    calibrated_overdue,
    make_asset,
    ready_tool,
)

pytestmark = pytest.mark.django_db
OVERRIDE = "Hangar move: the tools travel together, recalibration booked"


def _hand_over(cast: Cast, assets: list[Asset], to: Member, **kw: object) -> list:
    return services.custody_bulk_hand_over(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        asset_ids=[a.id for a in assets],
        to_member_id=to.id,
        **kw,  # type: ignore[arg-type]
    )


def test_held_assets_are_handed_off_and_unheld_ones_assigned_in_one_batch(cast: Cast) -> None:
    held = [ready_tool(cast.org, f"TB-{i}") for i in range(3)]
    before = [custody(cast, a, cast.technician) for a in held]
    free = ready_tool(cast.org, "TB-FREE")
    mine = ready_tool(cast.org, "TB-MINE")
    already = custody(cast, mine, cast.editor)
    mark = audit_mark(cast.org)

    started = _hand_over(cast, [*held, free, mine], cast.editor)

    assert [c.asset_id for c in started] == [a.id for a in [*held, free]]
    for asset, old in zip(held, before, strict=True):
        now_held = active_primary(asset)
        assert now_held is not None and now_held.subject_resource_id == cast.editor.id
        assert now_held.assignment_snapshot["handedOffFrom"] == old.id
        ended = CustodyAssignment.objects.get(id=old.id)
        assert ended.status == "ended" and ended.ended_at == now_held.started_at
    free_now = active_primary(free)
    assert free_now is not None and free_now.subject_resource_id == cast.editor.id
    assert "handedOffFrom" not in free_now.assignment_snapshot
    # What the member already held is left as it was, with no event.
    assert active_primary(mine) == already
    events = audit_since(cast.org, mark)
    assert [e.action for e in events] == [
        *["custody.ended", "custody.handed-off"] * 3,
        "custody.assigned",
    ]
    assert {e.reason for e in events} == {REASON} and {e.actor_id for e in events} == {
        cast.editor.id
    }
    assert events[1].diff["fromAssignmentId"] == before[0].id


def test_not_ready_assets_need_one_override_recorded_on_theirs_only(cast: Cast) -> None:
    ready = ready_tool(cast.org, "TB-OK")
    overdue = make_asset(cast.org, "TB-LATE")
    calibrated_overdue(cast.org, overdue, days_ago=20)
    never = make_asset(cast.org, "TB-NEVER")
    mark = audit_mark(cast.org)

    with pytest.raises(Unprocessable) as refused:
        _hand_over(cast, [ready, overdue, never], cast.technician)
    message = refused.value.message
    assert message.startswith("2 of the assets are not ready (TB-LATE: calibration overdue since")
    assert "TB-NEVER: calibration never completed" in message
    assert message.endswith("needs an explicit override with a reason")
    assert audit_since(cast.org, mark) == [] and not any(
        active_primary(a) for a in (ready, overdue, never)
    )

    with pytest.raises(ValidationFailed):
        _hand_over(cast, [ready, overdue, never], cast.technician, override_reason="short")

    _hand_over(cast, [ready, overdue, never], cast.technician, override_reason=OVERRIDE)
    snapshots = {
        a.asset_key: active_primary(a).assignment_snapshot for a in (ready, overdue, never)
    }  # type: ignore[union-attr]
    assert "overrideReason" not in snapshots["TB-OK"]
    assert snapshots["TB-LATE"]["overrideReason"] == OVERRIDE
    assert snapshots["TB-NEVER"]["overrideReason"] == OVERRIDE
    overrides = [e.diff.get("notReadyOverride") for e in audit_since(cast.org, mark)]
    assert overrides == [None, OVERRIDE, OVERRIDE]


def test_one_bad_asset_refuses_the_whole_batch(cast: Cast) -> None:
    fine = [ready_tool(cast.org, f"TB-{i}") for i in range(3)]
    gone = ready_tool(cast.org, "TB-GONE")
    decommission(cast, gone)
    foreign = make_asset(cast.other_org, "TB-0")
    mark = audit_mark(cast.org)
    with pytest.raises(Unprocessable, match="asset TB-GONE is decommissioned"):
        _hand_over(cast, [*fine, gone], cast.technician)
    with pytest.raises(NotFound, match=f"asset {foreign.id} not found"):
        _hand_over(cast, [*fine, foreign], cast.technician)
    with pytest.raises(Unprocessable, match="not an active member"):
        _hand_over(cast, fine, cast.revoked)
    with pytest.raises(ValidationFailed, match="must name 1 to"):
        _hand_over(cast, [], cast.technician)
    assert audit_since(cast.org, mark) == [] and not any(active_primary(a) for a in fine)


def test_a_viewer_may_not_hand_over(cast: Cast) -> None:
    asset = ready_tool(cast.org, "TB-1")
    with pytest.raises(Forbidden):
        services.custody_bulk_hand_over(
            organization=cast.org,
            actor=cast.actor(cast.viewer),
            reason=REASON,
            asset_ids=[asset.id],
            to_member_id=cast.viewer.id,
        )
    assert active_primary(asset) is None


def _schedule(cast: Cast, assets: list[Asset], kind: str = "calibration", **kw: object) -> list:
    return services.readiness_bulk_schedule(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        asset_ids=[a.id for a in assets],
        assessment_kind=kind,
        **kw,  # type: ignore[arg-type]
    )


def test_schedule_plans_one_assessment_per_asset_with_one_event_each(cast: Cast) -> None:
    assets = [make_asset(cast.org, f"SC-{i:02d}") for i in range(25)]
    lab = responsibility(cast.org, "calibration-lab")
    mark = audit_mark(cast.org)
    planned = _schedule(cast, assets, performed_by_responsibility_id=lab.id)
    rows = ReadinessAssessment.objects.filter(id__in=[r.id for r in planned])
    assert {(r.asset_id, r.status, r.readiness_state, r.assessment_kind) for r in rows} == {
        (a.id, "scheduled", "unknown", "calibration") for a in assets
    }
    assert {r.performed_by_responsibility_id for r in rows} == {lab.id}
    assert len({r.readiness_assessment_key for r in rows}) == 25
    events = audit_since(cast.org, mark)
    assert [e.action for e in events] == ["readiness.scheduled"] * 25
    assert {e.subject_id for e in events} == {r.id for r in planned}
    assert {e.reason for e in events} == {REASON}


def test_schedule_refuses_the_batch_for_one_bad_asset_or_field(cast: Cast) -> None:
    fine = [make_asset(cast.org, f"SC-{i}") for i in range(2)]
    gone = make_asset(cast.org, "SC-GONE")
    decommission(cast, gone)
    mark = audit_mark(cast.org)
    with pytest.raises(Unprocessable, match="asset SC-GONE is decommissioned"):
        _schedule(cast, [*fine, gone])
    with pytest.raises(ValidationFailed, match="assessmentKind"):
        _schedule(cast, fine, kind="")
    with pytest.raises(ValidationFailed, match="performedByResponsibilityId"):
        _schedule(cast, fine, performed_by_responsibility_id="resp_NOPE")
    assert audit_since(cast.org, mark) == []
    assert not ReadinessAssessment.objects.filter(asset_id__in=[a.id for a in fine]).exists()
