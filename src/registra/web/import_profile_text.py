"""A profile's words: the names a profile file uses, its choices as the form and the pages
call them, and a stored profile as its pages say it (``profile_summary``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Names in a profile file that the form and the summaries treat apart.
KEY_FIELD, SOURCE_KIND, SPEC_PREFIX = "assetKey", "sourceKind", "specifications."
CUSTODY, CALIBRATION = "custody", "calibration"
# The profile's choices, as the form offers them and the summaries name them.
FORMATS = [("csv", "CSV"), ("jsonl", "JSON Lines"), ("xlsx", "XLSX")]
ENCODINGS = [
    ("auto", "Detect (a byte order mark, else UTF-8, else the fallback)"),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252 (cp1252)"),
    ("other", "Other"),
]
MATCHES = [("email", "Member email"), ("external-id", "External employee id of the member")]
ABSENT = [
    ("ignore", "Ignore them"),
    ("mark-inactive", "Mark them inactive"),
    ("flag", "Flag them for review (listed in the plan)"),
]
SCHEDULES = [
    ("off", "Off: only when someone uploads a file"),
    ("folder", "Nightly, the newest file in a drop folder on the server"),
    ("url", "Nightly, the file at an HTTP(S) URL"),
]
DELIMITER_NAMES = {"\t": "tab", " ": "space"}


def profile_summary(d: Mapping[str, Any], zone: str) -> dict[str, Any]:
    """A stored profile as its pages say it: ``format``, ``schedule`` and (label, text)
    ``entries``."""
    return {"format": format_text(d), "schedule": schedule_text(d, zone), "entries": _entries(d)}


def format_text(d: Mapping[str, Any]) -> str:
    """ "CSV (delimiter ;, encoding auto, fallback cp1252)", "JSON Lines"..."""
    name = dict(FORMATS).get(d.get("format", ""), str(d.get("format")))
    csv, xlsx = d.get("csv") or {}, d.get("xlsx") or {}
    if d.get("format") == "csv":
        delimiter = DELIMITER_NAMES.get(csv.get("delimiter", "auto"), csv.get("delimiter"))
        encoding, fallback = csv.get("encoding"), csv.get("fallback_encoding")
        return f"{name} (delimiter {delimiter}, encoding {encoding}, fallback {fallback})"
    if d.get("format") == "xlsx":
        sheet = xlsx.get("sheet") or "the first"
        return f"{name} (sheet {sheet}, header row {xlsx.get('header_row', 1)})"
    return name


def schedule_text(d: Mapping[str, Any], zone: str) -> str:
    """ "nightly at 02:30 (Europe/Berlin) from ...", or "no schedule"."""
    schedule = d.get("schedule")
    if not schedule:
        return "no schedule"
    if schedule.get("url"):
        source = f"from {schedule['url']}"
    else:
        source = f"from the folder {schedule.get('folder')} ({schedule.get('pattern', '*')})"
    return f"nightly at {schedule.get('time')} ({zone}) {source}"


def _joined(parts: list[str]) -> str:
    return "; ".join(parts) or "—"


def _entries(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    columns = dict(d.get("columns") or {})
    key = columns.pop(KEY_FIELD, "")
    values = d.get("values") or {}
    custody = d.get("custody")
    matched = dict(MATCHES).get(custody["match"], "").lower() if custody else ""
    owned = ", ".join(d.get("owned_fields") or [])
    return [
        ("Source system", str(d.get("source_system", ""))),
        ("Key column (assetKey)", key),
        ("Columns", _joined([f"{c} → {f}" for f, c in columns.items()])),
        (
            "Value mappings",
            _joined([f"{f}: {c} → {v}" for f, t in values.items() for c, v in t.items()]),
        ),
        ("Defaults", _joined([f"{f} = {v}" for f, v in (d.get("defaults") or {}).items()])),
        ("Date formats", ", ".join(d.get("dates") or []) or "—"),
        (
            "Custody",
            f"holder in {custody['holder_column']}, by {matched}" if custody else "not imported",
        ),
        ("Calibration", _calibration_text(d.get("calibration"))),
        (
            "Missing from the file",
            dict(ABSENT).get(d.get("absent", ""), "") + "; never decommissioned",
        ),
        ("The CMMS owns", owned or "nothing: every difference is a conflict"),
        ("Error threshold", str(d.get("error_threshold", 0))),
    ]


def _calibration_text(calibration: Mapping[str, Any] | None) -> str:
    if not calibration:
        return "not imported"
    parts = [f"last in {calibration['last_column']}"]
    if calibration.get("due_column"):
        parts.append(f"due in {calibration['due_column']}")
    if calibration.get("result_column"):
        results = ", ".join(f"{r} → {s}" for r, s in (calibration.get("results") or {}).items())
        parts.append(f"result in {calibration['result_column']} ({results})")
    return ", ".join(parts)
