"""The drift check at a million assets (issue 10): ``compare`` of a 1,000,000-asset register
with a 1,000,000-row CMMS export, parse and diff (no network), under 20 s and 1.5 GB. On
demand, never a timed test; figures in docs/benchmarks.md.

    .venv/bin/python bench/drift.py                          # 1,000,000 assets and rows
    .venv/bin/python bench/drift.py --assets 100000 --cprofile

Both sides come from the demo planner (``registra.demo.plan``, seed ``--seed``, times relative
to ``--anchor``), with no server, each written once into ``--work`` by a process of its own:

- the export: ``bench/cmms_export.py --quirks`` of demo assets 0..N-M-1 with ``--changes``
  rows the CMMS changed, and ``M = --missing`` new rows, so it has N rows (plus its blank
  rows and one key twice);
- the register: demo assets 0..N-1 as API v1 shows them after ``registra demo-data``, as
  pages of 200 records in JSON (one page a line): the assets, the active custody assignments
  (a decommissioning ends its asset's custody) and every readiness assessment, with ids in
  the server's form, and the crew's employee ids -> ``user_...`` ids (the custody holders).

So the two agree except for the changed rows (findings), the M assets only in the register
and the M only in the CMMS, and what the export generator writes for a decommissioned
asset: status "Scrapped" (the profile maps it to inactive, the register says decommissioned)
and the holder it had when it was scrapped. The export is cp1252 and its first 64 KiB are
ASCII: the profile's ``encoding = "auto"`` lets the first line with an umlaut decide.

The measured step runs in a process of its own, so its peak memory (``wait4``) is its own: it
decodes the register's pages and builds each record with ``from_api`` into a ``Register`` (the
SDK's pull without the network: timed, not part of the target), then times ``compare`` over
``read_table(export, profile)`` with the holders and Europe/Berlin, ``--repeat`` times on
the same register (the median is the figure: this machine's speed varies). ``--cprofile`` runs
``compare`` under cProfile and prints where its time goes; ``--split`` first times the
export's reading alone and its reading and mapping (the rest of ``compare`` is the diff).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "examples" / "cmms-profile.toml"
SLUG = "skyline-mro"
ZONE = "Europe/Berlin"  # the demo organization's time zone
PAGE = 200
COMPARE_TARGET_SECONDS = 20.0
PEAK_TARGET_MIB = 1.5 * 1024
FILES = ("assets", "custody", "assessments")
LISTS = {"assets": "assets", "custody": "custodyAssignments", "assessments": "readinessAssessments"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--assets", type=int, default=1_000_000, help="register assets = export rows")
    p.add_argument("--missing", type=int, default=5000, help="assets on one side only (each)")
    p.add_argument("--changes", type=int, default=10_000, help="rows the CMMS changed")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--anchor", default="2026-12-01T06:00:00+00:00", help="the demo's load time")
    p.add_argument("--work", default=str(ROOT / "bench" / "results" / "drift"))
    p.add_argument("--cprofile", action="store_true", help="profile compare (use a small size)")
    p.add_argument("--top", type=int, default=30, help="functions the profile lists")
    p.add_argument("--split", action="store_true", help="also time reading, and mapping, alone")
    p.add_argument("--repeat", type=int, default=3, help="compare runs (the median is taken)")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # the measured process: its folder
    p.add_argument("--export", help=argparse.SUPPRESS)  # the measured process: the export
    p.add_argument("--write-register", help=argparse.SUPPRESS)  # the register writer: its folder
    args = p.parse_args()
    if args.measure:
        return _measure(args, Path(args.measure))
    if args.write_register:
        _write_register(Path(args.write_register), args.assets, args.seed, _anchor(args.anchor))
        return 0
    return _bench(args)


def _anchor(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=at.tzinfo or UTC)


# --- the parent: inputs, the measured process, the report ------------------------------------


def _bench(args: argparse.Namespace) -> int:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    name = f"{args.assets}-m{args.missing}-c{args.changes}-s{args.seed}-{args.anchor[:19]}"
    # "-k2": new rows keyed TW-N000001..., not from 900,001 as the earlier exports (which
    # repeated demo keys past 900,000 assets): an export of the old form is never reused.
    export = _export(args, work / f"export-{name}-k2.csv")
    register = _register(args, work / f"register-{args.assets}-s{args.seed}-{args.anchor[:19]}")
    command = [sys.executable, __file__, "--measure", str(register), "--export", str(export)]
    if args.cprofile:
        command += ["--cprofile", "--top", str(args.top)]
    if args.split:
        command += ["--split"]
    command += ["--repeat", str(args.repeat)]
    # In a process of its own: this one stays small, so the child's peak is its own (Linux
    # carries a parent's peak into its child's ru_maxrss).
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"the measured process failed ({process.returncode})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peakMiB"] = round(usage.ru_maxrss / 1024)
    result["exportBytes"] = export.stat().st_size
    result["pass"] = {
        "compare under 20 s": result["compareSeconds"] < COMPARE_TARGET_SECONDS,
        "peak under 1.5 GB": result["peakMiB"] < PEAK_TARGET_MIB,
    }
    _say(result)
    print(json.dumps(result, indent=2))
    return 0 if all(result["pass"].values()) else 1


def _export(args: argparse.Namespace, path: Path) -> Path:
    if not path.exists():
        started = time.monotonic()
        rows = args.assets - args.missing
        command = [sys.executable, str(ROOT / "bench" / "cmms_export.py"), "--quirks"]
        command += ["--rows", str(rows), "--new", str(args.missing)]
        command += ["--changes", str(args.changes), "--seed", str(args.seed)]
        command += ["--anchor", args.anchor, "--out", str(path) + ".part"]
        subprocess.run(command, check=True)
        Path(str(path) + ".part").rename(path)
        print(f"export written in {time.monotonic() - started:.1f} s: {path}", file=sys.stderr)
    return path


def _register(args: argparse.Namespace, folder: Path) -> Path:
    if not (folder / "done").exists():
        started = time.monotonic()
        command = [sys.executable, __file__, "--write-register", str(folder)]
        command += ["--assets", str(args.assets), "--seed", str(args.seed)]
        subprocess.run([*command, "--anchor", args.anchor], check=True)
        print(f"register written in {time.monotonic() - started:.1f} s: {folder}", file=sys.stderr)
    return folder


def _say(r: dict[str, Any]) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in r["findingsByKind"].items())
    records = ", ".join(f"{n} {k}" for k, n in r["registerRecords"].items())
    print(f"register: {records}; built in {r['buildSeconds']:.1f} s", file=sys.stderr)
    print(f"  resident after the build: {r['residentAfterBuildMiB']} MiB", file=sys.stderr)
    each = ", ".join(f"{run['seconds']:.2f}" for run in r["compareRuns"])
    print(
        f"compare: {r['rows']} rows, median {r['compareSeconds']:.2f} s ({each})", file=sys.stderr
    )
    print(f"  findings: {r['findings']} ({kinds}); row issues {r['rowIssues']}", file=sys.stderr)
    print(f"  sorted for the report in {r['sortSeconds']:.2f} s", file=sys.stderr)
    print(f"peak memory of the measured process: {r['peakMiB']} MiB", file=sys.stderr)


# --- the register as API v1 would show it ----------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> two characters


class _Ids:
    """Ids in the server's form (``prefix_`` + a ULID: 48 bits of milliseconds, 80 more), made
    from the record's creation time and a counter, so the same plan gives the same ids."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str, at: datetime) -> str:
        self.n += 1
        value = (int(at.timestamp() * 1000) << 80) | (self.n * 0x9E3779B97F4A7C15 % (1 << 80))
        # 13 pairs of characters are 130 bits: the ULID's 26, its first character 3 bits.
        return prefix + "_" + "".join(_PAIRS[(value >> s) & 0x3FF] for s in range(120, -1, -10))


