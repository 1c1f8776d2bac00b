"""Write a CMMS export of the demo register, as an AMOS-like system would send it.

Row *i* is demo asset *i* as ``registra demo-data --org SLUG --seed SEED`` creates it (the same
planner: ``registra.demo.plan``, no database): its key, name, status in CMMS words, maker,
model, serial, location, the current primary holder's employee id and, for calibrated tools,
the last calibration's date, due date and result. ``changes`` alters some rows as the CMMS
would have since the demo was loaded (status, holder, location, calibration, a renamed
description), ``new`` appends equipment the register does not hold, and ``quirks`` adds what
real exports carry: blank rows, a quoted line break, a key twice, a key with spaces around it
and a cell that starts with "=". ``examples/cmms-profile.toml`` maps the result.

    .venv/bin/python bench/cmms_export.py --rows 100000 --out /tmp/export.csv
    .venv/bin/python bench/cmms_export.py --rows 280 --new 20 --changes 40 --quirks \\
        --out examples/cmms-export.csv

Dates are relative to ``anchor`` (default: now), as the demo's are to its load time: an export
made the day the demo was loaded agrees with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from registra.demo.plan import CMMS_STATUS, AssetPlan, RegisterPlanner, crew

HEADER = (
    *("Equipment No", "Description", "Category", "Status", "Maker", "Model", "Serial"),
    *("Location", "Issued To", "Last Cal", "Cal Due", "Cal Result"),
)
CATEGORY = {
    "calibrated-tool": "Calibrated Tool",
    "ground-support-equipment": "GSE",
    "lifting-equipment": "Lifting Gear",
    "vehicle": "Vehicle",
    "it-system": "IT Hardware",
    "cloud-service": "Software",
}
RESULT = {"ready": "PASS", "conditionally-ready": "LIMITED", "not-ready": "FAIL"}
ZONE = ZoneInfo("Europe/Berlin")  # the demo organization's time zone
NEW_KEY_MARK = "N"  # new equipment's keys (TW-N000001): no demo register's key looks like one
# What the CMMS changed since the demo load, for ``changes`` rows (in turn).
CHANGES = ("status", "holder", "calibration", "location", "description")
NEW_LOCATIONS = ("Line station DUS (Düsseldorf)", "Hangar 3, Prüfstand", "Line station CGN (Köln)")
GERMAN = {"Torque wrench": "Drehmomentschlüssel", "Pressure gauge": "Prüfgerät Manometer"}

Cells = list[Any]  # in HEADER order: text, a date or None


@dataclass(frozen=True)
class _Context:
    anchor: datetime
    holders: dict[str, str]  # crew email -> external employee id
    technicians: list[str]  # external employee ids of the people who may hold equipment


def write_export(
    path: str | Path,
    *,
    rows: int,
    slug: str = "skyline-mro",
    seed: int = 1,
    fmt: str = "csv",
    quirks: bool = False,
    encoding: str = "cp1252",
    changes: int = 0,
    new: int = 0,
    anchor: datetime | None = None,
) -> int:
    """Write the export of demo assets 0..rows-1 (plus ``new`` new ones) to ``path`` as
    ``fmt`` (csv: semicolons, dd.mm.yyyy, CRLF, ``encoding``; jsonl: ISO dates; xlsx: date
    cells); return the number of records written (blank rows not counted)."""
    if fmt not in WRITERS:
        raise ValueError(f"fmt must be one of {', '.join(WRITERS)}")
    records = export_rows(
        rows=rows, slug=slug, seed=seed, quirks=quirks, changes=changes, new=new, anchor=anchor
    )
    return WRITERS[fmt](Path(path), records, encoding)


def export_rows(
    *,
    rows: int,
    slug: str = "skyline-mro",
    seed: int = 1,
    quirks: bool = False,
    changes: int = 0,
    new: int = 0,
    anchor: datetime | None = None,
) -> Iterator[Cells | None]:
    """The export's records in HEADER order (None: a blank row)."""
    at = (anchor or datetime.now(UTC)).replace(microsecond=0)
    people = crew(slug)
    ctx = _Context(
        at,
        {p.email: p.external_employee_id for p in people},
        [p.external_employee_id for p in people if p.technician],
    )
    planner = RegisterPlanner(seed=seed, anchor=at, slug=slug)
    changed = _changed_rows(rows, changes, seed)
    records = (_row(planner.asset(i), ctx) for i in range(rows))
    records = (_change(r, changed.get(i), ctx) for i, r in enumerate(records))
    added = _new_rows(new, slug, seed, ctx)
    yield from (_quirky(records, added, rows) if quirks else (*records, *added))


def _changed_rows(rows: int, changes: int, seed: int) -> dict[int, str]:
    """Row index -> what changed, spread over the rows, the same for the same seed."""
    picked = random.Random(f"cmms-changes-{seed}").sample(range(rows), min(changes, rows))
    return {i: CHANGES[n % len(CHANGES)] for n, i in enumerate(sorted(picked))}


def _row(plan: AssetPlan, ctx: _Context) -> Cells:
    spec, snapshot = plan.spec, plan.spec["asset_snapshot"]
    holder = next((c.holder for c in plan.custody if c.kind == "primary" and not c.ended_at), "")
    done = [a for a in plan.assessments if a.kind == "calibration" and a.status == "completed"]
    last = max(done, key=lambda a: a.performed_at or ctx.anchor) if done else None
    return [
        plan.key,
        spec["display_name"],
        CATEGORY[spec["asset_kind"]],
        CMMS_STATUS[plan.final_status],
        snapshot["manufacturer"],
        snapshot["model"],
        snapshot["serialNumber"],
        snapshot["location"],
        ctx.holders.get(holder, ""),
        _local_date(last.performed_at) if last else None,
        _local_date(last.valid_until) if last else None,
        RESULT.get(last.state, "") if last else "",
    ]


