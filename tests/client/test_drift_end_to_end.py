"""``registra-drift`` end to end: a real server holding the demo register, a CMMS export made from
that register with known edits, and the report in every format finding exactly those edits;
the exit codes; ``--previous`` after some findings were fixed; a token without
``assets:read``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.servers import Server, own_database, run_registra, serving

SLUG = "skyline-mro"
ROOT = Path(__file__).resolve().parents[2]
DRIFT = str(Path(sys.executable).with_name("registra-drift"))
HEADER = ["Equipment No", "Description", "Category", "Status", "Maker", "Model", "Serial"]
HEADER += ["Location", "Issued To", "Last Cal", "Cal Due", "Cal Result"]
CATEGORY = {
    "calibrated-tool": "Calibrated Tool",
    "ground-support-equipment": "GSE",
    "lifting-equipment": "Lifting Gear",
    "vehicle": "Vehicle",
    "it-system": "IT Hardware",
    "cloud-service": "Software",
}
STATUS = {"active": "In Service", "inactive": "Quarantine", "planned": "On Order"}
RESULT = {"ready": "PASS", "conditionally-ready": "LIMITED", "not-ready": "FAIL", "unknown": "N/A"}
# The example profile, with the one result the example export never has.
PROFILE = (ROOT / "examples" / "cmms-profile.toml").read_text(encoding="utf-8")
PROFILE = PROFILE.replace('FAIL = "not-ready"', 'FAIL = "not-ready"\n"N/A" = "unknown"')


@dataclass
class Demo:
    server: Server
    env: dict[str, str]
    reader: tuple[str, str]  # assets:read only
    no_assets: tuple[str, str]  # organization:read only
    zone: str
    rows: list[dict[str, str]]  # the export that agrees with the register, key order
    members: list[str]  # every external employee id


def _account(env: dict[str, str], name: str, scopes: str) -> tuple[str, str]:
    out = run_registra(
        env,
        "service-account",
        "create",
        "--org",
        SLUG,
        "--name",
        name,
        "--scopes",
        scopes,
        "--json",
    )
    creds = json.loads(out)
    return creds["clientId"], creds["clientSecret"]


def _pull(base: str, token: str, path: str, key: str, **filters: str) -> Iterator[dict[str, Any]]:
    """Every record of a list, with plain httpx (not the SDK under test)."""
    params: dict[str, str] = {"limit": "200", **filters}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            body = http.get(path, params=params).raise_for_status().json()
            yield from body[key]
            cursor = body["pagination"].get("nextCursor")
            if not cursor:
                return
            params["cursor"] = cursor


def _agreeing_export(
    base: str, token: str, zone: ZoneInfo
) -> tuple[list[dict[str, str]], list[str]]:
    """The CMMS export that agrees with the register: its CMMS assets, not decommissioned, as
    the example profile maps them back."""
    holders = {
        h["id"]: h["externalEmployeeId"]
        for h in _pull(base, token, "/api/v1/assets/custody-holders", "custodyHolders")
    }
    held = {
        c["assetId"]: holders[c["subjectResourceId"]]
        for c in _pull(
            base, token, "/api/v1/assets/custody-assignments", "custodyAssignments", status="active"
        )
        if c["assignmentKind"] == "primary"
    }
    calibrations: dict[str, tuple[datetime, str]] = {}
    for r in _pull(base, token, "/api/v1/assets/readiness-assessments", "readinessAssessments"):
        if r["assessmentKind"] == "calibration" and r["status"] == "completed" and r["performedAt"]:
            at = datetime.fromisoformat(r["performedAt"])
            if r["assetId"] not in calibrations or at > calibrations[r["assetId"]][0]:
                calibrations[r["assetId"]] = (at, r["readinessState"])
    rows = []
    for a in _pull(base, token, "/api/v1/assets", "assets"):
        if a["sourceKind"] != "cmms-import" or a["status"] == "decommissioned":
            continue
        cal = calibrations.get(a["id"])
        day = cal[0].astimezone(zone).date() if cal else None
        rows.append(
            {
                "Equipment No": a["assetKey"],
                "Description": a["displayName"],
                "Category": CATEGORY[a["assetKind"]],
                "Status": STATUS[a["status"]],
                # Not in API v1, so not compared: any value agrees.
                "Maker": "Norbar",
                "Model": "TTi 60",
                "Serial": "SN-1",
                "Location": "Hangar 1",
                "Issued To": held.get(a["id"], ""),
                "Last Cal": day.strftime("%d.%m.%Y") if day else "",
                "Cal Due": (day + timedelta(days=365)).strftime("%d.%m.%Y") if day else "",
                "Cal Result": RESULT[cal[1]] if cal else "",
            }
        )
    return sorted(rows, key=lambda r: r["Equipment No"]), sorted(set(holders.values()))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("drift")
    with own_database(data, "drift_end_to_end") as env:
        run_registra(env, "demo-data", "--org", SLUG, "--assets", "400", "--seed", "1")
        reader = _account(env, "Drift check", "assets:read")
        no_assets = _account(env, "Organization only", "organization:read")
        setup = _account(env, "Test setup", "assets:read organization:read")
        with serving(env, data / "server.log") as server:
            base = f"http://127.0.0.1:{server.port}"
            token = server.token(*setup)
            zone = server.call("GET", "/api/v1/organization", token=token).json()
            zone_name = zone["organization"]["timezone"]
            rows, members = _agreeing_export(base, token, ZoneInfo(zone_name))
            yield Demo(server, env, reader, no_assets, zone_name, rows, members)


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="cp1252", newline="") as f:
        writer = csv.DictWriter(f, HEADER, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _drift(
    demo: Demo, tmp: Path, export: Path, *args: str, creds: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _drift_command(demo, tmp, export, *args),
        env=_drift_env(demo, creds or demo.reader),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _drift_command(demo: Demo, tmp: Path, export: Path, *args: str) -> list[str]:
    profile = tmp / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    return [DRIFT, str(export), "--profile", str(profile), "--progress", "none", *args]


def _drift_env(demo: Demo, creds: tuple[str, str]) -> dict[str, str]:
    return {
        **demo.env,
        "REGISTRA_URL": f"http://127.0.0.1:{demo.server.port}",
        "REGISTRA_CLIENT_ID": creds[0],
        "REGISTRA_CLIENT_SECRET": creds[1],
    }


Key = tuple[str, str, str | None]  # kind, asset key, field


@dataclass
class Edited:
    rows: list[dict[str, str]]
    expected: set[Key]
    removed: list[dict[str, str]]
    renamed: list[str]


def _edit(demo: Demo) -> Edited:
    """10 removed, 7 added, 5 fields changed, 3 custody changes, 2 calibration dates changed,
    each on an asset of its own."""
    rows = [dict(r) for r in demo.rows]
    pool = iter(range(len(rows)))
    expected: set[Key] = set()
    removed_at = [next(pool) for _ in range(10)]
    removed = [rows[i] for i in removed_at]
    expected |= {("only-in-register", r["Equipment No"], None) for r in removed}
    renamed = []
    for _ in range(3):
        r = rows[next(pool)]
        r["Description"] += " (renamed in the CMMS)"
        renamed.append(r["Equipment No"])
        expected.add(("field", r["Equipment No"], "displayName"))
    active = next(r for r in rows[len(removed_at) + 3 :] if r["Status"] == "In Service")
    active["Status"] = "Quarantine"
    expected.add(("field", active["Equipment No"], "status"))
    other_kind = next(
        r
        for r in rows
        if r["Category"] != "GSE" and not any(r["Equipment No"] == k for _, k, _ in expected)
    )
    other_kind["Category"] = "GSE"
    expected.add(("field", other_kind["Equipment No"], "assetKind"))
    touched = {k for _, k, _ in expected}
    held = [r for r in rows if r["Issued To"] and r["Equipment No"] not in touched][:3]
    for r in held:
        r["Issued To"] = next(m for m in demo.members if m != r["Issued To"])
        expected.add(("custody", r["Equipment No"], "custody"))
    touched |= {r["Equipment No"] for r in held}
    calibrated = [r for r in rows if r["Last Cal"] and r["Equipment No"] not in touched][:2]
    for r in calibrated:
        day = datetime.strptime(r["Last Cal"], "%d.%m.%Y") - timedelta(days=3)  # noqa: DTZ007
        r["Last Cal"] = day.strftime("%d.%m.%Y")
        expected.add(("readiness", r["Equipment No"], "calibration"))
    new = [
        {
            **rows[-1],
            "Equipment No": f"NEW-{n:04d}",
            "Description": f"New stand {n}",
            "Issued To": "",
        }
        for n in range(1, 8)
    ]
    expected |= {("only-in-cmms", r["Equipment No"], None) for r in new}
    kept = [r for i, r in enumerate(rows) if i not in set(removed_at)] + new
    return Edited(kept, expected, removed, renamed)


def _keys(findings: list[dict[str, Any]]) -> set[Key]:
    return {(f["kind"], f["assetKey"], f["field"]) for f in findings}


class _Rows(HTMLParser):
    """The finding rows of the HTML report: (data-kind, data-state, the cells' text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, list[str]]] = []
        self.cell: list[str] | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href"):
            if (a.get(name) or "").startswith(("http:", "https:", "//")):
                self.external.append(a[name] or "")
        if tag == "tr" and "data-kind" in a:
            self.rows.append((a["data-kind"] or "", a.get("data-state") or "", []))
        elif tag == "td" and self.rows and self.cell is None:
            self.cell = []

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            self.rows[-1][2].append("".join(self.cell).strip())
            self.cell = None


def test_an_agreeing_export_has_no_drift(demo: Demo, tmp_path: Path) -> None:
    assert len(demo.rows) > 100  # a fair part of the 400 demo assets are the CMMS's
    done = _drift(demo, tmp_path, _write(tmp_path / "same.csv", demo.rows), "--timezone", demo.zone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No drift" in done.stdout


def test_a_reader_that_went_away_gets_no_traceback(demo: Demo, tmp_path: Path) -> None:
    # ``registra-drift ... | head``, made certain: standard output is a pipe whose reading end
    # is closed before the check starts, so its first write of the report fails (EPIPE).
    export = _write(tmp_path / "edited.csv", _edit(demo).rows)
    command = _drift_command(demo, tmp_path, export, "--timezone", demo.zone)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            command,
            env=_drift_env(demo, demo.reader),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 1  # drift found, as with a reader


def test_the_report_finds_exactly_the_edits_in_every_format(demo: Demo, tmp_path: Path) -> None:
    edited = _edit(demo)
    assert len(edited.expected) == 27
    export = _write(tmp_path / "edited.csv", edited.rows)
    tz = ("--timezone", demo.zone)

    done = _drift(
        demo, tmp_path, export, *tz, "--format", "json", "--output", str(tmp_path / "r.json")
    )
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert _keys(report["findings"]) == edited.expected
    assert report["summary"] == {
        "only-in-cmms": 7,
        "only-in-register": 10,
        "field": 5,
        "custody": 3,
        "readiness": 2,
        "new": 27,
        "open": 0,
        "resolved": 0,
        "total": 27,
        "rowIssues": 0,
    }
    assert report["register"]["assets"] == 400 and report["cmms"]["rows"] == len(edited.rows)
    assert "location" in report["notCompared"]  # a snapshot field: not in API v1

    done = _drift(demo, tmp_path, export, *tz, "--format", "csv")
    assert done.returncode == 1
    lines = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {(r["kind"], r["assetKey"], r["field"] or None) for r in lines} == edited.expected

    done = _drift(demo, tmp_path, export, *tz, "--format", "html")
    assert done.returncode == 1
    parser = _Rows()
    parser.feed(done.stdout)
    # Cells: state, kind, asset key, field, CMMS, register.
    found = {(kind, cells[2], cells[3] or None) for kind, _, cells in parser.rows}
    assert found == edited.expected and len(parser.rows) == 27
    assert parser.external == [] and "http://" not in done.stdout.replace(
        f"http://127.0.0.1:{demo.server.port}", ""
    )

    done = _drift(demo, tmp_path, export, *tz, "--format", "table", "--color", "never")
    assert done.returncode == 1
    assert all(key in done.stdout for _, key, _ in edited.expected)
    assert "\x1b[" not in done.stdout


def test_previous_marks_findings_new_open_and_resolved(demo: Demo, tmp_path: Path) -> None:
    edited = _edit(demo)
    tz = ("--timezone", demo.zone)
    first = tmp_path / "first.json"
    done = _drift(
        demo,
        tmp_path,
        _write(tmp_path / "a.csv", edited.rows),
        *tz,
        "--format",
        "json",
        "-o",
        str(first),
    )
    assert done.returncode == 1, done.stderr
    # The CMMS team puts back two of the removed assets and undoes one rename; a new asset
    # appears.
    fixed_keys = {
        edited.removed[0]["Equipment No"],
        edited.removed[1]["Equipment No"],
        edited.renamed[0],
    }
    rows = [*edited.rows, edited.removed[0], edited.removed[1]]
    original = {r["Equipment No"]: r for r in demo.rows}
    rows = [
        dict(original[r["Equipment No"]]) if r["Equipment No"] == edited.renamed[0] else r
        for r in rows
    ]
    rows.append({**rows[-1], "Equipment No": "NEW-0100", "Description": "Another stand"})
    done = _drift(
        demo,
        tmp_path,
        _write(tmp_path / "b.csv", rows),
        *tz,
        "--format",
        "json",
        "--previous",
        str(first),
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    states = {f["assetKey"]: f["state"] for f in report["findings"]}
    assert states.pop("NEW-0100") == "new"
    assert set(states.values()) == {"open"} and len(states) == 24
    assert {f["assetKey"] for f in report["resolved"]} == fixed_keys
    assert report["summary"]["resolved"] == 3 and report["summary"]["new"] == 1


def test_a_token_without_assets_read_cannot_run(demo: Demo, tmp_path: Path) -> None:
    export = _write(tmp_path / "same.csv", demo.rows)
    done = _drift(demo, tmp_path, export, "--timezone", demo.zone, creds=demo.no_assets)
    assert done.returncode == 2
    assert "assets:read" in done.stderr and done.stdout == ""
    assert "Traceback" not in done.stderr


def test_an_assets_read_token_needs_the_time_zone_named(demo: Demo, tmp_path: Path) -> None:
    done = _drift(demo, tmp_path, _write(tmp_path / "same.csv", demo.rows))
    assert done.returncode == 2
    assert "--timezone" in done.stderr and "organization:read" in done.stderr


def test_what_could_not_run_says_why(demo: Demo, tmp_path: Path) -> None:
    export = _write(tmp_path / "same.csv", demo.rows)
    wrong = _drift(demo, tmp_path, export, "--timezone", demo.zone, creds=(demo.reader[0], "wrong"))
    assert wrong.returncode == 2
    assert "credentials" in wrong.stderr.lower() or "unauthenticated" in wrong.stderr
    missing = _drift(demo, tmp_path, tmp_path / "nope.csv", "--timezone", demo.zone)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
    zone = _drift(demo, tmp_path, export, "--timezone", "Mars/Olympus")
    assert zone.returncode == 2 and "Mars/Olympus" in zone.stderr
    for done in (wrong, missing, zone):
        assert "Traceback" not in done.stderr