def _stamp(at: datetime | None) -> str | None:
    """The API's timestamp text (``core.timefmt.api_format``: UTC, milliseconds, ``Z``)."""
    if at is None:
        return None
    u = at.astimezone(UTC)
    return f"{u:%Y-%m-%dT%H:%M:%S}.{u.microsecond // 1000:03d}Z"


class _Pages:
    """One list's records, written as API pages of ``PAGE`` records (one JSON body a line)."""

    def __init__(self, path: Path, key: str) -> None:
        self.file, self.key = path.open("w", encoding="utf-8"), key
        self.records: list[dict[str, Any]] = []
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.count += 1
        if len(self.records) == PAGE:
            self.flush("next")

    def flush(self, cursor: str | None) -> None:
        body = {self.key: self.records, "pagination": {"nextCursor": cursor, "limit": PAGE}}
        self.file.write(json.dumps(body, separators=(",", ":")) + "\n")
        self.records = []

    def close(self) -> None:
        self.flush(None)
        self.file.close()


def _write_register(folder: Path, assets: int, seed: int, anchor: datetime) -> None:
    from registra.demo.catalogue import RESPONSIBILITIES
    from registra.demo.plan import RegisterPlanner, crew

    folder.mkdir(parents=True, exist_ok=True)
    ids = _Ids()
    people = crew(SLUG)
    users = {p.email: ids("user", anchor) for p in people}
    holders = {p.external_employee_id: users[p.email] for p in people}
    (folder / "holders.json").write_text(json.dumps(holders))
    duties = {r.key: ids("ra", anchor) for r in RESPONSIBILITIES}
    pages = {name: _Pages(folder / f"{name}.jsonl", LISTS[name]) for name in FILES}
    planner = RegisterPlanner(seed=seed, anchor=anchor, slug=SLUG)
    for i in range(assets):
        plan = planner.asset(i)
        asset = _asset(plan, ids, duties)
        pages["assets"].add(asset)
        if plan.decommission is None:
            for c in plan.custody:
                if c.ended_at is None:
                    pages["custody"].add(_custody(c, asset["id"], ids, users))
        for r in plan.assessments:
            pages["assessments"].add(_assessment(r, asset["id"], ids, duties))
    for p in pages.values():
        p.close()
    counts = {name: p.count for name, p in pages.items()}
    (folder / "done").write_text(json.dumps(counts))


