"""Readiness (SPEC section 3): computed readiness with reasons and as-of times, and the
assessment services: schedule / start / complete / cancel, their legal and illegal transitions,
and the bulk record used by imports.

Service tests check what the service returns, the rows it leaves, and the audit events it
wrote; each refused case must change nothing and audit nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from registra.assets import selectors, services
from registra.assets.models import ReadinessAssessment
from registra.assets.readiness import compute_readiness, latest_completed
from registra.core.audit import verify_chain
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import api_format, now
from registra.organizations import services as org_services
from tests.cast import OPERATOR_ID, calibrate, make_asset, operator, org_day
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues

REASON = "Annual calibration per QM-7.1.5"
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
TOOLS = {"calibrated-tool": ["calibration"]}


# --- compute_readiness (pure) ----------------------------------------------------------------


@dataclass
class A:
    """An assessment as compute_readiness sees it."""

    assessment_kind: str = "calibration"
    status: str = "completed"
    readiness_state: str = "ready"
    performed_at: datetime | None = T0
    valid_until: datetime | None = T0 + timedelta(days=180)


def _compute(assessments, *, at=T0 + timedelta(days=10), status="active", kind="calibrated-tool"):
    return compute_readiness(
        asset_status=status,
        asset_kind=kind,
        requirements=TOOLS,
        assessments=assessments,
        at=at,
    )


def test_ready_with_a_current_ready_calibration():
    result = _compute([A()])

    assert (result.state, result.reasons, result.is_ready) == ("ready", [], True)


def test_the_days_a_reason_names_are_the_organizations():
    # 23:30 UTC is already the next day in Berlin: the reason names Berlin's day.
    late = datetime(2026, 11, 11, 23, 30, tzinfo=UTC)
    performed = late - timedelta(days=200)
    due = A(performed_at=performed, valid_until=late)
    failed = A(performed_at=late, readiness_state="not-ready", valid_until=None)
    at = late + timedelta(days=3)
    args = {"asset_status": "active", "asset_kind": "calibrated-tool", "requirements": TOOLS}
    berlin, utc = ZoneInfo("Europe/Berlin"), UTC
    assert compute_readiness(**args, assessments=[due], at=at, zone=berlin).reasons == [
        "calibration overdue since 2026-11-12"
    ]
    assert compute_readiness(**args, assessments=[due], at=at, zone=utc).reasons == [
        "calibration overdue since 2026-11-11"
    ]
    assert compute_readiness(**args, assessments=[failed], at=at, zone=berlin).reasons == [
        "calibration failed on 2026-11-12"
    ]


def test_ready_without_an_expiry():
    assert _compute([A(valid_until=None)], at=T0 + timedelta(days=5000)).is_ready


def test_never_completed():
    result = _compute([])

    assert (result.state, result.reasons, result.is_ready) == (
        "not-ready",
        ["calibration never completed"],
        False,
    )


@pytest.mark.parametrize("status", ["scheduled", "in-progress", "cancelled"])
def test_only_completed_assessments_count(status):
    assert _compute([A(status=status)]).reasons == ["calibration never completed"]


def test_other_kinds_do_not_count():
    assert _compute([A(assessment_kind="inspection")]).reasons == ["calibration never completed"]


def test_overdue_names_the_date_validity_lapsed():
    result = _compute(
        [A(valid_until=datetime(2026, 3, 12, 8, 0, tzinfo=UTC))], at=T0 + timedelta(days=30)
    )

    assert result.state == "not-ready"
    assert result.reasons == ["calibration overdue since 2026-03-12"]


def test_overdue_from_the_exact_moment_validity_ends():
    until = T0 + timedelta(days=180)

    assert _compute([A(valid_until=until)], at=until - timedelta(microseconds=1)).is_ready
    assert _compute([A(valid_until=until)], at=until).reasons == [
        "calibration overdue since 2026-08-28"
    ]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("not-ready", "calibration failed on 2026-03-01"),
        ("conditionally-ready", "calibration only conditionally ready since 2026-03-01"),
        ("unknown", "calibration result unknown since 2026-03-01"),
    ],
)
def test_a_result_other_than_ready(state, reason):
    result = _compute([A(readiness_state=state)])

    assert (result.state, result.reasons) == ("not-ready", [reason])


@pytest.mark.parametrize(
    "status", ["planned", "inactive", "decommissioned"], ids=["planned", "inactive", "decom"]
)
def test_only_an_active_asset_can_be_ready(status):
    result = _compute([A()], status=status)

    assert (result.state, result.reasons) == ("not-ready", [status])


def test_the_latest_completed_assessment_decides():
    failed = A(readiness_state="not-ready", performed_at=T0 + timedelta(days=1))
    passed = A(performed_at=T0 + timedelta(days=2), valid_until=T0 + timedelta(days=200))

    assert _compute([passed, failed], at=T0 + timedelta(days=3)).is_ready
    later_failure = A(readiness_state="not-ready", performed_at=T0 + timedelta(days=4))
    assert _compute([passed, failed, later_failure], at=T0 + timedelta(days=5)).reasons == [
        "calibration failed on 2026-03-05"
    ]


def test_readiness_as_of_a_past_time():
    first = A(performed_at=T0, valid_until=T0 + timedelta(days=30))
    retest = A(
        readiness_state="not-ready",
        performed_at=T0 + timedelta(days=20),
        valid_until=None,
    )
    history = [first, retest]

    assert _compute(history, at=T0 - timedelta(days=1)).reasons == ["calibration never completed"]
    assert _compute(history, at=T0).is_ready
    assert _compute(history, at=T0 + timedelta(days=19)).is_ready
    assert _compute(history, at=T0 + timedelta(days=20)).reasons == [
        "calibration failed on 2026-03-21"
    ]
    assert latest_completed(history, "calibration", T0 + timedelta(days=10)) is first


def test_every_required_kind_gives_its_own_reason():
    requirements = {"lifting-equipment": ["calibration", "inspection", "load-test"]}
    assessments = [
        A(assessment_kind="inspection", valid_until=T0 + timedelta(days=1)),
        A(assessment_kind="load-test"),
    ]

    result = compute_readiness(
        asset_status="active",
        asset_kind="lifting-equipment",
        requirements=requirements,
        assessments=assessments,
        at=T0 + timedelta(days=2),
    )

    assert result.reasons == [
        "calibration never completed",
        "inspection overdue since 2026-03-02",
    ]


def test_an_asset_kind_without_requirements_is_ready_when_active():
    assert _compute([], kind="vehicle").is_ready
    assert _compute([], kind="vehicle", status="inactive").reasons == ["inactive"]


# --- computed readiness from the database ----------------------------------------------------


def _record(cast, asset, *rows):
    """Completed assessments with explicit dates: (key, state, performed_at, valid_until)."""
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
                "valid_until": until,
            }
            for key, state, performed, until in rows
        ],
    )


def test_asset_readiness_reads_the_assets_assessments(cast):
    asset = make_asset(cast.org, "TW-001")
    t = now()
    _record(
        cast,
        asset,
        ("c1", "ready", t - timedelta(days=400), t - timedelta(days=35)),
        ("c2", "not-ready", t - timedelta(days=30), None),
        ("c3", "ready", t - timedelta(days=20), t + timedelta(days=160)),
    )
    # Another asset's and another organization's assessments never count.
    make_asset(cast.other_org, "TW-001")

    def at(days_ago):
        return selectors.asset_readiness(cast.org, asset, at=t - timedelta(days=days_ago)).reasons

    assert at(500) == ["calibration never completed"]
    assert at(100) == []
    assert at(34) == [f"calibration overdue since {org_day(cast.org, t - timedelta(days=35))}"]
    assert at(25) == [f"calibration failed on {org_day(cast.org, t - timedelta(days=30))}"]
    assert at(0) == []
    assert selectors.asset_readiness(cast.org, asset, at=t).state == "ready"


def test_asset_readiness_follows_the_organizations_requirements(cast):
    asset = make_asset(cast.org, "TW-001")
    calibrate(cast.org, asset)
    assert selectors.asset_readiness(cast.org, asset, at=now()).is_ready

    services.organization_set_readiness_requirements(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        requirements={"calibrated-tool": ["calibration", "inspection"]},
    )

    assert selectors.asset_readiness(cast.org, asset, at=now()).reasons == [
        "inspection never completed"
    ]
    # The other organization requires nothing of calibrated tools.
    theirs = make_asset(cast.other_org, "TW-001")
    assert selectors.asset_readiness(cast.other_org, theirs, at=now()).is_ready


def test_a_decommissioned_asset_is_not_ready(cast):
    asset = make_asset(cast.org, "TW-001")
    calibrate(cast.org, asset)
    services.asset_decommission(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization="DA-7",
    )
    asset.refresh_from_db()

    result = selectors.asset_readiness(cast.org, asset, at=now())

    assert (result.state, result.reasons) == ("not-ready", ["decommissioned"])


# --- readiness services ----------------------------------------------------------------------


def _schedule(cast, asset, **kwargs):
    return services.readiness_schedule(
        organization=cast.org,
        actor=kwargs.pop("actor", None) or operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        assessment_kind=kwargs.pop("assessment_kind", "calibration"),
        **kwargs,
    )


def _start(cast, r, **kwargs):
    return services.readiness_start(
        organization=cast.org, actor=operator(cast.org), reason=REASON, assessment_id=r.id, **kwargs
    )


def _complete(cast, r, **kwargs):
    values = {"readiness_state": "ready", "performed_at": now() - timedelta(hours=2)}
    values.update(kwargs)
    return services.readiness_complete(
        organization=cast.org,
        actor=values.pop("actor", None) or operator(cast.org),
        reason=REASON,
        assessment_id=r.id,
        **values,
    )


def _cancel(cast, r):
    return services.readiness_cancel(
        organization=cast.org, actor=operator(cast.org), reason=REASON, assessment_id=r.id
    )


def _lab(org):
    return org_services.responsibility_assign(
        organization=org,
        actor=operator(org),
        reason=REASON,
        responsibility_key="calibration-lab",
        title="Calibration lab",
        holder_id=None,
    )


def test_readiness_schedule(cast):
    asset = make_asset(cast.org, "TW-001")
    lab = _lab(cast.org)
    mark = _mark(cast.org)

    r = _schedule(
        cast,
        asset,
        actor=cast.actor(cast.editor),
        readiness_assessment_key="TW-001-cal-2026",
        performed_by_responsibility_id=lab.id,
        posture_snapshot={"tolerance": "±4%", "rangeNm": [5, 60]},
    )

    assert r.id.startswith("asrdy_")
    row = ReadinessAssessment.objects.get(id=r.id)
    assert (row.organization_id, row.asset_id, row.readiness_assessment_key) == (
        cast.org.id,
        asset.id,
        "TW-001-cal-2026",
    )
    assert (row.assessment_kind, row.status, row.readiness_state) == (
        "calibration",
        "scheduled",
        "unknown",
    )
    assert (row.performed_at, row.valid_until) == (None, None)
    assert row.performed_by_responsibility_id == lab.id
    assert row.posture_snapshot == {"tolerance": "±4%", "rangeNm": [5, 60]}
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "readiness.scheduled",
        cast.editor.id,
        REASON,
    )
    assert (event.subject_type, event.subject_id) == ("readiness-assessment", r.id)
    assert event.diff == {
        "before": None,
        "after": {
            "assetId": asset.id,
            "readinessAssessmentKey": "TW-001-cal-2026",
            "assessmentKind": "calibration",
            "readinessState": "unknown",
            "status": "scheduled",
            "performedAt": None,
            "performedByResponsibilityId": lab.id,
            "validUntil": None,
            "postureSnapshot": {"tolerance": "±4%", "rangeNm": [5, 60]},
            "evidenceSnapshot": {},
        },
    }
    assert verify_chain(cast.org.id).ok


def test_readiness_schedule_generates_unique_keys(cast):
    asset = make_asset(cast.org, "TW-001")

    keys = {_schedule(cast, asset).readiness_assessment_key for _ in range(3)}

    assert len(keys) == 3
    assert all(k.startswith("TW-001-calibration-") for k in keys)


@pytest.mark.parametrize(
    ("asset_key", "kind"),
    [
        ("TW-001", "security review"),
        ("TW-001", "Prüfung nach DGUV V3"),
        ("T" * 128, "calibration"),
        ("T" * 128, "k" * 64),
    ],
    ids=["space-in-kind", "non-ascii-kind", "long-asset-key", "long-key-and-kind"],
)
def test_readiness_schedule_generates_a_valid_key_for_any_kind_and_asset_key(cast, asset_key, kind):
    # assessmentKind is free text and assetKey may be 128 characters: the generated key must
    # still be a valid readinessAssessmentKey, which the user never typed.
    asset = make_asset(cast.org, asset_key)
    mark = _mark(cast.org)

    r = _schedule(cast, asset, assessment_kind=kind)

    row = ReadinessAssessment.objects.get(id=r.id)
    assert row.assessment_kind == kind
    assert 1 <= len(row.readiness_assessment_key) <= 160
    assert services.RECORD_KEY_RE.fullmatch(row.readiness_assessment_key)
    [event] = _since(cast.org, mark)
    assert event.diff["after"]["readinessAssessmentKey"] == row.readiness_assessment_key


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("assessmentKind", {"assessment_kind": ""}),
        ("assessmentKind", {"assessment_kind": "k" * 65}),
        ("readinessAssessmentKey", {"readiness_assessment_key": "-cal"}),
        ("readinessAssessmentKey", {"readiness_assessment_key": "k" * 161}),
        ("performedByResponsibilityId", {"performed_by_responsibility_id": "ra_UNKNOWN"}),
        ("postureSnapshot", {"posture_snapshot": ["not", "an", "object"]}),
    ],
)
def test_readiness_schedule_names_the_invalid_field(cast, field, kwargs):
    asset = make_asset(cast.org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _schedule(cast, asset, **kwargs)

    assert _issues(exc) == [[field]]
    assert not ReadinessAssessment.objects.exists()
    assert _since(cast.org, mark) == []


def test_readiness_schedule_refuses_another_organizations_responsibility(cast):
    asset = make_asset(cast.org, "TW-001")
    theirs = _lab(cast.other_org)

    with pytest.raises(ValidationFailed) as exc:
        _schedule(cast, asset, performed_by_responsibility_id=theirs.id)

    assert _issues(exc) == [["performedByResponsibilityId"]]
    assert not ReadinessAssessment.objects.exists()


def test_readiness_schedule_refuses_a_taken_key(cast):
    asset = make_asset(cast.org, "TW-001")
    _schedule(cast, asset, readiness_assessment_key="CAL-1")
    mark = _mark(cast.org)

    with pytest.raises(Conflict, match="CAL-1"):
        _schedule(cast, asset, readiness_assessment_key="CAL-1")

    assert ReadinessAssessment.objects.count() == 1
    assert _since(cast.org, mark) == []


def test_readiness_keys_may_repeat_across_organizations(cast):
    ours = make_asset(cast.org, "TW-001")
    theirs = make_asset(cast.other_org, "TW-001")
    _schedule(cast, ours, readiness_assessment_key="CAL-1")

    r = services.readiness_schedule(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        asset_id=theirs.id,
        assessment_kind="calibration",
        readiness_assessment_key="CAL-1",
    )

    assert ReadinessAssessment.objects.get(id=r.id).organization_id == cast.other_org.id


def test_readiness_schedule_refuses_decommissioned_and_foreign_assets(cast):
    asset = make_asset(cast.org, "TW-001")
    services.asset_decommission(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization="DA-7",
    )
    theirs = make_asset(cast.other_org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="decommissioned"):
        _schedule(cast, asset)
    with pytest.raises(NotFound):
        _schedule(cast, theirs)

    assert not ReadinessAssessment.objects.exists()
    assert _since(cast.org, mark) == []


def test_readiness_start(cast):
    r = _schedule(cast, make_asset(cast.org, "TW-001"))
    mark = _mark(cast.org)

    started = _start(cast, r)

    assert started.status == "in-progress"
    row = ReadinessAssessment.objects.get(id=r.id)
    assert (row.status, row.readiness_state) == ("in-progress", "unknown")
    assert row.updated_at > row.created_at
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "readiness.started",
        OPERATOR_ID,
        REASON,
        r.id,
    )
    assert event.diff == {"before": {"status": "scheduled"}, "after": {"status": "in-progress"}}


@pytest.mark.parametrize("via", ["scheduled", "in-progress"])
def test_readiness_complete(cast, via):
    asset = make_asset(cast.org, "TW-001")
    r = _schedule(cast, asset)
    if via == "in-progress":
        _start(cast, r)
    lab = _lab(cast.org)
    performed = now() - timedelta(hours=3)
    until = performed + timedelta(days=365)
    mark = _mark(cast.org)

    done = _complete(
        cast,
        r,
        actor=cast.actor(cast.technician),
        readiness_state="ready",
        performed_at=performed,
        valid_until=until,
        performed_by_responsibility_id=lab.id,
        posture_snapshot={"measuredNm": 24.9, "tolerance": "±4%"},
        evidence_snapshot={"certificateNumber": "DAkkS-2026-0815", "lab": "Acme Cal"},
    )

    assert done.status == "completed"
    row = ReadinessAssessment.objects.get(id=r.id)
    assert (row.status, row.readiness_state) == ("completed", "ready")
    assert (row.performed_at, row.valid_until) == (performed, until)
    assert row.performed_by_responsibility_id == lab.id
    assert row.posture_snapshot == {"measuredNm": 24.9, "tolerance": "±4%"}
    assert row.evidence_snapshot == {"certificateNumber": "DAkkS-2026-0815", "lab": "Acme Cal"}
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "readiness.completed",
        cast.technician.id,
        REASON,
    )
    assert event.diff == {
        "before": {
            "status": via,
            "readinessState": "unknown",
            "performedAt": None,
            "performedByResponsibilityId": None,
            "validUntil": None,
            "postureSnapshot": {},
            "evidenceSnapshot": {},
        },
        "after": {
            "status": "completed",
            "readinessState": "ready",
            "performedAt": api_format(performed),
            "performedByResponsibilityId": lab.id,
            "validUntil": api_format(until),
            "postureSnapshot": {"measuredNm": 24.9, "tolerance": "±4%"},
            "evidenceSnapshot": {"certificateNumber": "DAkkS-2026-0815", "lab": "Acme Cal"},
        },
    }
    assert selectors.asset_readiness(cast.org, asset, at=now()).is_ready
    assert verify_chain(cast.org.id).ok


def test_readiness_complete_with_a_failed_result_makes_the_asset_not_ready(cast):
    asset = make_asset(cast.org, "TW-001")
    calibrate(cast.org, asset)
    r = _schedule(cast, asset)
    performed = now() - timedelta(minutes=5)

    _complete(cast, r, readiness_state="not-ready", performed_at=performed)

    assert ReadinessAssessment.objects.get(id=r.id).readiness_state == "not-ready"
    assert selectors.asset_readiness(cast.org, asset, at=now()).reasons == [
        f"calibration failed on {org_day(cast.org, performed)}"
    ]


@pytest.mark.parametrize("via", ["scheduled", "in-progress"])
def test_readiness_cancel(cast, via):
    r = _schedule(cast, make_asset(cast.org, "TW-001"))
    if via == "in-progress":
        _start(cast, r)
    mark = _mark(cast.org)

    cancelled = _cancel(cast, r)

    assert cancelled.status == "cancelled"
    row = ReadinessAssessment.objects.get(id=r.id)
    assert (row.status, row.performed_at) == ("cancelled", None)
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "readiness.cancelled",
        OPERATOR_ID,
        REASON,
    )
    assert event.diff == {"before": {"status": via}, "after": {"status": "cancelled"}}


def _in_status(cast, status):
    r = _schedule(cast, make_asset(cast.org, "TW-001"))
    if status in ("in-progress", "completed"):
        _start(cast, r)
    if status == "completed":
        _complete(cast, r)
    if status == "cancelled":
        _cancel(cast, r)
    return r


@pytest.mark.parametrize(
    ("status", "move"),
    [
        ("in-progress", "start"),
        ("completed", "start"),
        ("completed", "complete"),
        ("completed", "cancel"),
        ("cancelled", "start"),
        ("cancelled", "complete"),
        ("cancelled", "cancel"),
    ],
)
def test_illegal_assessment_transitions_are_refused(cast, status, move):
    r = _in_status(cast, status)
    before = ReadinessAssessment.objects.get(id=r.id)
    mark = _mark(cast.org)
    target = {"start": "in-progress", "complete": "completed", "cancel": "cancelled"}[move]

    with pytest.raises(Unprocessable) as exc:
        {"start": _start, "complete": _complete, "cancel": _cancel}[move](cast, r)

    assert f"can't go from {status} to {target}" in exc.value.message
    after = ReadinessAssessment.objects.get(id=r.id)
    assert (after.status, after.readiness_state, after.performed_at, after.updated_at) == (
        before.status,
        before.readiness_state,
        before.performed_at,
        before.updated_at,
    )
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("readinessState", {"readiness_state": "passed"}),
        ("readinessState", {"readiness_state": None}),
        ("performedAt", {"performed_at": None}),
        ("performedAt", {"performed_at": now().replace(tzinfo=None)}),
        ("performedAt", {"performed_at": now() + timedelta(days=1)}),
        ("validUntil", {"valid_until": now().replace(tzinfo=None) + timedelta(days=9)}),
        ("validUntil", {"performed_at": T0, "valid_until": T0}),
        ("validUntil", {"performed_at": T0, "valid_until": T0 - timedelta(days=1)}),
        ("performedByResponsibilityId", {"performed_by_responsibility_id": "ra_UNKNOWN"}),
        ("evidenceSnapshot", {"evidence_snapshot": "certificate 42"}),
        ("reason", {"reason": "done"}),
    ],
)
def test_readiness_complete_names_the_invalid_field(cast, field, kwargs):
    r = _schedule(cast, make_asset(cast.org, "TW-001"))
    mark = _mark(cast.org)
    values = {"readiness_state": "ready", "performed_at": now() - timedelta(hours=2)}
    values.update(kwargs)
    reason = values.pop("reason", REASON)

    with pytest.raises(ValidationFailed) as exc:
        services.readiness_complete(
            organization=cast.org,
            actor=operator(cast.org),
            reason=reason,
            assessment_id=r.id,
            **values,
        )

    assert _issues(exc) == [[field]]
    row = ReadinessAssessment.objects.get(id=r.id)
    assert (row.status, row.performed_at) == ("scheduled", None)
    assert _since(cast.org, mark) == []


def test_readiness_transitions_refuse_another_organizations_assessment(cast):
    theirs = services.readiness_schedule(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        asset_id=make_asset(cast.other_org, "TW-001").id,
        assessment_kind="calibration",
    )
    mark = _mark(cast.org)

    for move in (_start, _complete, _cancel):
        with pytest.raises(NotFound):
            move(cast, theirs)

    assert ReadinessAssessment.objects.get(id=theirs.id).status == "scheduled"
    assert _since(cast.org, mark) == []


# --- readiness_bulk_record -------------------------------------------------------------------


def _bulk(cast, records):
    return services.readiness_bulk_record(
        organization=cast.org, actor=operator(cast.org), reason=REASON, records=records
    )


def _cmms_rows(asset, lab_id=None):
    performed = now() - timedelta(days=40)
    return [
        {
            "asset_id": asset.id,
            "readiness_assessment_key": "CMMS-CAL-1",
            "assessment_kind": "calibration",
            "readiness_state": "ready",
            "status": "completed",
            "performed_at": performed,
            "valid_until": performed + timedelta(days=365),
            "performed_by_responsibility_id": lab_id,
            "evidence_snapshot": {"certificateNumber": "C-1"},
            "created_at": performed,
        },
        {
            "asset_id": asset.id,
            "readiness_assessment_key": "CMMS-CAL-2",
            "assessment_kind": "calibration",
            "readiness_state": "unknown",
            "status": "scheduled",
        },
    ]


def test_readiness_bulk_record_writes_one_event_per_record(cast):
    asset = make_asset(cast.org, "TW-001")
    lab = _lab(cast.org)
    records = _cmms_rows(asset, lab.id)
    mark = _mark(cast.org)

    rows = _bulk(cast, records)

    assert [r.readiness_assessment_key for r in rows] == ["CMMS-CAL-1", "CMMS-CAL-2"]
    stored = {r.readiness_assessment_key: r for r in ReadinessAssessment.objects.all()}
    first = stored["CMMS-CAL-1"]
    assert (first.status, first.readiness_state, first.performed_at) == (
        "completed",
        "ready",
        records[0]["performed_at"],
    )
    assert first.created_at == records[0]["performed_at"]
    assert first.performed_by_responsibility_id == lab.id
    assert first.evidence_snapshot == {"certificateNumber": "C-1"}
    assert (stored["CMMS-CAL-2"].status, stored["CMMS-CAL-2"].performed_at) == ("scheduled", None)
    events = _since(cast.org, mark)
    assert [e.subject_id for e in events] == [r.id for r in rows]
    assert {(e.action, e.actor_id, e.reason) for e in events} == {
        ("readiness.recorded", OPERATOR_ID, REASON)
    }
    assert events[0].diff["before"] is None
    assert events[0].diff["after"]["performedAt"] == api_format(records[0]["performed_at"])
    assert len({e.occurred_at for e in events}) == 1
    assert selectors.asset_readiness(cast.org, asset, at=now()).is_ready
    assert verify_chain(cast.org.id).ok


def _bulk_refused(cast, records, error):
    count, mark = ReadinessAssessment.objects.count(), _mark(cast.org)
    with pytest.raises(error) as exc:
        _bulk(cast, records)
    assert ReadinessAssessment.objects.count() == count
    assert _since(cast.org, mark) == []
    return exc


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("records[0].status", {"status": "done"}),
        ("records[0].readinessState", {"readiness_state": "passed"}),
        ("records[0].performedAt", {"performed_at": None}),
        ("records[0].performedAt", {"performed_at": now() + timedelta(days=2)}),
        ("records[0].performedAt", {"performed_at": now().replace(tzinfo=None)}),
        ("records[0].validUntil", {"valid_until": now() - timedelta(days=41)}),
        ("records[0].readinessAssessmentKey", {"readiness_assessment_key": "CMMS CAL 1"}),
        ("records[0].assessmentKind", {"assessment_kind": ""}),
        ("records[0].performedByResponsibilityId", {"performed_by_responsibility_id": "ra_X"}),
    ],
)
def test_readiness_bulk_record_names_the_invalid_record(cast, field, change):
    asset = make_asset(cast.org, "TW-001")
    records = _cmms_rows(asset)
    records[0].update(change)

    exc = _bulk_refused(cast, records, ValidationFailed)

    assert _issues(exc) == [[field]]


def test_readiness_bulk_record_refuses_another_organizations_responsibility(cast):
    asset = make_asset(cast.org, "TW-001")
    theirs = _lab(cast.other_org)

    exc = _bulk_refused(cast, _cmms_rows(asset, theirs.id), ValidationFailed)

    assert _issues(exc) == [["records[0].performedByResponsibilityId"]]


def test_readiness_bulk_record_refuses_another_organizations_asset(cast):
    theirs = make_asset(cast.other_org, "TW-001")

    _bulk_refused(cast, _cmms_rows(theirs), NotFound)


def test_readiness_bulk_record_refuses_a_taken_key(cast):
    asset = make_asset(cast.org, "TW-001")
    _schedule(cast, asset, readiness_assessment_key="CMMS-CAL-2")

    _bulk_refused(cast, _cmms_rows(asset), Conflict)


def test_readiness_bulk_record_on_a_decommissioned_asset_takes_history_only(cast):
    asset = make_asset(cast.org, "TW-001")
    services.asset_decommission(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization="DA-7",
    )
    completed, scheduled = _cmms_rows(asset)

    _bulk_refused(cast, [completed, scheduled], Unprocessable)
    [row] = _bulk(cast, [completed])

    assert ReadinessAssessment.objects.get(id=row.id).status == "completed"
