"""The CMMS import at scale (issue 9): plan and apply times, peak memory, and a plain COPY of
the same rows for comparison. On demand, never a timed test; figures in docs/benchmarks.md.

    .venv/bin/python bench/imports.py --database-url postgresql://postgres@127.0.0.1:5432/x
    .venv/bin/python bench/imports.py                       # SQLite, in --work
    .venv/bin/python bench/imports.py --big-csv-gb 2        # also stream a 2 GB CSV

Each step runs ``registra import run`` in a process of its own (its peak memory is that
process's), against a fresh database holding the demo crew (``demo-data --assets 1``) and
the example profile (``examples/cmms-profile.toml``):

1. a first import of ``--rows`` rows (all new assets, with custody and calibration), applied;
   on PostgreSQL, then the **written rows**: every row it wrote (assets, readiness, custody,
   calibrations, audit events, plan items), copied by ``COPY`` into the register's own tables
   (every index, constraint and generated column) of a copy of the database as it was before
   the import, in one transaction: what the writes alone cost, with no reading, parsing or
   Python;
2. the same file again, planned only (every row unchanged, nothing written);
3. PostgreSQL only: ``COPY`` of the same rows (the export's columns as text) into a scratch
   table, the floor the issue compares the apply with;
4. ``--million`` rows planned (a preview) against that register;
5. with ``--big-csv-gb``: a CSV of that size read and mapped (parse and validate, no
   database) with ``registra_client``, memory sampled as it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SLUG = "skyline-mro"
PROFILE = ROOT / "examples" / "cmms-profile.toml"
NAME = "AMOS nightly"
REGISTRA = str(Path(sys.executable).with_name("registra"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default="", help="PostgreSQL (default: SQLite in --work)")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--million", type=int, default=1_000_000, help="rows of the big plan (0: skip)")
    p.add_argument("--big-csv-gb", type=float, default=0.0)
    p.add_argument("--work", default=tempfile.mkdtemp(prefix="import-bench-"))
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = _environment(args.database_url, work)
    results: dict[str, Any] = {"database": "postgresql" if args.database_url else "sqlite"}
    first = _export(work, args.rows)
    if args.database_url:
        before = _snapshot(args.database_url)
    results["first import"] = _run(env, first, "--apply")
    if args.database_url:
        results["written rows copied"] = _written_rows(args.database_url, before)
    results["re-run"] = _run(env, first)
    if args.database_url:
        results["copy"] = _copy(env["DATABASE_URL"], first)
        apply = results["first import"]["applySeconds"]
        results["apply / copy"] = round(apply / results["copy"]["seconds"], 1)
    if args.million:
        results["million plan"] = _run(env, _export(work, args.million))
    if args.big_csv_gb:
        results["big csv"] = _stream(_big_csv(work, first, args.big_csv_gb))
    print(json.dumps(results, indent=2))
    return 0


def _environment(database_url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["REGISTRA_DATA_DIR"] = str(work / "data")
    if database_url:
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        base = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = database_url
    else:
        (work / "data" / "registra.sqlite3").unlink(missing_ok=True)
    for command in (
        ["migrate"],
        ["demo-data", "--org", SLUG, "--assets", "1"],
        ["import", "profile", "import", "--org", SLUG, str(PROFILE)],
    ):
        subprocess.run([REGISTRA, *command], env=env, check=True, capture_output=True)
    return env


def _export(work: Path, rows: int) -> Path:
    path = work / f"export-{rows}.csv"
    if not path.exists():
        # In a process of its own, as every step: this one stays small, so the peak memory a
        # child reports is its own (Linux carries the parent's peak into a child's ru_maxrss).
        generator = [sys.executable, str(ROOT / "bench" / "cmms_export.py")]
        subprocess.run([*generator, "--rows", str(rows), "--out", str(path)], check=True)
    return path


def _run(env: dict[str, str], path: Path, *extra: str) -> dict[str, Any]:
    command = [REGISTRA, "import", "run", "--org", SLUG, "--profile", NAME, str(path), "--json"]
    started = time.monotonic()
    process = subprocess.Popen([*command, *extra], env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    out = process.stdout.read()
    _, _, usage = os.wait4(process.pid, 0)  # this process's own peak memory
    process.returncode = 0
    wall = time.monotonic() - started
    peak_mib = usage.ru_maxrss / 1024
    run = json.loads(out)
    return {
        "rows": run["rowsRead"],
        "status": run["status"],
        "counts": {k: v for k, v in run["counts"].items() if v},
        "planSeconds": run["planSeconds"],
        "applySeconds": run["applySeconds"],
        "wallSeconds": round(wall, 1),
        "peakMiB": round(peak_mib),
    }


def _copy(database_url: str, path: Path) -> dict[str, Any]:
    """The export's rows, as text, into a scratch table by COPY: the floor for writing them."""
    code = f"""
import csv, json, time
import psycopg
with open({str(path)!r}, encoding="cp1252", newline="") as f:
    reader = csv.reader(f, delimiter=";")
    header = next(reader)
    rows = list(reader)
columns = ", ".join(f"c{{i}} text" for i in range(len(header)))
with psycopg.connect({database_url!r}) as conn:
    conn.execute(f"CREATE TABLE bench_copy_scratch ({{columns}})")
    conn.commit()
    started = time.monotonic()
    with conn.cursor().copy("COPY bench_copy_scratch FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()
    seconds = time.monotonic() - started
    conn.execute("DROP TABLE bench_copy_scratch")
    conn.commit()
print(json.dumps({{"rows": len(rows), "seconds": round(seconds, 3)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


# What a first import writes, parents first; the key each table's rows are told apart by.
WRITTEN = (
    ("imports_importrun", "id"),
    ("assets_asset", "id"),
    ("assets_assetreadiness", "asset_id"),
    ("assets_custodyassignment", "id"),
    ("assets_readinessassessment", "id"),
    ("core_auditevent", "id"),
    ("imports_importplanitem", "id"),
)


def _snapshot(database_url: str) -> str:
    """A copy of the database as it is now (``CREATE DATABASE ... TEMPLATE``): its URL."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}_before" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}_before" TEMPLATE "{name}"')
    return f"{database_url}_before"


