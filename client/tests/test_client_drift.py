"""The drift comparison on its own: a register built from API-shaped records against a small
export (no server; the end-to-end check against a running server is in tests/client)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from client_samples import csv_bytes, profile, tool
from registra_client import read_table
from registra_client._drift import Register, compare, not_compared
from registra_client._findings import CUSTODY, FIELD, ONLY_IN_CMMS, ONLY_IN_REGISTER, READINESS
from registra_client._records import Asset, CustodyAssignment, ReadinessAssessment

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = "2026-11-01T08:00:00.000Z"
HOLDERS = {"E10401": "user_A", "E10402": "user_B"}


def _asset(key: str, **fields: Any) -> Asset:
    data = {
        "id": f"asset_{key}",
        "assetKey": key,
        "assetKind": "calibrated-tool",
        "displayName": f"Torque wrench {key}",
        "description": "",
        "sourceKind": "cmms-import",
        "status": "active",
        "custodianResponsibilityId": None,
        "commissionedAt": None,
        "decommissionedAt": None,
        "createdAt": STAMP,
        "updatedAt": STAMP,
    }
    data.update(fields)
    return Asset.from_api(data)


def _custody(key: str, user: str, **fields: Any) -> CustodyAssignment:
    data = {
        "id": f"ascust_{key}{user}",
        "assetId": f"asset_{key}",
        "assignmentKey": f"c-{key}-{user}",
        "assignmentKind": "primary",
        "subjectModuleKey": "membership",
        "subjectResourceType": "member-user",
        "subjectResourceId": user,
        "status": "active",
        "startedAt": STAMP,
        "endedAt": None,
        "createdAt": STAMP,
        "updatedAt": STAMP,
    }
    data.update(fields)
    return CustodyAssignment.from_api(data)


def _calibration(
    key: str, performed: str, state: str = "ready", **fields: Any
) -> ReadinessAssessment:
    data = {
        "id": f"asrdy_{key}{performed}",
        "assetId": f"asset_{key}",
        "readinessAssessmentKey": f"r-{key}-{performed}",
        "assessmentKind": "calibration",
        "readinessState": state,
        "status": "completed",
        "performedAt": performed,
        "performedByResponsibilityId": None,
        "createdAt": STAMP,
        "updatedAt": STAMP,
    }
    data.update(fields)
    return ReadinessAssessment.from_api(data)


def _register(*keys: str) -> Register:
    """Each key an in-service tool held by user_A, calibrated on 3 Nov 2026 (Berlin)."""
    register = Register()
    for key in keys:
        register.add_asset(_asset(key))
        register.add_custody(_custody(key, "user_A"))
        # Midnight in Berlin is 23:00 UTC the day before: the CMMS's date is Berlin's.
        register.add_assessment(_calibration(key, "2026-11-02T23:00:00.000Z"))
    return register


def _compare(tmp_path: Path, register: Register, rows: list[list[str]], **kw: Any) -> Any:
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    prof = kw.pop("prof", None) or profile()
    with read_table(path, prof) as table:
        return compare(
            register,
            table,
            prof,
            table.columns,
            holders=kw.pop("holders", HOLDERS),
            zone=BERLIN,
            **kw,
        )


def _found(result: Any) -> set[tuple[str, str, str | None, str | None, str | None]]:
    return {(f.kind, f.asset_key, f.field, f.cmms, f.register) for f in result.findings}


def test_an_export_that_agrees_finds_nothing(tmp_path: Path) -> None:
    result = _compare(tmp_path, _register("TW-1", "TW-2"), [tool("TW-1"), tool("TW-2")])
    assert result.findings == [] and result.row_issues == [] and result.rows == 2


def test_each_kind_of_drift(tmp_path: Path) -> None:
    register = _register("TW-1", "TW-2", "TW-3", "TW-4", "TW-5")
    rows = [
        tool("TW-1", Description="Torque wrench, renamed"),
        tool("TW-2", Status="Out for Calibration"),
        tool("TW-3", Issued_To="E10402"),
        tool("TW-4", Last_Cal="04.11.2026", Cal_Due="04.11.2027"),
        tool("TW-9"),
    ]  # TW-5 is missing from the export
    assert _found(_compare(tmp_path, register, rows)) == {
        (FIELD, "TW-1", "displayName", "Torque wrench, renamed", "Torque wrench TW-1"),
        (FIELD, "TW-2", "status", "inactive", "active"),
        (CUSTODY, "TW-3", "custody", "E10402", "E10401 (user_A)"),
        (READINESS, "TW-4", "calibration", "2026-11-04 ready (due 2027-11-04)", "2026-11-03 ready"),
        (ONLY_IN_CMMS, "TW-9", None, "Torque wrench TW-9", None),
        (ONLY_IN_REGISTER, "TW-5", None, None, "Torque wrench TW-5"),
    }


def test_custody_matches_members_and_names_who_is_unknown(tmp_path: Path) -> None:
    register = _register("TW-1", "TW-2", "TW-3")
    register.holders.pop("asset_TW-3")  # nobody holds TW-3 in the register
    rows = [tool("TW-1", Issued_To="E77777"), tool("TW-2", Issued_To=""), tool("TW-3")]
    assert _found(_compare(tmp_path, register, rows)) == {
        (CUSTODY, "TW-1", "custody", "E77777 (no such member)", "E10401 (user_A)"),
        (CUSTODY, "TW-2", "custody", None, "E10401 (user_A)"),
        (CUSTODY, "TW-3", "custody", "E10401", None),
    }


def test_only_active_primary_custody_and_the_latest_completed_calibration_count(
    tmp_path: Path,
) -> None:
    register = _register("TW-1")
    register.add_custody(_custody("TW-1", "user_B", status="ended"))
    register.add_custody(_custody("TW-1", "user_B", assignmentKind="loan"))
    register.add_assessment(_calibration("TW-1", "2026-10-01T10:00:00.000Z"))  # older
    register.add_assessment(_calibration("TW-1", "2026-11-20T10:00:00.000Z", status="scheduled"))
    register.add_assessment(
        _calibration("TW-1", "2026-11-21T10:00:00.000Z", assessmentKind="inspection")
    )
    assert _compare(tmp_path, register, [tool("TW-1")]).findings == []


def test_which_register_assets_count_as_missing_from_the_export(tmp_path: Path) -> None:
    register = _register("TW-1")
    register.add_asset(_asset("TW-2", status="decommissioned", decommissionedAt=STAMP))
    register.add_asset(_asset("PC-1", sourceKind="manual"))  # not the CMMS's
    result = _compare(tmp_path, register, [tool("TW-1")])
    assert result.findings == []


def test_unreadable_rows_and_duplicate_keys_are_reported_not_compared(tmp_path: Path) -> None:
    register = _register("TW-1", "TW-2")
    rows = [tool("TW-1"), tool("TW-2", Last_Cal="31.02.2026"), tool("TW-1", Description="again")]
    result = _compare(tmp_path, register, rows)
    assert result.findings == []  # TW-2's row could not be read, so it is not "missing"
    assert [(i.line, i.column) for i in result.row_issues] == [(3, "Last Cal"), (4, "Equipment No")]
    assert "duplicate key: also on line 2" in result.row_issues[1].reason


def test_dates_need_the_organizations_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes([tool("TW-1")]))
    prof = profile()
    with read_table(path, prof) as table, pytest.raises(ValueError, match="time zone"):
        compare(_register("TW-1"), table, prof, table.columns, holders=HOLDERS)


def test_what_api_v1_cannot_show_is_named_as_not_compared() -> None:
    assert not_compared(profile(), holders_known=True) == ["location"]
    assert not_compared(profile(), holders_known=False) == ["location", "custody"]


def test_the_register_keeps_little_per_asset() -> None:
    register = _register("TW-1")
    held = register.assets["TW-1"]
    assert held.id == "asset_TW-1" and held.status == "active"
    assert register.calibrations["asset_TW-1"] == (datetime(2026, 11, 2, 23, tzinfo=UTC), "ready")
