"""Profiles: the TOML format, its defaults, the round trip, and every problem reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client_samples import amos, profile
from registra_client import (
    CalibrationColumns,
    CsvOptions,
    CustodyColumns,
    Profile,
    ProfileError,
    Schedule,
    XlsxOptions,
    dump_profile,
    load_profile,
    loads_profile,
    profile_from_dict,
    profile_to_dict,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cmms-profile.toml"

FULL = """
name = "AMOS nightly"
format = "csv"
source_system = "AMOS"
error_threshold = 3
absent = "mark-inactive"
owned_fields = ["status", "location", "custody", "calibration"]
dates = ["dd.mm.yyyy", "yyyy-mm-dd"]
[csv]
delimiter = "\\t"
encoding = "utf-8"
fallback_encoding = "latin-1"
[xlsx]
sheet = "Equipment"
header_row = 2
[columns]
assetKey = "Equipment No"
displayName = "Description"
status = "Status"
location = "Location"
"specifications.Range" = "Range"
"acquisition.costEur" = "Cost"
[values.status]
"In Service" = "active"
"Out for Calibration" = "inactive"
[defaults]
assetKind = "calibrated-tool"
sourceKind = "cmms-import"
[custody]
holder_column = "Issued To"
match = "email"
[calibration]
last_column = "Last Cal"
due_column = "Cal Due"
result_column = "Cal Result"
[calibration.results]
PASS = "ready"
FAIL = "not-ready"
[schedule]
time = "02:30"
folder = "/srv/cmms/drop"
pattern = "*.csv"
"""


def issues_of(data: dict) -> dict[str, str]:
    with pytest.raises(ProfileError) as raised:
        profile_from_dict(data)
    return dict(raised.value.issues)


def test_a_full_profile_reads_into_its_dataclasses() -> None:
    p = loads_profile(FULL)
    assert (p.name, p.format, p.source_system, p.error_threshold, p.absent) == (
        "AMOS nightly",
        "csv",
        "AMOS",
        3,
        "mark-inactive",
    )
    assert p.owned_fields == {"status", "location", "custody", "calibration"}
    assert p.dates == ("dd.mm.yyyy", "yyyy-mm-dd")
    assert p.csv == CsvOptions("\t", "utf-8", "latin-1")
    assert p.xlsx == XlsxOptions("Equipment", 2)
    assert p.columns["specifications.Range"] == "Range"
    assert p.key_column == "Equipment No"
    assert p.values == {"status": {"In Service": "active", "Out for Calibration": "inactive"}}
    assert p.defaults == {"assetKind": "calibrated-tool", "sourceKind": "cmms-import"}
    assert p.custody == CustodyColumns("Issued To", "email")
    assert p.calibration == CalibrationColumns(
        "Last Cal", "Cal Due", "Cal Result", {"PASS": "ready", "FAIL": "not-ready"}
    )
    assert p.schedule == Schedule("02:30", "/srv/cmms/drop", "*.csv", None)


def test_the_defaults() -> None:
    p = loads_profile('name = "x"\nformat = "jsonl"\n[columns]\nassetKey = "No"\nmodel = "M"\n')
    assert p == Profile(
        name="x",
        format="jsonl",
        columns={"assetKey": "No", "model": "M"},
        owned_fields=frozenset({"model"}),
        defaults={"sourceKind": "cmms-import"},
    )
    assert (p.source_system, p.error_threshold, p.absent) == ("CMMS", 0, "flag")
    assert (p.csv, p.xlsx) == (CsvOptions("auto", "auto", "cp1252"), XlsxOptions(None, 1))
    assert (p.custody, p.calibration, p.schedule) == (None, None, None)


def test_owned_fields_default_to_every_mapped_field_custody_and_calibration() -> None:
    assert profile().owned_fields == {"displayName", "status", "location", "custody", "calibration"}
    assert profile(custody=None, calibration=None).owned_fields == {
        "displayName",
        "status",
        "location",
    }


@pytest.mark.parametrize("text", [FULL, EXAMPLE.read_text(encoding="utf-8")])
def test_dump_round_trips(text: str) -> None:
    p = loads_profile(text)
    assert loads_profile(dump_profile(p)) == p
    assert profile_from_dict(profile_to_dict(p)) == p


def test_the_dict_is_json_safe_and_leaves_absent_tables_out() -> None:
    data = profile_to_dict(profile(calibration=None))
    assert json.loads(json.dumps(data)) == data
    assert "calibration" not in data and "schedule" not in data
    assert data["custody"] == {"holder_column": "Issued To", "match": "external-id"}
    assert data["xlsx"] == {"header_row": 1}  # no sheet: the first one
    assert data["error_threshold"] == 0
    assert data["owned_fields"] == sorted(data["owned_fields"])


def test_none_means_not_given_as_json_null_does() -> None:
    assert profile(custody=None, xlsx=None, schedule=None).custody is None
    data = amos()
    data["xlsx"] = {"sheet": None, "header_row": 1}
    assert profile_from_dict(data).xlsx == XlsxOptions(None, 1)


def test_the_example_profile_loads(tmp_path: Path) -> None:
    p = load_profile(EXAMPLE)
    assert p.csv == CsvOptions(";", "auto", "cp1252")
    assert p.owned_fields == {"status", "location", "custody", "calibration"}
    assert "displayName" in p.columns and "displayName" not in p.owned_fields
    assert p.values["status"]["Quarantine"] == "inactive"
    assert p.custody == CustodyColumns("Issued To", "external-id")


def test_load_profile_takes_a_bom_and_refuses_other_encodings(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(b"\xef\xbb\xbf" + dump_profile(profile()).encode())
    assert load_profile(path) == profile()
    path.write_bytes('name = "Prüfung"\n'.encode("cp1252"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(path)


def test_a_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ProfileError) as raised:
        loads_profile('name = "x"\nformat = csv\n')
    ((path, message),) = raised.value.issues
    assert path == "" and "not valid TOML" in message and "line 2" in message


def test_every_problem_is_reported_at_once() -> None:
    data = amos(
        surprise=1,
        name="x" * 101,
        format="xml",
        absent="decommission",
        error_threshold=-1,
        source_system=7,
        csv={"delimiter": ";;", "encoding": "klingon", "fallback_encoding": "base64", "x": 1},
        xlsx={"header_row": 0},
        columns={"status": "Status", "colour": "Colour", "sourceKind": "Src", "displayName": "D"},
        values={
            "status": {"Scrapped": "decommissioned", "Odd": "broken"},
            "weight": {"1": "2"},
            "model": {"A": "B"},
        },
        defaults={"assetKey": "TW-0", "weight": "3", "status": "retired", "commissionedAt": "soon"},
        owned_fields=["displayName", "location", "nonsense", "assetKey"],
        dates=["dd.mm.yyyy", "dd/qq/yyyy", "dd.mm"],
        custody={"holder_column": "Issued To", "match": "name"},
        calibration={"last_column": "Last Cal", "result_column": "R", "results": {"OK": "fine"}},
        schedule={"time": "24:00", "url": "ftp://cmms.example/x", "folder": "/srv"},
    )
    found = issues_of(data)
    expected = {
        "surprise": "unknown key; allowed: name, format",
        "name": "at most 100 characters",
        "format": "'xml' is not one of: csv, jsonl, xlsx",
        "absent": "'decommission' is not one of: ignore, mark-inactive, flag",
        "error_threshold": "at least 0",
        "source_system": "must be a string, not an integer",
        "csv.delimiter": "';;' is not one character",
        "csv.encoding": "unknown encoding 'klingon'",
        "csv.fallback_encoding": "'base64' is not a text encoding",
        "csv.x": "unknown key; allowed: delimiter, encoding, fallback_encoding",
        "xlsx.header_row": "at least 1",
        "columns.colour": "unknown field 'colour'; the fields are: assetKey",
        "columns.sourceKind": "set it in [defaults]",
        "columns.assetKey": "required",
        "values.status.Scrapped": "the import never decommissions: decommission in the register",
        "values.status.Odd": "'broken' is not one of: planned, active, inactive",
        "values.weight": "unknown field 'weight'",
        "values.model": "model is not mapped in [columns]",
        "defaults.assetKey": "the key cannot have a default",
        "defaults.weight": "unknown field 'weight'",
        "defaults.status": "'retired' is not one of: planned, active, inactive",
        "defaults.commissionedAt": "'soon' is not a date in the formats dd.mm.yyyy, yyyy-mm-dd",
        "owned_fields.location": "location is not mapped in [columns]",
        "owned_fields.nonsense": "unknown field 'nonsense'",
        "owned_fields.assetKey": "the key identifies the asset",
        "dates.1": "'dd/qq/yyyy' is not a date format: use dd, d, mm, m, yyyy, yy",
        "dates.2": "needs one day, one month and one year",
        "custody.match": "'name' is not one of: email, external-id",
        "calibration.results.OK": "'fine' is not one of: ready, conditionally-ready, not-ready, "
        "unknown",
        "schedule.time": "'24:00' is not a time of day HH:MM",
        "schedule": "exactly one of folder (a drop folder) or url",
        "schedule.url": "'ftp://cmms.example/x' is not an http:// or https:// address",
    }
    for path, words in expected.items():
        assert words in found.get(path, ""), (path, found.get(path))
    assert "calibration.results" in found  # a result column with no usable results


def test_the_error_names_each_problem_in_its_message() -> None:
    with pytest.raises(ProfileError) as raised:
        profile_from_dict({"name": "", "columns": {}})
    assert sorted(raised.value.issues) == [
        ("columns.assetKey", "required: the CMMS column that holds the asset key"),
        ("format", "required"),
        ("name", "must not be blank"),
    ]
    assert str(raised.value) == "; ".join(f"{p}: {m}" for p, m in raised.value.issues)


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({"columns": "Equipment No"}, "columns", "must be a table, not a string"),
        ({"columns": {"assetKey": 1}}, "columns.assetKey", "must be a string, not an integer"),
        ({"columns": {"assetKey": " "}}, "columns.assetKey", "must not be blank"),
        ({"error_threshold": True}, "error_threshold", "must be an integer, not true/false"),
        ({"owned_fields": "status"}, "owned_fields", "must be a list of strings, not a string"),
        ({"dates": ["dd.mm.yyyy", 5]}, "dates", "must be a list of strings"),
        ({"custody": {"match": "email"}}, "custody.holder_column", "required"),
        ({"custody": None, "owned_fields": ["custody"]}, "owned_fields.custody", "no [custody]"),
        (
            {"calibration": {"last_column": "L", "results": {"P": "ready"}}},
            "calibration.results",
            "no result_column",
        ),
        ({"schedule": {"time": "2:30", "folder": "/x"}}, "schedule.time", "HH:MM"),
        ({"schedule": {"time": "02:30"}}, "schedule", "exactly one of folder"),
        (
            {"schedule": {"time": "02:30", "url": "https://x.example/e.csv", "pattern": "*.csv"}},
            "schedule.pattern",
            "leave it out with a url",
        ),
        ({"dates": ["dm.yyyy"]}, "dates.0", "ambiguous"),
        ({"csv": {"delimiter": ""}}, "csv.delimiter", "not one character"),
        ({"defaults": {"acquisition.costEur": "cheap"}}, "defaults.acquisition.costEur", "number"),
        ({"defaults": {"sourceKind": " "}}, "defaults.sourceKind", "must not be blank"),
    ],
)
def test_each_kind_of_problem(data: dict, path: str, words: str) -> None:
    found = issues_of(amos(**data))
    assert words in found.get(path, ""), found


def test_good_variants_are_accepted() -> None:
    p = profile(
        csv={"delimiter": " "},
        dates=["d/m/yy", "iso", "yyyymmdd", "dd mm yyyy"],
        schedule={"time": "23:59", "url": "https://cmms.example/export.csv"},
        owned_fields=[],
        values={"status": {"Spare": "planned"}},
        defaults={"acquisition.costEur": "1.234,50", "commissionedAt": "2024-01-31"},
    )
    assert p.csv.delimiter == " " and p.owned_fields == frozenset()
    assert p.schedule == Schedule("23:59", None, "*", "https://cmms.example/export.csv")


def test_a_schedule_with_a_url_round_trips() -> None:
    p = profile(schedule={"time": "02:30", "url": "https://cmms.example/export.csv"})
    assert profile_to_dict(p)["schedule"] == {
        "time": "02:30",
        "url": "https://cmms.example/export.csv",
    }
    assert loads_profile(dump_profile(p)) == p == profile_from_dict(profile_to_dict(p))
    with_default = {"time": "02:30", "url": "https://cmms.example/x.csv", "pattern": "*"}
    assert profile(schedule=with_default).schedule.pattern == "*"  # type: ignore[union-attr]