def _asset(plan: Any, ids: _Ids, duties: dict[str, str]) -> dict[str, Any]:
    spec = plan.spec
    retired = plan.decommission[0] if plan.decommission else None
    return {
        "id": ids("asset", spec["created_at"]),
        "assetKey": plan.key,
        "assetKind": spec["asset_kind"],
        "displayName": spec["display_name"],
        "description": spec["description"],
        "sourceKind": spec["source_kind"],
        "status": plan.final_status,
        "custodianResponsibilityId": duties[plan.custodian] if plan.custodian else None,
        "commissionedAt": _stamp(spec["commissioned_at"]),
        "decommissionedAt": _stamp(retired),
        "createdAt": _stamp(spec["created_at"]),
        "updatedAt": _stamp(retired or spec["updated_at"]),
    }


def _custody(c: Any, asset_id: str, ids: _Ids, users: dict[str, str]) -> dict[str, Any]:
    return {
        "id": ids("ascust", c.started_at),
        "assetId": asset_id,
        "assignmentKey": c.key,
        "assignmentKind": c.kind,
        "subjectModuleKey": "membership",
        "subjectResourceType": "member-user",
        "subjectResourceId": users[c.holder],
        "status": "active",
        "startedAt": _stamp(c.started_at),
        "endedAt": None,
        "createdAt": _stamp(c.started_at),
        "updatedAt": _stamp(c.started_at),
    }


def _assessment(r: Any, asset_id: str, ids: _Ids, duties: dict[str, str]) -> dict[str, Any]:
    return {
        "id": ids("asrdy", r.created_at),
        "assetId": asset_id,
        "readinessAssessmentKey": r.key,
        "assessmentKind": r.kind,
        "readinessState": r.state,
        "status": r.status,
        "performedAt": _stamp(r.performed_at),
        "performedByResponsibilityId": duties[r.performed_by] if r.performed_by else None,
        "createdAt": _stamp(r.created_at),
        "updatedAt": _stamp(r.updated_at),
    }


# --- the measured process --------------------------------------------------------------------


def _pages(path: Path, key: str) -> Iterator[dict[str, Any]]:
    """The records of a list's pages, each page decoded as the SDK decodes a reply."""
    with path.open("rb") as f:
        for line in f:
            yield from json.loads(line)[key]


