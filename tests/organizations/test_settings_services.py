"""The administration services of issue 8: responsibilities (create, reassign, end),
classification levels, required assessment kinds with validity periods (and the readiness they
recompute), and the organization's settings. Each test checks the rows and the audit events,
and that a refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.assets.models import AssetReadiness
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import now
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.models import ClassificationLevel, Organization
from tests.cast import (
    REASON,
    Cast,
    audit_mark,
    audit_since,
    calibrate,
    calibrated_without_due_date,
    issue_paths,
    make_asset,
    operator,
)

pytestmark = pytest.mark.django_db
WHY = "Set up by the quality manager"


def _as(cast: Cast, member=None):  # type: ignore[no-untyped-def]
    actor = cast.actor(member or cast.admin)
    return {"organization": cast.org, "actor": actor, "reason": WHY}


# --- responsibilities ------------------------------------------------------------------------


def test_create_reassign_and_end_a_responsibility(cast: Cast) -> None:
    mark = audit_mark(cast.org)
    ra = org_services.responsibility_create(
        **_as(cast, cast.editor),
        responsibility_key="toolbox-a",
        title="Custodian of toolbox A",
        holder_id=cast.technician.id,
    )
    assert ra.holder_id == cast.technician.id
    ra = org_services.responsibility_reassign(
        **_as(cast, cast.editor), responsibility_id=ra.id, holder_id=cast.viewer.id
    )
    assert ra.holder_id == cast.viewer.id
    ra = org_services.responsibility_end(**_as(cast, cast.editor), responsibility_id=ra.id)
    ra.refresh_from_db()
    assert ra.holder_id is None
    events = audit_since(cast.org, mark)
    assert [e.action for e in events] == [
        "responsibility.created",
        "responsibility.reassigned",
        "responsibility.ended",
    ]
    assert {e.subject_id for e in events} == {ra.id}
    assert events[1].diff["before"]["holderId"] == cast.technician.id
    assert events[1].diff["after"]["holderId"] == cast.viewer.id
    assert events[2].diff["after"]["holderId"] is None
    assert all(e.reason == WHY and e.actor_id == cast.editor.id for e in events)


def test_responsibility_refusals_name_the_field_and_write_nothing(cast: Cast) -> None:
    ra = org_services.responsibility_create(
        **_as(cast), responsibility_key="toolbox-a", title="Toolbox A", holder_id=cast.editor.id
    )
    mark = audit_mark(cast.org)
    with pytest.raises(Conflict) as taken:
        org_services.responsibility_create(
            **_as(cast), responsibility_key="toolbox-a", title="Another"
        )
    assert taken.value.issues == [
        {
            "path": ["responsibilityKey"],
            "message": "a responsibility with key 'toolbox-a' already exists",
        }
    ]
    with pytest.raises(ValidationFailed) as bad:
        org_services.responsibility_create(**_as(cast), responsibility_key="-x", title="X")
    assert issue_paths(bad) == [["responsibilityKey"]]
    with pytest.raises(ValidationFailed) as same:
        org_services.responsibility_reassign(
            **_as(cast), responsibility_id=ra.id, holder_id=cast.editor.id
        )
    assert issue_paths(same) == [["holderId"]]
    with pytest.raises(Unprocessable):  # a revoked member may hold nothing
        org_services.responsibility_reassign(
            **_as(cast), responsibility_id=ra.id, holder_id=cast.revoked.id
        )
    with pytest.raises(NotFound):  # another organization's member
        org_services.responsibility_reassign(
            **_as(cast), responsibility_id=ra.id, holder_id=cast.outsider.id
        )
    org_services.responsibility_end(**_as(cast), responsibility_id=ra.id)
    mark = audit_mark(cast.org)
    with pytest.raises(Unprocessable, match="nobody holds toolbox-a"):
        org_services.responsibility_end(**_as(cast), responsibility_id=ra.id)
    foreign = org_services.responsibility_create(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        responsibility_key="toolbox-a",
        title="Harbor toolbox",
        holder_id=cast.outsider.id,
    )
    with pytest.raises(NotFound):
        org_services.responsibility_end(**_as(cast), responsibility_id=foreign.id)
    assert audit_since(cast.org, mark) == []


# --- classification levels -------------------------------------------------------------------


def test_levels_are_offered_highest_rank_first_and_snapshots_stay_copies(cast: Cast) -> None:
    mark = audit_mark(cast.org)
    low = org_services.classification_level_create(
        **_as(cast), label="Internal", rank=1, severity="low"
    )
    org_services.classification_level_create(
        **_as(cast), label="Flight-safety critical", rank=4, severity="critical"
    )
    assert org_selectors.classification_levels(cast.org) == [
        {"label": "Flight-safety critical", "rank": 4, "severity": "critical"},
        {"label": "Internal", "rank": 1, "severity": "low"},
    ]
    asset = make_asset(
        cast.org,
        "TW-1",
        classification_snapshot={"level": {"label": "Internal", "rank": 1, "severity": "low"}},
    )
    org_services.classification_level_update(
        **_as(cast), level_id=low.id, label="Internal use", rank=2, severity="moderate"
    )
    org_services.classification_level_remove(**_as(cast), level_id=low.id)
    asset.refresh_from_db()
    assert asset.classification_snapshot["level"] == {
        "label": "Internal",
        "rank": 1,
        "severity": "low",
    }
    assert [lvl["label"] for lvl in org_selectors.classification_levels(cast.org)] == [
        "Flight-safety critical"
    ]
    events = [e for e in audit_since(cast.org, mark) if e.subject_type == "classification-level"]
    assert [e.action for e in events] == [
        "classification-level.created",
        "classification-level.created",
        "classification-level.changed",
        "classification-level.removed",
    ]
    assert events[2].diff["before"] == {"label": "Internal", "rank": 1, "severity": "low"}
    assert events[2].diff["after"] == {"label": "Internal use", "rank": 2, "severity": "moderate"}
    assert events[3].diff["after"] is None


def test_level_refusals_name_every_field(cast: Cast) -> None:
    org_services.classification_level_create(**_as(cast), label="Internal", rank=1, severity="low")
    mark = audit_mark(cast.org)
    with pytest.raises(ValidationFailed) as bad:
        org_services.classification_level_create(**_as(cast), label="", rank=-1, severity="extreme")
    assert issue_paths(bad) == [["label"], ["rank"], ["severity"]]
    for field, kwargs in (
        ("label", {"label": "Internal", "rank": 2}),
        ("rank", {"label": "Secret", "rank": 1}),
    ):
        with pytest.raises(Conflict) as twin:
            org_services.classification_level_create(**_as(cast), severity="high", **kwargs)
        assert [i["path"] for i in twin.value.issues or []] == [[field]]
    with pytest.raises(NotFound):
        org_services.classification_level_remove(**_as(cast), level_id="clvl_nope")
    assert ClassificationLevel.objects.filter(organization=cast.org).count() == 1
    assert audit_since(cast.org, mark) == []


# --- required assessment kinds and validity periods ------------------------------------------


def _stored(asset) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    row = AssetReadiness.objects.get(asset_id=asset.id)
    return row.state, row.reasons


def test_requiring_a_kind_makes_assets_of_that_kind_not_ready_and_no_other(cast: Cast) -> None:
    tug = make_asset(cast.org, "TUG-1", asset_kind="vehicle")
    tool = make_asset(cast.org, "TW-1")
    calibrate(cast.org, tool)
    tool_row = AssetReadiness.objects.get(asset_id=tool.id)
    assert _stored(tug) == ("ready", [])
    mark = audit_mark(cast.org)
    asset_services.readiness_requirement_set(
        **_as(cast), asset_kind="vehicle", assessment_kind="inspection"
    )
    assert _stored(tug) == ("not-ready", ["inspection never completed"])
    untouched = AssetReadiness.objects.get(asset_id=tool.id)
    assert untouched.computed_at == tool_row.computed_at  # not recomputed
    (event,) = audit_since(cast.org, mark)
    assert event.action == "organization.readiness-requirements-changed"
    assert event.diff["after"] == {
        "readinessRequirements": {"calibrated-tool": ["calibration"], "vehicle": ["inspection"]}
    }
    asset_services.readiness_requirement_remove(
        **_as(cast), asset_kind="vehicle", assessment_kind="inspection"
    )
    assert _stored(tug) == ("ready", [])


def test_a_validity_period_makes_an_assessment_without_a_due_date_overdue(cast: Cast) -> None:
    tool = make_asset(cast.org, "TW-1")
    performed = now() - timedelta(days=40)
    calibrated_without_due_date(cast.org, tool, performed)
    assert _stored(tool) == ("ready", [])  # no due date, no period: it never lapses
    mark = audit_mark(cast.org)
    asset_services.readiness_requirement_set(
        **_as(cast), asset_kind="calibrated-tool", assessment_kind="calibration", validity_days=30
    )
    due = performed + timedelta(days=30)
    day = due.astimezone(cast.org.zone).date().isoformat()
    assert _stored(tool) == ("not-ready", [f"calibration overdue since {day}"])
    (event,) = audit_since(cast.org, mark)
    assert event.diff["before"] == {"readinessValidity": {}}
    assert event.diff["after"] == {"readinessValidity": {"calibrated-tool": {"calibration": 30}}}
    asset_services.readiness_requirement_set(
        **_as(cast), asset_kind="calibrated-tool", assessment_kind="calibration", validity_days=60
    )
    row = AssetReadiness.objects.get(asset_id=tool.id)
    assert (row.state, row.next_due) == ("ready", performed + timedelta(days=60))
    assert Organization.objects.get(id=cast.org.id).readiness_validity == {
        "calibrated-tool": {"calibration": 60}
    }


def test_a_record_with_a_due_date_keeps_it_whatever_the_period(cast: Cast) -> None:
    tool = make_asset(cast.org, "TW-1")
    calibrate(cast.org, tool, days_valid=180)  # performed yesterday, due in 179 days
    asset_services.readiness_requirement_set(
        **_as(cast), asset_kind="calibrated-tool", assessment_kind="calibration", validity_days=1
    )
    assert _stored(tool) == ("ready", [])


def test_requirement_refusals_write_nothing(cast: Cast) -> None:
    mark = audit_mark(cast.org)
    with pytest.raises(ValidationFailed) as bad:
        asset_services.readiness_requirement_set(
            **_as(cast), asset_kind="vehicle", assessment_kind="inspection", validity_days=0
        )
    assert issue_paths(bad) == [["validityDays"]]
    with pytest.raises(ValidationFailed) as blank:
        asset_services.readiness_requirement_set(
            **_as(cast), asset_kind=" ", assessment_kind="inspection"
        )
    assert issue_paths(blank) == [["assetKind"]]
    with pytest.raises(Unprocessable, match="vehicle does not require inspection"):
        asset_services.readiness_requirement_remove(
            **_as(cast), asset_kind="vehicle", assessment_kind="inspection"
        )
    with pytest.raises(ValidationFailed) as stray:
        asset_services.organization_set_readiness_requirements(
            **_as(cast), requirements={}, validity={"vehicle": {"inspection": 30}}
        )
    assert issue_paths(stray) == [["readinessValidity"]]
    assert audit_since(cast.org, mark) == []
    cast.org.refresh_from_db()
    assert cast.org.readiness_validity == {}


def _recompute_queries(cast: Cast, kind: str, assets: int) -> int:
    for i in range(assets):
        make_asset(cast.org, f"{kind}-{i}", asset_kind=kind)
    with CaptureQueriesContext(connection) as queries:
        asset_services.readiness_requirement_set(
            **_as(cast), asset_kind=kind, assessment_kind="inspection", validity_days=90
        )
    assert AssetReadiness.objects.filter(asset_kind=kind, state="not-ready").count() == assets
    return len(queries)


def test_the_recompute_runs_the_same_queries_for_3_or_30_assets(cast: Cast) -> None:
    assert _recompute_queries(cast, "gpu", 3) == _recompute_queries(cast, "tug", 30)


# --- organization settings -------------------------------------------------------------------


def _settings(**overrides):  # type: ignore[no-untyped-def]
    values = {
        "name": "Skyline MRO GmbH",
        "timezone": "Europe/Vienna",
        "locale": "de-AT",
        "require_mfa": True,
        "due_soon_days": 14,
    }
    return {**values, **overrides}


def test_update_settings_stores_them_and_audits_what_changed(cast: Cast) -> None:
    mark = audit_mark(cast.org)
    org = org_services.organization_update_settings(**_as(cast), **_settings())
    stored = Organization.objects.get(id=cast.org.id)
    assert (stored.name, stored.timezone, stored.locale, stored.require_mfa) == (
        "Skyline MRO GmbH",
        "Europe/Vienna",
        "de-AT",
        True,
    )
    assert stored.due_soon_days == 14 and org.due_soon_days == 14
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.subject_id, event.reason) == (
        "organization.settings-changed",
        cast.org.id,
        WHY,
    )
    assert event.diff["before"] == {
        "name": "Skyline MRO",
        "timezone": "Europe/Berlin",
        "locale": "en-US",
        "requireMfa": False,
        "dueSoonDays": 30,
    }
    assert event.diff["after"]["dueSoonDays"] == 14
    org_services.organization_update_settings(**_as(cast), **_settings())  # no change
    assert len(audit_since(cast.org, mark)) == 1


@pytest.mark.parametrize(
    ("overrides", "paths"),
    [
        ({"timezone": "Mars/Olympus"}, [["timezone"]]),
        ({"due_soon_days": 0}, [["dueSoonDays"]]),
        ({"due_soon_days": 366}, [["dueSoonDays"]]),
        ({"locale": "english please"}, [["locale"]]),
        ({"name": "", "require_mfa": "yes"}, [["name"], ["requireMfa"]]),
    ],
)
def test_bad_settings_are_refused_naming_each_field(cast: Cast, overrides, paths) -> None:  # type: ignore[no-untyped-def]
    mark = audit_mark(cast.org)
    with pytest.raises(ValidationFailed) as bad:
        org_services.organization_update_settings(**_as(cast), **_settings(**overrides))
    assert issue_paths(bad) == paths
    assert Organization.objects.get(id=cast.org.id).name == "Skyline MRO"
    assert audit_since(cast.org, mark) == []
