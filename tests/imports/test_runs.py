"""Import runs through the services: a preview changes nothing, apply writes the whole plan
through the asset services with the run in every audit event, a re-run changes nothing, the
register's own fields are conflicts, a plan made on an older register is refused, and the
roles of the policy table hold. Both databases."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core import sql
from registra.core.audit import verify_chain
from registra.core.errors import Forbidden, NotFound, Unprocessable
from registra.core.models import AuditChainHead
from registra.imports import planning, selectors, services
from registra.imports.models import ImportPlanItem, ImportRun
from registra.imports.services import ImportFailed, import_run_apply, import_run_discard
from registra.organizations.models import Member
from tests.cast import Cast, audit_since, make_asset
from tests.imports.helpers import REASON, export, make_profile, row, run

pytestmark = pytest.mark.django_db


def _mark(cast: Cast) -> int:
    return AuditChainHead.objects.get(organization_id=cast.org.id).seq


def _kinds(r: ImportRun) -> dict[str, int]:
    return {k: v for k, v in r.counts.items() if v}


def _items(r: ImportRun, kind: str) -> list[ImportPlanItem]:
    return list(ImportPlanItem.objects.filter(run=r, kind=kind).order_by("seq"))


def test_a_preview_changes_nothing_and_apply_writes_the_whole_plan(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    holder = cast.technician.external_employee_id
    source = export(
        tmp_path / "amos.csv",
        [row("TW-1", Issued_To=holder), row("TW-2", Status="Out for Calibration")],
    )
    mark = _mark(cast)
    preview = run(cast, profile, source)
    assert preview.status == "planned"
    assert _kinds(preview) == {"create": 2, "assessment": 2, "handoff": 1}
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert [e.action for e in audit_since(cast.org, mark)] == ["import.planned"]

    mark = _mark(cast)
    applied = import_run_apply(
        organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, run_id=preview.id
    )
    assert applied.status == "applied"
    tw1 = Asset.objects.get(organization=cast.org, asset_key="TW-1")
    tw2 = Asset.objects.get(organization=cast.org, asset_key="TW-2")
    assert (tw1.status, tw2.status) == ("active", "inactive")
    assert tw1.asset_snapshot == {"location": "Hangar 1", "serialNumber": "SN-TW-1"}
    assert tw1.source_ref_snapshot["importRunId"] == preview.id
    assert tw1.source_ref_snapshot["sourceRow"]["Issued To"] == holder
    custody = CustodyAssignment.objects.get(asset=tw1, status="active")
    assert custody.subject_resource_id == cast.technician.id
    calibration = ReadinessAssessment.objects.get(asset=tw1)
    assert calibration.performed_at.date() <= date(2026, 11, 3)
    assert (calibration.readiness_state, calibration.status) == ("ready", "completed")
    events = audit_since(cast.org, mark)
    assert [e.action for e in events].count("asset.created") == 2
    writes = [e for e in events if e.subject_type != "import-run"]
    assert writes and all(e.diff["importRunId"] == preview.id for e in writes)
    assert all(e.actor_id == cast.editor.id for e in events)
    assert events[-1].action == "import.applied"
    assert verify_chain(cast.org.id).ok


def test_running_the_same_file_again_changes_nothing(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    rows = [row(f"TW-{i}", Issued_To=cast.technician.external_employee_id) for i in range(5)]
    source = export(tmp_path / "amos.csv", rows)
    run(cast, profile, source, apply="yes")
    mark = _mark(cast)
    again = run(cast, profile, source, apply="yes")
    assert again.status == "applied"
    assert _kinds(again) == {"unchanged": 5}
    actions = [e.action for e in audit_since(cast.org, mark)]
    assert actions == ["import.planned", "import.applied"]


def test_a_register_owned_field_is_a_conflict_never_an_overwrite(cast: Cast, tmp_path) -> None:
    asset = make_asset(cast.org, "TW-7", display_name="Torque wrench, 3/8 in", status="active")
    profile = make_profile(cast, calibration=None, custody=None)
    source = export(
        tmp_path / "amos.csv", [row("TW-7", Description="TORQUE WRENCH 3/8", Location="Bay 4")]
    )
    planned = run(cast, profile, source, apply="yes")
    (conflict,) = _items(planned, "conflict")
    assert conflict.detail["field"] == "displayName"
    assert conflict.detail["register"] == "Torque wrench, 3/8 in"
    assert conflict.detail["cmms"] == "TORQUE WRENCH 3/8"
    (update,) = _items(planned, "update")
    assert update.detail["after"]["location"] == "Bay 4"
    asset.refresh_from_db()
    assert asset.display_name == "Torque wrench, 3/8 in"
    assert asset.asset_snapshot["location"] == "Bay 4"


def test_a_plan_made_on_an_older_register_is_refused(cast: Cast, tmp_path) -> None:
    asset = make_asset(cast.org, "TW-8", status="active")
    profile = make_profile(cast, calibration=None, custody=None)
    preview = run(cast, profile, export(tmp_path / "a.csv", [row("TW-8", Location="Bay 9")]))
    asset_services.asset_update(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason="Moved to the calibration lab",
        asset_id=asset.id,
        description="Sent to the lab",
    )
    with pytest.raises(ImportFailed, match="the register changed since this plan was made"):
        import_run_apply(
            organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, run_id=preview.id
        )
    preview.refresh_from_db()
    assert preview.status == "refused"
    asset.refresh_from_db()
    assert asset.asset_snapshot.get("location") != "Bay 9"
    with pytest.raises(Unprocessable, match="only a planned run applies"):
        import_run_apply(
            organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, run_id=preview.id
        )


def test_a_discarded_plan_applies_nothing(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    preview = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1")]))
    import_run_discard(
        organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, run_id=preview.id
    )
    with pytest.raises(Unprocessable):
        import_run_apply(
            organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, run_id=preview.id
        )
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_rows_with_errors_over_the_threshold_wait_for_review(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast, error_threshold=1)
    rows = [row("TW-1"), row("TW-2", Status="Scrapped"), row("TW-3", Cal_Due="31.02.2027")]
    source = export(tmp_path / "a.csv", rows)
    waiting = run(cast, profile, source, apply="auto")
    assert waiting.status == "planned" and waiting.rows_with_errors == 2
    assert not Asset.objects.filter(organization=cast.org).exists()
    within = run(cast, profile, export(tmp_path / "b.csv", rows[:2]), apply="auto")
    assert within.status == "applied"
    keys = set(Asset.objects.filter(organization=cast.org).values_list("asset_key", flat=True))
    assert keys == {"TW-1"}  # the row with an error is left out, whole


@pytest.mark.parametrize(
    ("absent", "status"), [("ignore", "active"), ("flag", "active"), ("mark-inactive", "inactive")]
)
def test_assets_absent_from_the_file(cast: Cast, tmp_path, absent: str, status: str) -> None:
    gone = make_asset(cast.org, "TW-GONE", status="active", source_kind="cmms-import")
    manual = make_asset(cast.org, "MAN-1", status="active", source_kind="manual")
    profile = make_profile(cast, absent=absent)
    done = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1")]), apply="yes")
    items = _items(done, "absent")
    assert [i.asset_key for i in items] == ([] if absent == "ignore" else ["TW-GONE"])
    gone.refresh_from_db()
    manual.refresh_from_db()
    assert (gone.status, manual.status) == (status, "active")  # never decommissioned


def test_a_row_the_import_cannot_use_still_names_its_asset(cast: Cast, tmp_path) -> None:
    # Its date is impossible: the row is an error, but the asset is in the file, so it is
    # not absent (mark-inactive would otherwise take it out of service for a typo).
    kept = make_asset(cast.org, "TW-1", status="active", source_kind="cmms-import")
    profile = make_profile(cast, absent="mark-inactive")
    done = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1", Last_Cal="31.02.2026")]))
    assert _kinds(done) == {"error": 1}
    assert _items(done, "absent") == []
    kept.refresh_from_db()
    assert kept.status == "active"


def test_an_employee_id_names_the_member_who_has_it_now(cast: Cast, tmp_path) -> None:
    # A revoked member kept the employee id now given to the technician (it is unique among
    # members who are not revoked): the CMMS means the technician.
    holder = cast.technician.external_employee_id
    revoked = Member.objects.filter(id=cast.revoked.id)
    revoked.update(external_employee_id=holder, email="zz.revoked@example.test")  # read last
    profile = make_profile(cast)
    run(cast, profile, export(tmp_path / "a.csv", [row("TW-1", Issued_To=holder)]), apply="yes")
    custody = CustodyAssignment.objects.get(organization=cast.org, status="active")
    assert custody.subject_resource_id == cast.technician.id


def test_roles_and_tenants(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    source = export(tmp_path / "a.csv", [row("TW-1")])
    for member in (cast.viewer, cast.auditor):
        with pytest.raises(Forbidden):
            run(cast, profile, source, member=member)
    with pytest.raises(Forbidden):  # editors run imports; admins manage the profiles
        services.import_profile_create(
            organization=cast.org,
            actor=cast.actor(cast.editor),
            reason=REASON,
            definition={"name": "x"},
        )
    with pytest.raises(NotFound):  # another organization's profile does not exist for it
        services.import_run_start(
            organization=cast.other_org,
            actor=cast.actor(cast.outsider),
            reason=REASON,
            profile_id=profile.id,
            source=source,
            trigger="web",
        )
    assert not ImportRun.objects.exists()
    assert selectors.run_list(cast.other_org) == []


def test_many_absent_assets_are_written_in_batches(cast: Cast, tmp_path, monkeypatch) -> None:
    # More absent assets than one batch of items: written after the register was read (on
    # PostgreSQL the read is a stream, and its connection can write nothing until it ends).
    monkeypatch.setattr(planning, "BATCH_ROWS", 3)
    for i in range(7):
        make_asset(cast.org, f"OLD-{i}", status="active", source_kind="cmms-import")
    profile = make_profile(cast, absent="mark-inactive")
    done = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1")]), apply="yes")
    assert done.counts["absent"] == 7
    statuses = Asset.objects.filter(organization=cast.org, asset_key__startswith="OLD-")
    assert set(statuses.values_list("status", flat=True)) == {"inactive"}


def test_a_profile_change_that_drops_a_table_is_a_change(cast: Cast) -> None:
    profile = make_profile(cast)
    mark = _mark(cast)
    definition = {**profile.definition}
    definition.pop("calibration")
    definition["owned_fields"] = [f for f in definition["owned_fields"] if f != "calibration"]
    changed = services.import_profile_update(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        profile_id=profile.id,
        definition=definition,
    )
    assert "calibration" not in changed.definition
    (event,) = audit_since(cast.org, mark)
    assert event.action == "import-profile.updated"
    assert event.diff["before"]["calibration"]["last_column"] == "Last Cal"
    assert event.diff["after"]["calibration"] is None


def _random_page_cost() -> str | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_run_plans_its_reads_as_reads_of_cached_pages_for_its_transaction_only(
    cast: Cast, tmp_path
) -> None:
    """Decision 0022: the import probes the register's indexes 2,000 keys at a time."""
    before = _random_page_cost()
    seen: list[str | None] = []
    source = export(tmp_path / "amos.csv", [row("TW-1"), row("TW-2")])
    applied = services.import_run_start(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        profile_id=make_profile(cast).id,
        source=source,
        trigger="web",
        apply="yes",
        progress=lambda stage, done, total: seen.append(_random_page_cost()),
    )
    assert applied.status == "applied"
    assert seen, "the run reported its progress while planning and applying"
    if connection.vendor == "postgresql":
        assert set(seen) == {str(sql.CACHED_RANDOM_PAGE_COST)} != {before}
    else:
        assert set(seen) == {None}
    assert _random_page_cost() == before  # SET LOCAL: gone with the run's transaction
