"""Samples for the client's tests: a profile like the AMOS one and export rows. Plain data:
nothing here needs the server."""

from __future__ import annotations

import csv
import io
from typing import Any

from registra_client import Profile, profile_from_dict

HEADER = ["Equipment No", "Description", "Status", "Location", "Issued To", "Last Cal", "Cal Due"]


def amos(**overrides: Any) -> dict[str, Any]:
    """The profile data of an AMOS export (overrides replace whole keys; None drops one)."""
    data: dict[str, Any] = {
        "name": "AMOS nightly",
        "format": "csv",
        "source_system": "AMOS",
        "dates": ["dd.mm.yyyy"],
        "csv": {"delimiter": "auto", "encoding": "auto", "fallback_encoding": "cp1252"},
        "columns": {
            "assetKey": "Equipment No",
            "displayName": "Description",
            "status": "Status",
            "location": "Location",
        },
        "values": {"status": {"In Service": "active", "Out for Calibration": "inactive"}},
        "defaults": {"assetKind": "calibrated-tool"},
        "custody": {"holder_column": "Issued To", "match": "external-id"},
        "calibration": {"last_column": "Last Cal", "due_column": "Cal Due"},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def profile(**overrides: Any) -> Profile:
    return profile_from_dict(amos(**overrides))


def csv_bytes(
    rows: list[list[str]],
    *,
    header: list[str] = HEADER,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def tool(key: str = "TW-1", **cells: str) -> list[str]:
    """One export row in HEADER order: an in-service tool, calibrated, unless told."""
    values = {
        "Equipment No": key,
        "Description": f"Torque wrench {key}",
        "Status": "In Service",
        "Location": "Hangar 1",
        "Issued To": "E10401",
        "Last Cal": "03.11.2026",
        "Cal Due": "03.11.2027",
    }
    values.update({k.replace("_", " "): v for k, v in cells.items()})
    return [values[h] for h in HEADER]
