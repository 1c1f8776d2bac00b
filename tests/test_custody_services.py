"""Custody (SPEC section 3): assign, hand off (same instant, one transaction, at most one active
primary), end, the not-ready override rule, and the bulk record used by imports.

Each test checks what the service returns, the rows it leaves, and the audit events it wrote;
each refused case must change nothing and audit nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from registra.assets import services
from registra.assets.models import CustodyAssignment
from registra.core.audit import verify_chain
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import api_format, now
from registra.organizations import services as org_services
from tests.cast import OPERATOR_ID, calibrate, make_asset, operator, org_day
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues

REASON = "Tool issued for the A-check on D-AIXA"
OVERRIDE = "Needed for an AOG repair; recalibration booked"


def _ready_tool(cast, key="TW-001"):
    asset = make_asset(cast.org, key)
    calibrate(cast.org, asset)
    return asset


def _assign(cast, asset, member, **kwargs):
    return services.custody_assign(
        organization=cast.org,
        actor=kwargs.pop("actor", None) or operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        member_id=member.id,
        **kwargs,
    )


def _hand_off(cast, asset, member, **kwargs):
    return services.custody_hand_off(
        organization=cast.org,
        actor=kwargs.pop("actor", None) or operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        to_member_id=member.id,
        **kwargs,
    )


def _active(asset) -> list[CustodyAssignment]:
    return list(CustodyAssignment.objects.filter(asset_id=asset.id, status="active"))


# --- custody_assign --------------------------------------------------------------------------


def test_custody_assign_primary(cast):
    asset = _ready_tool(cast)
    mark = _mark(cast.org)

    c = _assign(
        cast,
        asset,
        cast.technician,
        actor=cast.actor(cast.editor),
        location="Hangar 2, bay 3",
        condition_notes="Case intact",
    )

    assert c.id.startswith("ascust_")
    row = CustodyAssignment.objects.get(id=c.id)
    assert (row.organization_id, row.asset_id, row.assignment_kind, row.status) == (
        cast.org.id,
        asset.id,
        "primary",
        "active",
    )
    assert (row.subject_module_key, row.subject_resource_type, row.subject_resource_id) == (
        "membership",
        "member-user",
        cast.technician.id,
    )
    assert row.ended_at is None
    assert row.started_at == row.created_at == row.updated_at
    assert row.assignment_key.startswith("TW-001-")
    assert row.assignment_snapshot == {
        "holderName": "Tess Technician",
        "holderEmail": cast.technician.email,
        "location": "Hangar 2, bay 3",
        "conditionNotes": "Case intact",
    }
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "custody.assigned",
        cast.editor.id,
        REASON,
    )
    assert (event.subject_type, event.subject_id) == ("custody-assignment", c.id)
    assert event.occurred_at >= row.started_at
    assert event.diff == {
        "before": None,
        "after": {
            "assetId": asset.id,
            "assignmentKey": row.assignment_key,
            "assignmentKind": "primary",
            "subjectResourceId": cast.technician.id,
            "status": "active",
            "startedAt": api_format(row.started_at),
            "endedAt": None,
            "assignmentSnapshot": row.assignment_snapshot,
        },
    }


def test_custody_assign_with_a_key_and_a_recorded_start(cast):
    asset = _ready_tool(cast)
    started = now() - timedelta(hours=3)

    c = _assign(cast, asset, cast.technician, assignment_key="TW-001:issue.7", started_at=started)

    row = CustodyAssignment.objects.get(id=c.id)
    assert (row.assignment_key, row.started_at) == ("TW-001:issue.7", started)
    assert row.created_at > started


def test_custody_assign_refuses_a_second_active_primary(cast):
    asset = _ready_tool(cast)
    first = _assign(cast, asset, cast.technician)
    mark = _mark(cast.org)

    with pytest.raises(Conflict, match="hand it off instead"):
        _assign(cast, asset, cast.editor)

    assert [c.id for c in _active(asset)] == [first.id]
    assert _since(cast.org, mark) == []


def test_secondary_and_loan_custody_sit_beside_the_primary(cast):
    asset = _ready_tool(cast)
    primary = _assign(cast, asset, cast.technician)
    mark = _mark(cast.org)

    secondary = _assign(cast, asset, cast.editor, assignment_kind="secondary")
    loan = _assign(cast, asset, cast.auditor, assignment_kind="loan")
    second_loan = _assign(cast, asset, cast.viewer, assignment_kind="loan")

    kinds = {c.id: c.assignment_kind for c in _active(asset)}
    assert kinds == {
        primary.id: "primary",
        secondary.id: "secondary",
        loan.id: "loan",
        second_loan.id: "loan",
    }
    events = _since(cast.org, mark)
    assert [e.action for e in events] == ["custody.assigned"] * 3
    assert [e.diff["after"]["assignmentKind"] for e in events] == ["secondary", "loan", "loan"]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("assignmentKind", {"assignment_kind": "owner"}),
        ("assignmentKey", {"assignment_key": "-issue"}),
        ("assignmentKey", {"assignment_key": "issue 7"}),
        ("assignmentKey", {"assignment_key": "k" * 161}),
        ("startedAt", {"started_at": now().replace(tzinfo=None)}),
        ("startedAt", {"started_at": now() + timedelta(days=1)}),
        ("reason", {"reason": "handover"}),
    ],
)
def test_custody_assign_names_the_invalid_field(cast, field, kwargs):
    asset = _ready_tool(cast)
    mark = _mark(cast.org)
    reason = kwargs.pop("reason", REASON)

    with pytest.raises(ValidationFailed) as exc:
        services.custody_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=reason,
            asset_id=asset.id,
            member_id=cast.technician.id,
            **kwargs,
        )

    assert _issues(exc) == [[field]]
    assert not CustodyAssignment.objects.exists()
    assert _since(cast.org, mark) == []


def test_custody_assign_refuses_a_taken_key(cast):
    asset = _ready_tool(cast)
    other = _ready_tool(cast, "TW-002")
    _assign(cast, asset, cast.technician, assignment_key="ISSUE-1")
    mark = _mark(cast.org)

    with pytest.raises(Conflict, match="ISSUE-1"):
        _assign(cast, other, cast.editor, assignment_key="ISSUE-1")

    assert _active(other) == []
    assert _since(cast.org, mark) == []


def test_custody_assign_refuses_a_holder_from_another_organization(cast):
    asset = _ready_tool(cast)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _assign(cast, asset, cast.outsider)

    assert _issues(exc) == [["memberId"]]
    assert _active(asset) == []
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("status", ["pending", "revoked"])
def test_custody_assign_refuses_a_member_who_is_not_active(cast, status):
    asset = _ready_tool(cast)
    invitation = org_services.member_invite(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        email="temp@example.test",
        role="editor",
    )
    if status == "revoked":
        org_services.member_revoke(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=invitation.member.id,
        )
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="not an active member"):
        _assign(cast, asset, invitation.member)

    assert _active(asset) == []
    assert _since(cast.org, mark) == []


def test_custody_assign_refuses_another_organizations_asset(cast):
    theirs = make_asset(cast.other_org, "TW-001", asset_kind="vehicle")
    mark, their_mark = _mark(cast.org), _mark(cast.other_org)

    with pytest.raises(NotFound):
        _assign(cast, theirs, cast.technician)

    assert _active(theirs) == []
    assert _since(cast.org, mark) == [] and _since(cast.other_org, their_mark) == []


def test_custody_assign_refuses_a_decommissioned_asset(cast):
    asset = _ready_tool(cast)
    services.asset_decommission(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization="DA-1",
    )
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="decommissioned"):
        _assign(cast, asset, cast.technician, override_reason=OVERRIDE)

    assert _active(asset) == []
    assert _since(cast.org, mark) == []


# --- the not-ready override ------------------------------------------------------------------


def _assessed(cast, asset, state="ready", *, performed_days_ago=10, valid_days=180, key="cal-1"):
    """A completed calibration recorded with explicit dates."""
    performed = now() - timedelta(days=performed_days_ago)
    return services.readiness_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "readiness_assessment_key": key,
                "assessment_kind": "calibration",
                "readiness_state": state,
                "status": "completed",
                "performed_at": performed,
                "valid_until": performed + timedelta(days=valid_days),
            }
        ],
    )[0]


def _not_ready(cast, setup):
    status = setup if setup in ("planned", "inactive") else "active"
    asset = make_asset(cast.org, "TW-009", status=status)
    if setup == "overdue":
        _assessed(cast, asset, performed_days_ago=200, valid_days=180)
    elif setup == "failed":
        _assessed(cast, asset, "not-ready")
    elif setup == "conditional":
        _assessed(cast, asset, "conditionally-ready")
    elif setup in ("planned", "inactive"):
        _assessed(cast, asset)
    return asset


NOT_READY = [
    ("never", "calibration never completed"),
    ("overdue", "calibration overdue since"),
    ("failed", "calibration failed on"),
    ("conditional", "calibration only conditionally ready since"),
    ("planned", "(planned)"),
    ("inactive", "(inactive)"),
]


@pytest.mark.parametrize(("setup", "reason_text"), NOT_READY)
def test_assigning_a_not_ready_asset_without_an_override_is_refused(cast, setup, reason_text):
    asset = _not_ready(cast, setup)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable) as exc:
        _assign(cast, asset, cast.technician)

    assert reason_text in exc.value.message
    assert "needs an explicit override with a reason" in exc.value.message
    assert _active(asset) == []
    assert _since(cast.org, mark) == []


def test_the_refusal_names_the_overdue_date(cast):
    asset = _not_ready(cast, "overdue")
    due = org_day(cast.org, now() - timedelta(days=20))

    with pytest.raises(Unprocessable, match=f"calibration overdue since {due}"):
        _assign(cast, asset, cast.technician)


@pytest.mark.parametrize(("setup", "reason_text"), NOT_READY)
def test_assigning_a_not_ready_asset_with_an_override(cast, setup, reason_text):
    asset = _not_ready(cast, setup)
    mark = _mark(cast.org)

    c = _assign(cast, asset, cast.technician, override_reason=OVERRIDE)

    row = CustodyAssignment.objects.get(id=c.id)
    assert row.status == "active"
    assert row.assignment_snapshot["overrideReason"] == OVERRIDE
    [event] = _since(cast.org, mark)
    assert (event.action, event.reason) == ("custody.assigned", REASON)
    assert event.diff["notReadyOverride"] == OVERRIDE
    assert event.diff["after"]["assignmentSnapshot"]["overrideReason"] == OVERRIDE


@pytest.mark.parametrize("override", ["   ", "because", "x" * 1001])
def test_a_short_or_long_override_reason_is_refused(cast, override):
    asset = _not_ready(cast, "never")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _assign(cast, asset, cast.technician, override_reason=override)

    assert _issues(exc) == [["overrideReason"]]
    assert _active(asset) == []
    assert _since(cast.org, mark) == []


def test_a_ready_asset_needs_no_override_and_records_none(cast):
    asset = _ready_tool(cast)
    mark = _mark(cast.org)

    c = _assign(cast, asset, cast.technician, override_reason=OVERRIDE)

    assert "overrideReason" not in CustodyAssignment.objects.get(id=c.id).assignment_snapshot
    [event] = _since(cast.org, mark)
    assert "notReadyOverride" not in event.diff


def test_an_asset_kind_without_requirements_is_ready_when_active(cast):
    asset = make_asset(cast.org, "TUG-1", asset_kind="vehicle")

    c = _assign(cast, asset, cast.technician)

    assert CustodyAssignment.objects.get(id=c.id).status == "active"


def test_the_override_rule_applies_to_secondary_and_loan_custody(cast):
    asset = _not_ready(cast, "never")

    for kind in ("secondary", "loan"):
        with pytest.raises(Unprocessable, match="override"):
            _assign(cast, asset, cast.editor, assignment_kind=kind)
    assert _active(asset) == []


# --- custody_hand_off ------------------------------------------------------------------------


def test_custody_hand_off_ends_and_starts_at_the_same_instant(cast):
    asset = _ready_tool(cast)
    current = _assign(cast, asset, cast.technician)
    mark = _mark(cast.org)

    new = _hand_off(
        cast,
        asset,
        cast.editor,
        actor=cast.actor(cast.technician),
        location="Line station",
        condition_notes="Handed over at shift change",
    )

    old = CustodyAssignment.objects.get(id=current.id)
    row = CustodyAssignment.objects.get(id=new.id)
    assert (old.status, row.status) == ("ended", "active")
    assert old.ended_at == row.started_at == row.created_at == old.updated_at
    assert (row.assignment_kind, row.subject_resource_id) == ("primary", cast.editor.id)
    assert row.assignment_snapshot == {
        "holderName": "Eddie Editor",
        "holderEmail": cast.editor.email,
        "location": "Line station",
        "conditionNotes": "Handed over at shift change",
        "handedOffFrom": current.id,
    }
    assert [c.id for c in _active(asset)] == [new.id]
    ended, started = _since(cast.org, mark)
    assert (ended.action, ended.subject_id) == ("custody.ended", current.id)
    assert (started.action, started.subject_id) == ("custody.handed-off", new.id)
    for e in (ended, started):
        assert (e.actor_id, e.reason, e.occurred_at) == (cast.technician.id, REASON, row.started_at)
    assert ended.diff == {
        "before": {"status": "active", "endedAt": None},
        "after": {"status": "ended", "endedAt": api_format(row.started_at)},
    }
    assert started.diff["before"] is None
    assert started.diff["after"]["subjectResourceId"] == cast.editor.id
    assert started.diff["fromAssignmentId"] == current.id
    assert "notReadyOverride" not in started.diff
    assert verify_chain(cast.org.id).ok


def test_custody_can_go_back_and_forth_between_holders(cast):
    asset = _ready_tool(cast)
    _assign(cast, asset, cast.technician)

    _hand_off(cast, asset, cast.editor)
    back = _hand_off(cast, asset, cast.technician)
    again = _hand_off(cast, asset, cast.editor)

    assert [c.id for c in _active(asset)] == [again.id]
    history = CustodyAssignment.objects.filter(asset_id=asset.id)
    assert history.count() == 4
    assert len({c.assignment_key for c in history}) == 4
    assert CustodyAssignment.objects.get(id=back.id).status == "ended"


def test_custody_hand_off_leaves_secondary_and_loan_custody_alone(cast):
    asset = _ready_tool(cast)
    _assign(cast, asset, cast.technician)
    loan = _assign(cast, asset, cast.auditor, assignment_kind="loan")

    new = _hand_off(cast, asset, cast.editor)

    assert {c.id for c in _active(asset)} == {new.id, loan.id}


def test_custody_hand_off_needs_a_current_primary(cast):
    asset = _ready_tool(cast)
    _assign(cast, asset, cast.auditor, assignment_kind="secondary")
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="no active primary custody"):
        _hand_off(cast, asset, cast.editor)

    assert [c.assignment_kind for c in _active(asset)] == ["secondary"]
    assert _since(cast.org, mark) == []


def test_custody_hand_off_to_the_current_holder_is_refused(cast):
    asset = _ready_tool(cast)
    current = _assign(cast, asset, cast.technician)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="already holds"):
        _hand_off(cast, asset, cast.technician)

    assert [c.id for c in _active(asset)] == [current.id]
    assert _since(cast.org, mark) == []


def test_custody_hand_off_refuses_an_outsider_or_revoked_member(cast):
    asset = _ready_tool(cast)
    current = _assign(cast, asset, cast.technician)
    org_services.member_revoke(
        organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.viewer.id
    )
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _hand_off(cast, asset, cast.outsider)
    assert _issues(exc) == [["memberId"]]
    with pytest.raises(Unprocessable, match="not an active member"):
        _hand_off(cast, asset, cast.viewer)

    assert [c.id for c in _active(asset)] == [current.id]
    assert _since(cast.org, mark) == []


def test_custody_hand_off_of_a_not_ready_asset_needs_an_override(cast):
    asset = make_asset(cast.org, "TW-009", asset_kind="vehicle")
    current = _assign(cast, asset, cast.technician)
    # The organization starts requiring inspections of vehicles: the holder keeps the
    # vehicle, but handing it on now needs an override.
    services.organization_set_readiness_requirements(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        requirements={"calibrated-tool": ["calibration"], "vehicle": ["inspection"]},
    )
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="inspection never completed"):
        _hand_off(cast, asset, cast.editor)
    assert [c.id for c in _active(asset)] == [current.id]
    assert _since(cast.org, mark) == []

    new = _hand_off(cast, asset, cast.editor, override_reason=OVERRIDE)

    assert [c.id for c in _active(asset)] == [new.id]
    assert CustodyAssignment.objects.get(id=new.id).assignment_snapshot["overrideReason"] == (
        OVERRIDE
    )
    ended, started = _since(cast.org, mark)
    assert ended.action == "custody.ended"
    assert started.diff["notReadyOverride"] == OVERRIDE


def test_custody_hand_off_is_one_transaction(cast):
    asset = _ready_tool(cast)
    other = _ready_tool(cast, "TW-002")
    _assign(cast, other, cast.editor, assignment_key="TAKEN-KEY")
    current = _assign(cast, asset, cast.technician)
    mark = _mark(cast.org)

    # Starting the new assignment fails after the current one was ended in the same call.
    with pytest.raises(Conflict, match="TAKEN-KEY"):
        _hand_off(cast, asset, cast.auditor, assignment_key="TAKEN-KEY")

    row = CustodyAssignment.objects.get(id=current.id)
    assert (row.status, row.ended_at) == ("active", None)
    assert [c.id for c in _active(asset)] == [current.id]
    assert _since(cast.org, mark) == []
    assert verify_chain(cast.org.id).ok


def test_custody_hand_off_refuses_decommissioned_and_foreign_assets(cast):
    asset = _ready_tool(cast)
    services.asset_decommission(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization="DA-1",
    )
    theirs = make_asset(cast.other_org, "TW-001", asset_kind="vehicle")
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="decommissioned"):
        _hand_off(cast, asset, cast.editor)
    with pytest.raises(NotFound):
        _hand_off(cast, theirs, cast.editor)

    assert _active(asset) == [] and _active(theirs) == []
    assert _since(cast.org, mark) == []


# --- custody_end -----------------------------------------------------------------------------


def _end(cast, c, **kwargs):
    return services.custody_end(
        organization=cast.org,
        actor=kwargs.pop("actor", None) or operator(cast.org),
        reason="Returned to the tool crib",
        assignment_id=c.id,
        **kwargs,
    )


def test_custody_end(cast):
    asset = _ready_tool(cast)
    c = _assign(cast, asset, cast.technician)
    mark = _mark(cast.org)

    ended = _end(cast, c, actor=cast.actor(cast.technician))

    assert ended.status == "ended"
    row = CustodyAssignment.objects.get(id=c.id)
    assert row.status == "ended"
    assert row.ended_at == row.updated_at
    assert row.ended_at >= row.started_at
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "custody.ended",
        cast.technician.id,
        "Returned to the tool crib",
        c.id,
    )
    assert event.diff == {
        "before": {"status": "active", "endedAt": None},
        "after": {"status": "ended", "endedAt": api_format(row.ended_at)},
    }
    # With the primary returned, a new primary may be assigned.
    assert _assign(cast, asset, cast.editor).status == "active"


def test_custody_end_on_a_recorded_date(cast):
    asset = _ready_tool(cast)
    c = _assign(cast, asset, cast.technician, started_at=now() - timedelta(days=5))
    when = now() - timedelta(days=1)
    mark = _mark(cast.org)

    _end(cast, c, ended_at=when)

    row = CustodyAssignment.objects.get(id=c.id)
    assert row.ended_at == when
    assert row.updated_at > when
    [event] = _since(cast.org, mark)
    assert event.diff["after"]["endedAt"] == api_format(when)
    assert event.occurred_at == row.updated_at


def test_custody_end_twice_is_refused(cast):
    asset = _ready_tool(cast)
    c = _assign(cast, asset, cast.technician)
    first = _end(cast, c)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="already ended"):
        _end(cast, c)

    assert CustodyAssignment.objects.get(id=c.id).ended_at == first.ended_at
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    "when",
    [
        "before-start",
        now().replace(tzinfo=None),
        now() + timedelta(days=1),
    ],
    ids=["before-start", "naive", "future"],
)
def test_custody_end_refuses_an_impossible_end(cast, when):
    asset = _ready_tool(cast)
    c = _assign(cast, asset, cast.technician)
    if when == "before-start":
        when = c.started_at - timedelta(seconds=1)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _end(cast, c, ended_at=when)

    assert _issues(exc) == [["endedAt"]]
    assert CustodyAssignment.objects.get(id=c.id).status == "active"
    assert _since(cast.org, mark) == []


def test_custody_end_refuses_another_organizations_assignment(cast):
    theirs_asset = make_asset(cast.other_org, "TW-001", asset_kind="vehicle")
    theirs = services.custody_assign(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        asset_id=theirs_asset.id,
        member_id=cast.outsider.id,
    )
    mark, their_mark = _mark(cast.org), _mark(cast.other_org)

    with pytest.raises(NotFound):
        _end(cast, theirs)

    assert CustodyAssignment.objects.get(id=theirs.id).status == "active"
    assert _since(cast.org, mark) == [] and _since(cast.other_org, their_mark) == []


# --- database constraints --------------------------------------------------------------------


def _raw(cast, asset, key, *, kind="primary", status="active", ended_at=None):
    at = now()
    return CustodyAssignment.objects.create(
        organization=cast.org,
        asset=asset,
        assignment_key=key,
        assignment_kind=kind,
        subject_module_key="membership",
        subject_resource_type="member-user",
        subject_resource_id=cast.technician.id,
        status=status,
        started_at=at - timedelta(days=1),
        ended_at=ended_at,
        created_at=at,
        updated_at=at,
    )


def test_the_database_refuses_a_second_active_primary(cast):
    asset = make_asset(cast.org, "TW-001")
    _raw(cast, asset, "raw-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(cast, asset, "raw-2")

    assert [c.assignment_key for c in _active(asset)] == ["raw-1"]


def test_the_database_allows_ended_primaries_and_other_kinds_beside_the_active_primary(cast):
    asset = make_asset(cast.org, "TW-001")
    _raw(cast, asset, "raw-1", status="ended", ended_at=now())
    _raw(cast, asset, "raw-2", status="ended", ended_at=now())
    _raw(cast, asset, "raw-3")
    _raw(cast, asset, "raw-4", kind="secondary")
    _raw(cast, asset, "raw-5", kind="secondary")
    _raw(cast, asset, "raw-6", kind="loan")
    other = make_asset(cast.org, "TW-002")
    _raw(cast, other, "raw-7")

    assert sorted(c.assignment_key for c in _active(asset)) == ["raw-3", "raw-4", "raw-5", "raw-6"]


def test_the_database_ties_ended_at_to_the_status(cast):
    asset = make_asset(cast.org, "TW-001")

    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(cast, asset, "raw-1", status="ended")
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(cast, asset, "raw-2", ended_at=now())
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(cast, asset, "raw-3", kind="owner")

    assert not CustodyAssignment.objects.exists()


# --- custody_bulk_record ---------------------------------------------------------------------


def _records(cast, asset, other):
    started = now() - timedelta(days=30)
    return [
        {
            "asset_id": asset.id,
            "member_id": cast.editor.id,
            "assignment_key": "CMMS-1",
            "started_at": started,
            "ended_at": started + timedelta(days=10),
            "created_at": started,
        },
        {
            "asset_id": asset.id,
            "member_id": cast.technician.id,
            "assignment_key": "CMMS-2",
            "started_at": started + timedelta(days=10),
            "snapshot": {"location": "Hangar 1"},
        },
        {
            "asset_id": asset.id,
            "member_id": cast.auditor.id,
            "assignment_kind": "loan",
            "assignment_key": "CMMS-3",
            "started_at": started + timedelta(days=12),
        },
        {
            "asset_id": other.id,
            "member_id": cast.technician.id,
            "assignment_key": "CMMS-4",
            "started_at": started,
        },
    ]


def test_custody_bulk_record_writes_one_event_per_record(cast):
    asset, other = make_asset(cast.org, "TW-001"), make_asset(cast.org, "TW-002")
    records = _records(cast, asset, other)
    mark = _mark(cast.org)

    rows = services.custody_bulk_record(
        organization=cast.org, actor=operator(cast.org), reason=REASON, records=records
    )

    assert [r.assignment_key for r in rows] == ["CMMS-1", "CMMS-2", "CMMS-3", "CMMS-4"]
    stored = {c.assignment_key: c for c in CustodyAssignment.objects.filter(organization=cast.org)}
    assert set(stored) == {"CMMS-1", "CMMS-2", "CMMS-3", "CMMS-4"}
    assert (stored["CMMS-1"].status, stored["CMMS-1"].ended_at) == (
        "ended",
        records[0]["ended_at"],
    )
    assert stored["CMMS-1"].created_at == records[0]["started_at"]
    assert (stored["CMMS-2"].status, stored["CMMS-2"].assignment_kind) == ("active", "primary")
    assert stored["CMMS-2"].assignment_snapshot == {
        "holderName": "Tess Technician",
        "holderEmail": cast.technician.email,
        "location": "Hangar 1",
    }
    assert stored["CMMS-3"].assignment_kind == "loan"
    events = _since(cast.org, mark)
    assert [e.subject_id for e in events] == [r.id for r in rows]
    assert {(e.action, e.actor_id, e.reason) for e in events} == {
        ("custody.recorded", OPERATOR_ID, REASON)
    }
    assert [e.diff["after"]["assignmentKey"] for e in events] == [r.assignment_key for r in rows]
    assert events[0].diff["after"]["endedAt"] == api_format(records[0]["ended_at"])
    assert verify_chain(cast.org.id).ok


def _bulk_refused(cast, records, error, asset):
    mark = _mark(cast.org)
    with pytest.raises(error) as exc:
        services.custody_bulk_record(
            organization=cast.org, actor=operator(cast.org), reason=REASON, records=records
        )
    assert not CustodyAssignment.objects.filter(asset=asset).exclude(assignment_key="PRE").exists()
    assert _since(cast.org, mark) == []
    return exc


def test_custody_bulk_record_refuses_two_active_primaries_in_one_batch(cast):
    asset, other = make_asset(cast.org, "TW-001"), make_asset(cast.org, "TW-002")
    records = _records(cast, asset, other)
    records[3]["asset_id"] = asset.id

    _bulk_refused(cast, records, Conflict, asset)


def test_custody_bulk_record_refuses_a_second_active_primary_beside_an_existing_one(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    _assign(cast, asset, cast.editor, assignment_key="PRE")
    record = {
        "asset_id": asset.id,
        "member_id": cast.technician.id,
        "assignment_key": "CMMS-9",
        "started_at": now() - timedelta(days=1),
    }

    _bulk_refused(cast, [record], Conflict, asset)
    assert [c.assignment_key for c in _active(asset)] == ["PRE"]


def test_custody_bulk_record_refuses_a_taken_key(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    _assign(cast, asset, cast.editor, assignment_key="PRE", assignment_kind="loan")
    record = {
        "asset_id": asset.id,
        "member_id": cast.technician.id,
        "assignment_key": "PRE",
        "started_at": now() - timedelta(days=1),
    }

    _bulk_refused(cast, [record], Conflict, asset)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("records[1].memberId", {"member_id": "user_UNKNOWN"}),
        ("records[1].memberId", {"member_id": "outsider"}),
        ("records[1].assignmentKind", {"assignment_kind": "owner"}),
        ("records[1].assignmentKey", {"assignment_key": "CMMS 2"}),
        ("records[1].startedAt", {"started_at": None}),
        ("records[1].startedAt", {"started_at": now().replace(tzinfo=None)}),
        ("records[1].endedAt", {"ended_at": now() - timedelta(days=40)}),
    ],
)
def test_custody_bulk_record_names_the_invalid_record(cast, field, change):
    asset, other = make_asset(cast.org, "TW-001"), make_asset(cast.org, "TW-002")
    records = _records(cast, asset, other)
    if change.get("member_id") == "outsider":
        change = {"member_id": cast.outsider.id}
    records[1].update(change)

    exc = _bulk_refused(cast, records, ValidationFailed, asset)

    assert _issues(exc) == [[field]]


def test_custody_bulk_record_refuses_another_organizations_asset(cast):
    asset = make_asset(cast.org, "TW-001")
    theirs = make_asset(cast.other_org, "TW-001")
    records = _records(cast, asset, theirs)

    _bulk_refused(cast, records, NotFound, asset)
    assert not CustodyAssignment.objects.filter(asset=theirs).exists()


def test_custody_bulk_record_on_a_decommissioned_asset_takes_history_only(cast):
    asset = make_asset(cast.org, "TW-001")
    services.asset_decommission(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization="DA-1",
    )
    started = now() - timedelta(days=30)
    active = {
        "asset_id": asset.id,
        "member_id": cast.technician.id,
        "assignment_key": "CMMS-1",
        "started_at": started,
    }

    exc = _bulk_refused(cast, [active], Unprocessable, asset)
    assert "decommissioned" in exc.value.message

    history = services.custody_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[{**active, "ended_at": started + timedelta(days=1)}],
    )
    assert CustodyAssignment.objects.get(id=history[0].id).status == "ended"


def test_custody_bulk_record_refuses_active_custody_for_an_inactive_member(cast):
    asset = make_asset(cast.org, "TW-001")
    org_services.member_revoke(
        organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.viewer.id
    )
    started = now() - timedelta(days=30)
    record = {
        "asset_id": asset.id,
        "member_id": cast.viewer.id,
        "assignment_key": "CMMS-1",
        "started_at": started,
    }

    _bulk_refused(cast, [record], Unprocessable, asset)

    # What a former member held in the past is still history worth recording.
    [row] = services.custody_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[{**record, "ended_at": started + timedelta(days=3)}],
    )
    assert CustodyAssignment.objects.get(id=row.id).subject_resource_id == cast.viewer.id