def _written_rows(database_url: str, before_url: str) -> dict[str, Any]:
    """The rows the first import wrote (those ``before_url`` lacks), copied into
    ``before_url``'s own tables in one transaction, commit included; then it is dropped."""
    import psycopg

    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    with psycopg.connect(database_url) as source, psycopg.connect(before_url) as target:
        for table, key in WRITTEN:
            columns = ", ".join(
                name
                for (name,) in source.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                    " AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                    (table,),
                )
            )
            old = [k for (k,) in target.execute(f"SELECT {key}::text FROM {table}")]
            query = f"COPY (SELECT {columns} FROM {table} WHERE {key} <> ALL(%s)) TO STDOUT"
            # Through a file, a megabyte at a time: this process stays small, so the peak
            # memory its later children report is theirs (see _export).
            with tempfile.TemporaryFile() as data:
                with source.cursor().copy(query, (old,)) as out:
                    for chunk in out:
                        data.write(chunk)
                data.seek(0)
                rows[table] = sum(
                    chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 20), b"")
                )
                data.seek(0)
                step = time.monotonic()
                with target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as into:
                    while chunk := data.read(1 << 20):
                        into.write(chunk)
                seconds[table] = round(time.monotonic() - step, 2)
        step = time.monotonic()
        target.commit()  # the deferred foreign key checks run here
        seconds["commit"] = round(time.monotonic() - step, 2)
        total = round(sum(seconds.values()), 2)
    name = before_url.rsplit("/", 1)[1]
    with psycopg.connect(before_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"rows": rows, "seconds": seconds, "totalSeconds": total}


def _big_csv(work: Path, sample: Path, gigabytes: float) -> Path:
    """A CSV of about ``gigabytes``: the sample's rows again and again under new keys."""
    path = work / f"big-{gigabytes:g}gb.csv"
    if path.exists():
        return path
    lines = sample.read_bytes().split(b"\r\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    target, written, copy = int(gigabytes * 1024**3), 0, 0
    with open(path, "wb") as out:
        out.write(header + b"\r\n")
        while written < target:
            copy += 1
            prefix = b"C%05d-" % copy
            chunk = b"".join(prefix + line + b"\r\n" for line in body)
            out.write(chunk)
            written += len(chunk)
    return path


def _stream(path: Path) -> dict[str, Any]:
    code = f"""
import json, time
from registra_client import Mapper, load_profile, read_table
def rss_mib():  # the resident memory now (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return round(kb / 1024)
profile = load_profile({str(PROFILE)!r})
started, rows, issues, samples = time.monotonic(), 0, 0, []
with read_table({str(path)!r}, profile) as table:
    mapper = Mapper(profile, table.columns)
    for row in table:
        rows += 1
        if isinstance(mapper.map(row), list):
            issues += 1
        if rows % 1_000_000 == 0:
            samples.append(rss_mib())
seconds = time.monotonic() - started
print(json.dumps({{"rows": rows, "rowsWithIssues": issues, "seconds": round(seconds, 1),
    "rowsPerSecond": round(rows / seconds), "residentMiBEachMillionRows": samples}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    result["bytes"] = path.stat().st_size
    return result


if __name__ == "__main__":
    raise SystemExit(main())
