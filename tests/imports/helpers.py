"""A CMMS profile and exports for the cast's organization, and a way to run them."""

from __future__ import annotations

import contextlib
import csv
import io
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management import call_command

from registra.imports import services
from registra.imports.models import ImportProfile, ImportRun
from registra.imports.services import SourceFile
from tests.cast import Cast

REASON = "Nightly sync from the AMOS export"
HEADER = [
    "Equipment No",
    "Description",
    "Status",
    "Location",
    "Serial",
    "Issued To",
    "Last Cal",
    "Cal Due",
    "Cal Result",
]

PROFILE: dict[str, Any] = {
    "name": "AMOS nightly",
    "format": "csv",
    "source_system": "AMOS",
    "error_threshold": 0,
    "absent": "flag",
    "dates": ["dd.mm.yyyy"],
    "csv": {"delimiter": "auto", "encoding": "auto", "fallback_encoding": "cp1252"},
    "columns": {
        "assetKey": "Equipment No",
        "displayName": "Description",
        "status": "Status",
        "location": "Location",
        "serialNumber": "Serial",
    },
    "values": {"status": {"In Service": "active", "Out for Calibration": "inactive"}},
    "defaults": {"assetKind": "calibrated-tool", "sourceKind": "cmms-import"},
    "custody": {"holder_column": "Issued To", "match": "external-id"},
    "calibration": {
        "last_column": "Last Cal",
        "due_column": "Cal Due",
        "result_column": "Cal Result",
        "results": {"PASS": "ready", "FAIL": "not-ready"},
    },
    # The register keeps the names; the CMMS owns where a tool is, who holds it, its status
    # and its calibration.
    "owned_fields": ["status", "location", "serialNumber", "custody", "calibration"],
}


def make_profile(cast: Cast, **overrides: Any) -> ImportProfile:
    """The profile with ``overrides``; a table set to None is left out (and so is its
    ownership, unless ``owned_fields`` is given)."""
    definition = {**PROFILE, **overrides}
    if "owned_fields" not in overrides:
        gone = {name for name in ("custody", "calibration") if definition.get(name) is None}
        definition["owned_fields"] = [f for f in PROFILE["owned_fields"] if f not in gone]
    definition = {k: v for k, v in definition.items() if v is not None}
    return services.import_profile_create(
        organization=cast.org, actor=cast.actor(cast.admin), reason=REASON, definition=definition
    )


def row(key: str, **cells: str) -> dict[str, str]:
    """One export row: an in-service torque wrench, calibrated and passed, unless told."""
    values = {
        "Equipment No": key,
        "Description": f"Torque wrench {key}",
        "Status": "In Service",
        "Location": "Hangar 1",
        "Serial": f"SN-{key}",
        "Issued To": "",
        "Last Cal": "03.11.2026",
        "Cal Due": "03.11.2027",
        "Cal Result": "PASS",
    }
    values.update({k.replace("_", " "): v for k, v in cells.items()})
    return values


def export(
    path: Path,
    rows: list[dict[str, str]],
    *,
    header: list[str] = HEADER,
    encoding: str = "utf-8",
    delimiter: str = ";",
) -> SourceFile:
    """Write ``rows`` as a CMMS would (CRLF, the delimiter given) and name the file."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    path.write_bytes(out.getvalue().encode(encoding))
    return SourceFile(path=path, name=path.name)


def run(
    cast: Cast,
    profile: ImportProfile,
    source: SourceFile,
    *,
    apply: str = "no",
    member: Any = None,
) -> ImportRun:
    return services.import_run_start(
        organization=cast.org,
        actor=cast.actor(member or cast.editor),
        reason=REASON,
        profile_id=profile.id,
        source=source,
        trigger="web",
        apply=apply,
    )


@contextlib.contextmanager
def own_signals() -> Iterator[None]:
    """The worker installs its own signal handlers; put pytest's back afterwards."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def work_off() -> None:
    """The library's worker, in this process, once over every task that is due (``--batch``):
    the nightly runs, and the web's uploads and applies."""
    with own_signals():
        call_command(
            "db_worker",
            batch=True,
            startup_delay=False,
            reload=False,
            verbosity=0,
            worker_id="tests",
        )
