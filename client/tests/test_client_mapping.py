"""Mapping rows to register fields: columns the file lacks, value maps, defaults, types, the
holder, the calibration, and every problem of a row at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from client_samples import HEADER, profile
from registra_client import (
    Calibration,
    MappedRow,
    Mapper,
    ProfileError,
    Row,
    RowIssue,
    load_profile,
    read_table,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAL = {
    "last_column": "Last Cal",
    "due_column": "Cal Due",
    "result_column": "Cal Result",
    "results": {"PASS": "ready", "FAIL": "not-ready", "Limited": "conditionally-ready"},
}
COLUMNS = [*HEADER, "Cal Result", "Cost", "Since", "Range"]


def row(line: int = 2, issues: tuple[RowIssue, ...] = (), **cells: str) -> Row:
    values = {
        "Equipment No": "TW-1",
        "Description": "Torque wrench",
        "Status": "In Service",
        "Location": "Hangar 1",
        "Issued To": "E10401",
        "Last Cal": "03.11.2026",
        "Cal Due": "03.11.2027",
        "Cal Result": "PASS",
        "Cost": "1234,50",
        "Since": "01.02.2020",
        "Range": "20-100 N·m",
    }
    values.update({k.replace("_", " "): v for k, v in cells.items()})
    return Row(line, values, issues)


def mapper(**overrides) -> Mapper:
    overrides.setdefault("calibration", CAL)
    return Mapper(profile(**overrides), COLUMNS)


def test_a_row_maps_to_typed_fields() -> None:
    columns = {
        "assetKey": "Equipment No",
        "displayName": "Description",
        "status": "Status",
        "location": "Location",
        "acquisition.costEur": "Cost",
        "commissionedAt": "Since",
        "specifications.Range": "Range",
    }
    source = row(Equipment_No="  TW-1 ", Description=" Torque wrench ")
    mapped = mapper(columns=columns).map(source)
    assert mapped == MappedRow(
        line=2,
        key="TW-1",
        fields={
            "sourceKind": "cmms-import",
            "assetKind": "calibrated-tool",
            "displayName": "Torque wrench",
            "status": "active",
            "location": "Hangar 1",
            "acquisition.costEur": 1234.5,
            "commissionedAt": date(2020, 2, 1),
            "specifications.Range": "20-100 N·m",
        },
        holder="E10401",
        calibration=Calibration(date(2026, 11, 3), date(2027, 11, 3), "ready"),
        source_row=source.values,
    )


def test_columns_the_file_lacks_are_a_profile_error_naming_each() -> None:
    with pytest.raises(ProfileError) as raised:
        Mapper(profile(calibration=CAL), ["equipment no", "Description", "Status", "Location"])
    issues = dict(raised.value.issues)
    assert set(issues) == {
        "columns.assetKey",
        "custody.holder_column",
        "calibration.last_column",
        "calibration.due_column",
        "calibration.result_column",
    }
    assert issues["columns.assetKey"] == (
        "column 'Equipment No' is not in the file (did you mean 'equipment no'?); its columns "
        "are: equipment no, Description, Status, Location"
    )
    assert issues["custody.holder_column"].startswith("column 'Issued To' is not in the file;")


def test_unknown_columns_are_listed() -> None:
    assert mapper().unknown_columns == ["Cost", "Since", "Range"]


@pytest.mark.parametrize(
    ("cell", "status"),
    [("In Service", "active"), ("  in service ", "active"), ("OUT FOR CALIBRATION", "inactive")],
)
def test_value_maps_match_exactly_then_ignoring_case(cell: str, status: str) -> None:
    mapped = mapper().map(row(Status=cell))
    assert isinstance(mapped, MappedRow) and mapped.fields["status"] == status


def test_an_unknown_value_names_the_mapped_ones() -> None:
    assert mapper().map(row(Status=" Scrapped ")) == [
        RowIssue(
            2,
            "Status",
            " Scrapped ",
            "unknown status value 'Scrapped'; the profile maps: In Service, Out for Calibration",
        )
    ]


def test_a_status_without_a_value_map() -> None:
    m = mapper(values=None)
    assert m.map(row(Status="Active")).fields["status"] == "active"  # type: ignore[union-attr]
    (issue,) = m.map(row(Status="decommissioned"))  # type: ignore[misc]
    assert issue.reason == "the import never decommissions: decommission in the register"
    (issue,) = m.map(row(Status="broken"))  # type: ignore[misc]
    assert issue.reason == "status 'broken' is not one of planned, active, inactive"


def test_blank_cells_take_the_default_else_none() -> None:
    m = mapper(defaults={"location": "Stores", "sourceKind": "cmms-nightly"})
    mapped = m.map(row(Location="  ", Description="", Status=""))
    assert isinstance(mapped, MappedRow)
    assert mapped.fields == {
        "sourceKind": "cmms-nightly",
        "displayName": None,
        "status": None,
        "location": "Stores",
    }


def test_dates_and_numbers_that_are_not() -> None:
    columns = {"assetKey": "Equipment No", "acquisition.costEur": "Cost", "commissionedAt": "Since"}
    issues = mapper(columns=columns, values=None).map(row(Cost="cheap", Since="31.02.2025"))
    assert issues == [
        RowIssue(2, "Cost", "cheap", "'cheap' is not a number (write it like 1234.5 or 1234,50)"),
        RowIssue(
            2,
            "Since",
            "31.02.2025",
            "'31.02.2025' is not a date in the formats dd.mm.yyyy, yyyy-mm-dd: "
            "February 2025 has no day 31",
        ),
    ]


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        ("1234.5", 1234.5),
        ("1234,50", 1234.5),
        ("1.234,50", 1234.5),
        ("1,234.50", 1234.5),
        ("1 234,50", 1234.5),
        ("-3", -3.0),
    ],
)
def test_numbers(cell: str, number: float) -> None:
    columns = {"assetKey": "Equipment No", "acquisition.costEur": "Cost"}
    mapped = mapper(columns=columns, values=None).map(row(Cost=cell))
    assert mapped.fields["acquisition.costEur"] == number  # type: ignore[union-attr]


def test_an_empty_key() -> None:
    assert mapper().map(row(Equipment_No="   ")) == [
        RowIssue(2, "Equipment No", "   ", "the key column is empty")
    ]


def test_the_holder() -> None:
    assert mapper().map(row(Issued_To=" E10401 ")).holder == "E10401"  # type: ignore[union-attr]
    assert mapper().map(row(Issued_To=" ")).holder is None  # type: ignore[union-attr]
    by_email = mapper(custody={"holder_column": "Issued To", "match": "email"})
    mapped = by_email.map(row(Issued_To=" Anna.Becker@Skyline-MRO.example "))
    assert mapped.holder == "anna.becker@skyline-mro.example"  # type: ignore[union-attr]
    assert mapper(custody=None).map(row()).holder is None  # type: ignore[union-attr]


def test_calibrations() -> None:
    m = mapper()
    assert m.map(row(Cal_Result="limited")).calibration == Calibration(  # type: ignore[union-attr]
        date(2026, 11, 3), date(2027, 11, 3), "conditionally-ready"
    )
    blank = m.map(row(Last_Cal="", Cal_Due=" ", Cal_Result=""))
    assert blank.calibration is None  # type: ignore[union-attr]
    no_due = m.map(row(Cal_Due=""))
    assert no_due.calibration == Calibration(date(2026, 11, 3), None, "ready")  # type: ignore[union-attr]
    without_results = mapper(calibration={"last_column": "Last Cal"})
    assert without_results.map(row()).calibration.state == "ready"  # type: ignore[union-attr]
    assert mapper(calibration=None).map(row()).calibration is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"Last_Cal": ""}, [("Last Cal", "", "a calibration needs its date")]),
        (
            {"Cal_Result": "SKIPPED"},
            [
                (
                    "Cal Result",
                    "SKIPPED",
                    "unknown calibration result 'SKIPPED'; the profile maps: PASS, FAIL, Limited",
                )
            ],
        ),
        (
            {"Cal_Result": ""},
            [
                (
                    "Cal Result",
                    "",
                    "the calibration result is blank; the profile maps: PASS, FAIL, Limited",
                )
            ],
        ),
        (
            {"Cal_Due": "01.01.2026"},
            [
                (
                    "Cal Due",
                    "01.01.2026",
                    "the due date 01.01.2026 is before the calibration date 03.11.2026",
                )
            ],
        ),
        (
            {"Last_Cal": "soon"},
            [("Last Cal", "soon", "'soon' is not a date in the formats dd.mm.yyyy, yyyy-mm-dd")],
        ),
    ],
)
def test_calibration_problems(cells: dict[str, str], expected: list[tuple[str, str, str]]) -> None:
    issues = mapper().map(row(**cells))
    assert [(i.column, i.value, i.reason) for i in issues] == expected  # type: ignore[union-attr]


def test_every_problem_of_a_row_at_once_the_rows_own_first() -> None:
    own = RowIssue(7, "", "x;y", "12 cells but the header has 10")
    issues = mapper().map(row(7, (own,), Equipment_No="", Status="Lost", Last_Cal="31.02.2025"))
    assert [(i.line, i.column) for i in issues] == [  # type: ignore[union-attr]
        (7, ""),
        (7, "Equipment No"),
        (7, "Status"),
        (7, "Last Cal"),
    ]


def test_an_issue_of_the_row_alone_keeps_it_from_mapping() -> None:
    own = RowIssue(3, "Location", "K\ufffdln", "not valid utf-8: ...")
    assert mapper().map(row(3, (own,))) == [own]
    not_an_object = Row(4, {}, (RowIssue(4, "", "[1]", "not a JSON object: it is a list"),))
    assert mapper().map(not_an_object) == list(not_an_object.issues)


def test_a_long_value_is_cut_in_the_issue() -> None:
    (issue,) = mapper().map(row(Status="x" * 500))  # type: ignore[misc]
    assert issue.value == "x" * 200 + "…"


def test_the_example_export_maps_with_the_example_profile() -> None:
    p = load_profile(EXAMPLES / "cmms-profile.toml")
    with read_table(EXAMPLES / "cmms-export.csv", p) as table:
        m = Mapper(p, table.columns)
        results = [m.map(r) for r in table]
    assert (table.encoding, table.delimiter, m.unknown_columns) == ("cp1252", ";", [])
    assert table.blank_rows >= 1
    mapped = [r for r in results if isinstance(r, MappedRow)]
    assert len(mapped) == len(results) >= 290  # nothing in it the mapper refuses
    keys = [r.key for r in mapped]
    assert len(keys) - len(set(keys)) == 1  # one key twice: the server reports it
    assert any("\n" in r.fields["displayName"] for r in mapped)  # type: ignore[operator]
    assert any(str(r.fields["displayName"]).startswith("=") for r in mapped)
    assert any(
        "ü" in str(r.fields["location"]) or "ü" in str(r.fields["displayName"]) for r in mapped
    )
    assert {r.fields["assetKind"] for r in mapped} >= {"calibrated-tool", "vehicle"}
    assert any(r.calibration and r.calibration.state == "ready" for r in mapped)