def _local_date(at: datetime | None) -> date | None:
    return at.astimezone(ZONE).date() if at else None


def _change(cells: Cells, change: str | None, ctx: _Context) -> Cells:
    """``cells`` as the CMMS has them after ``change`` (where it applies to the asset)."""
    if change is None:
        return cells
    out = list(cells)
    number = int(out[0].rsplit("-", 1)[1])
    if change == "status" and out[3] == "In Service":
        out[3] = "Out for Calibration" if out[2] == "Calibrated Tool" else "Quarantine"
    elif change == "holder" and out[8]:
        others = [t for t in ctx.technicians if t != out[8]]
        out[8] = others[number % len(others)]
    elif change == "calibration" and out[9] and out[9] < ctx.anchor.date() - timedelta(days=30):
        performed = ctx.anchor.astimezone(ZONE).date() - timedelta(days=1 + number % 5)
        out[9], out[10], out[11] = performed, performed + timedelta(days=365), "PASS"
    elif change == "location":
        out[7] = NEW_LOCATIONS[number % len(NEW_LOCATIONS)]
    elif change == "description":
        label, _, rest = out[1].partition(", ")
        out[1] = f"{GERMAN.get(label, label)}, {rest} (umbenannt)"
    return out


def _new_rows(count: int, slug: str, seed: int, ctx: _Context) -> list[Cells]:
    """Equipment the CMMS has and the register does not: drawn from another seed's plan."""
    planner = RegisterPlanner(seed=seed + 7919, anchor=ctx.anchor, slug=slug)
    rows = []
    for n in range(count):
        cells = _row(planner.asset(n), ctx)
        code = cells[0].rsplit("-", 1)[0]
        cells[0] = f"{code}-{NEW_KEY_MARK}{n + 1:06d}"
        if cells[3] == "Scrapped":
            cells[3] = "In Service"  # new equipment is not scrapped yet
        if n % 4 == 1:
            label, _, rest = cells[1].partition(", ")
            cells[1] = f"{GERMAN.get(label, 'Prüfgerät')}, {rest}"
        rows.append(cells)
    return rows


def _quirky(records: Iterator[Cells], added: list[Cells], rows: int) -> Iterator[Cells | None]:
    """The records with real exports' quirks at fixed places (see the module docstring)."""
    kept: list[Cells] = []
    blanks = {min(10, rows - 1), (2 * rows) // 3}
    for i, cells in enumerate(records):
        if i == 2:
            kept.append(cells)
        if i == 3:
            cells[1] = f"{cells[1]}\nsee work order WO-{cells[0]}"  # a quoted line break
        if i == 5:
            cells[0] = f"  {cells[0]} "
        if i == 7 and not added:
            cells[1] = f"={cells[1]}"
        yield cells
        if i in blanks:
            yield None
        if i == rows // 2 and kept:
            yield kept[0]  # the same key again, as a CMMS that lists a moved tool twice
    for n, cells in enumerate(added):
        if n == 0:
            cells[1] = '=HYPERLINK("https://cmms.example/eq/new")'
        yield cells


_DAYS: dict[tuple[date, str], str] = {}


def _text(cells: Cells, day_format: str) -> list[str]:
    return [_day(v, day_format) if isinstance(v, date) else (v or "") for v in cells]


def _day(day: date, day_format: str) -> str:
    """``strftime`` once per day: a million rows hold a few thousand dates."""
    text = _DAYS.get((day, day_format))
    if text is None:
        text = _DAYS[day, day_format] = day.strftime(day_format)
    return text


def _write_csv(path: Path, records: Iterator[Cells | None], encoding: str) -> int:
    count = 0
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        for cells in records:
            if cells is None:
                f.write(";" * (len(HEADER) - 1) + "\r\n" if count % 2 else "\r\n")
                continue
            writer.writerow(_text(cells, "%d.%m.%Y"))
            count += 1
    return count


def _write_jsonl(path: Path, records: Iterator[Cells | None], encoding: str) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for cells in records:
            if cells is None:
                f.write("\n")
                continue
            f.write(json.dumps(dict(zip(HEADER, _text(cells, "%Y-%m-%d"), strict=True))) + "\n")
            count += 1
    return count


def _write_xlsx(path: Path, records: Iterator[Cells | None], encoding: str) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Equipment")
    sheet.append(HEADER)
    count = 0
    for cells in records:
        if cells is None:
            sheet.append([])
            continue
        sheet.append(cells)
        count += 1
    book.save(path)
    return count


WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "xlsx": _write_xlsx}


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="demo assets 0..N-1")
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--format", choices=tuple(WRITERS), default="csv")
    parser.add_argument("--quirks", action="store_true", help="blank rows, a key twice, ...")
    parser.add_argument("--encoding", choices=("cp1252", "utf-8-sig"), default="cp1252")
    parser.add_argument("--slug", default="skyline-mro")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=0, help="rows the CMMS changed")
    parser.add_argument("--new", type=int, default=0, help="equipment the register lacks")
    parser.add_argument("--anchor", type=datetime.fromisoformat, help="'now' (ISO, UTC)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    written = write_export(
        args.out,
        rows=args.rows,
        slug=args.slug,
        seed=args.seed,
        fmt=args.format,
        quirks=args.quirks,
        encoding=args.encoding,
        changes=args.changes,
        new=args.new,
        anchor=args.anchor.replace(tzinfo=args.anchor.tzinfo or UTC) if args.anchor else None,
    )
    seconds = time.monotonic() - started
    print(f"wrote {written} records to {args.out} in {seconds:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