def _resident_mib() -> int:
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return round(kb / 1024)


def _build(folder: Path) -> tuple[Any, dict[str, int]]:
    from registra_client import Asset, CustodyAssignment, ReadinessAssessment, Register

    register = Register()
    steps: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
        ("assets", lambda raw: register.add_asset(Asset.from_api(raw))),
        ("custody", lambda raw: register.add_custody(CustodyAssignment.from_api(raw))),
        ("assessments", lambda raw: register.add_assessment(ReadinessAssessment.from_api(raw))),
    )
    counts = {}
    for name, add in steps:
        n = 0
        for n, raw in enumerate(_pages(folder / f"{name}.jsonl", LISTS[name]), 1):  # noqa: B007
            add(raw)
        counts[name] = n
    return register, counts


def _measure(args: argparse.Namespace, folder: Path) -> int:
    from zoneinfo import ZoneInfo

    from registra_client import load_profile

    export = Path(args.export)
    started = time.perf_counter()
    register, counts = _build(folder)
    build = time.perf_counter() - started
    resident = _resident_mib()
    holders = json.loads((folder / "holders.json").read_text())
    profile, zone = load_profile(PROFILE), ZoneInfo(ZONE)
    split = _split(export, profile) if args.split else {}
    runs: list[tuple[float, float]] = []
    result = None
    for _ in range(1 if args.cprofile else args.repeat):
        result = None  # the previous run's findings go before the next run starts
        result, seconds, cpu = _compare(register, export, profile, holders, zone, args)
        runs.append((seconds, cpu))
    assert result is not None
    summary = {
        "registerAssets": len(register.assets),
        "registerRecords": counts,
        "activePrimaryHolders": len(register.holders),
        "completedCalibrations": len(register.calibrations),
        "buildSeconds": round(build, 2),
        "residentAfterBuildMiB": resident,
        "rows": result.rows,
        "compareSeconds": round(statistics.median(s for s, _ in runs), 2),
        "compareRuns": [{"seconds": round(s, 2), "cpuSeconds": round(c, 2)} for s, c in runs],
        **_findings(result),
        "residentAtEndMiB": _resident_mib(),
        "profiled": args.cprofile,
        **split,
    }
    print(json.dumps(summary))
    return 0


def _compare(
    register: Any, export: Path, profile: Any, holders: Any, zone: Any, args: argparse.Namespace
) -> tuple[Any, float, float]:
    """One ``compare`` of the export with the register: its result, wall and CPU seconds."""
    from registra_client import compare, read_table

    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    with read_table(export, profile) as table:
        result = compare(register, table, profile, table.columns, holders=holders, zone=zone)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        _print_profile(profiler, args.top)
    return result, seconds, cpu


def _findings(result: Any) -> dict[str, Any]:
    """The findings by kind and by field, and the time sorting them for the report takes."""
    from collections import Counter

    from registra_client._findings import sort_findings

    started = time.perf_counter()
    findings = sort_findings(result.findings)
    sort = time.perf_counter() - started
    fields = Counter(f"{f.kind}:{f.field}" for f in findings if f.field)
    return {
        "findings": len(findings),
        "findingsByKind": dict(Counter(f.kind for f in findings).most_common()),
        "findingsByField": dict(fields.most_common()),
        "statusFindingsOnDecommissioned": sum(
            1 for f in findings if f.kind == "field" and f.register == "decommissioned"
        ),
        "rowIssues": len(result.row_issues),
        "sortSeconds": round(sort, 2),
    }


def _split(export: Path, profile: Any) -> dict[str, float]:
    """The export read alone, then read and mapped (CPU seconds): what ``compare`` spends
    before its diff."""
    from registra_client import Mapper, read_table

    cpu = time.process_time()
    with read_table(export, profile) as table:
        for _ in table:
            pass
    read = time.process_time() - cpu
    cpu = time.process_time()
    with read_table(export, profile) as table:
        mapper = Mapper(profile, table.columns)
        for row in table:
            mapper.map(row)
    mapped = time.process_time() - cpu
    return {"readCpuSeconds": round(read, 2), "readAndMapCpuSeconds": round(mapped, 2)}


def _print_profile(profiler: Any, top: int) -> None:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
