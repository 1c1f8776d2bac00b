"""Benchmark the API v1 asset list against a floor, in one command.

    .venv/bin/python bench/run.py --assets 100000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/registra_bench

Creates and migrates the database, loads the register once (``registra demo-data`` when it is
available, else ``bench/load.py``), starts ``registra serve`` and the floor
(``bench/floor_app.py`` under uvicorn, same worker count) on free loopback ports, and
measures for each: wrk throughput and p50/p99 latency of the first page and of a deep page at
concurrency 8, and the time to walk the whole register sequentially; for Registra also one
asset (``GET /api/v1/assets/{id}``) at concurrency 1. Prints a table with
Registra/floor ratios and the targets' pass/miss, writes ``bench/results/results.json``, and
stops both servers. ``--profile`` also records a py-spy profile of Registra's page path.

Needs wrk (``apt-get install -y wrk``), PostgreSQL and Redis. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure
import spy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
UNLIMITED = str(10**9)


@dataclass
class Figures:
    """One server's numbers: each the median over the rounds."""

    first_rps: float
    first_p50_ms: float
    first_p99_ms: float
    first_cpu_ms: float  # the server's CPU time per first-page request
    deep_rps: float
    deep_p50_ms: float
    deep_p99_ms: float
    deep_cpu_ms: float
    walk_s: float
    walk_cpu_s: float  # the server's CPU time for the whole walk
    walk_records: int
    walk_pages: int
    # One asset at concurrency 1 (Registra only: the floor serves no single record).
    single_rps: float = 0.0
    single_p50_ms: float = 0.0
    single_p99_ms: float = 0.0
    single_cpu_ms: float = 0.0


# --- database --------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            print(f"creating database {name}", flush=True)
            conn.execute(f'CREATE DATABASE "{name}"')


def register_size(url: str, org: str) -> tuple[str | None, int]:
    """The organization's id and its asset count (None, 0 before the first load)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM organizations_organization WHERE slug = %s", (org,)
        ).fetchone()
        if row is None:
            return None, 0
        count = conn.execute(
            "SELECT count(*) FROM assets_asset WHERE organization_id = %s", (row[0],)
        ).fetchone()
        return row[0], count[0] if count else 0


def vacuum_analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("assets_asset", "assets_custodyassignment", "assets_readinessassessment"):
            conn.execute(f"VACUUM ANALYZE {table}")


def load(args: argparse.Namespace, env: dict[str, str]) -> None:
    loader = args.loader
    if loader == "auto":
        loader = "demo-data" if importlib.util.find_spec("registra.demo.loader") else "bench"
    print(f"loading {args.assets} assets with the {loader} loader", flush=True)
    if loader == "demo-data":
        cmd = [str(BIN / "registra"), "demo-data", "--org", args.org]
        cmd += ["--assets", str(args.assets), "--seed", str(args.seed)]
    else:
        cmd = [sys.executable, str(ROOT / "bench" / "load.py"), "--org", args.org]
        cmd += ["--assets", str(args.assets), "--seed", str(args.seed)]
    subprocess.run(cmd, env=env, check=True, timeout=3600)


def prepare(args: argparse.Namespace, env: dict[str, str]) -> str:
    """Create, migrate and load the database as needed; returns the organization id."""
    ensure_database(args.database_url)
    subprocess.run([str(BIN / "registra"), "migrate"], env=env, check=True, timeout=600)
    org_id, count = register_size(args.database_url, args.org)
    if count == 0:
        load(args, env)
        vacuum_analyze(args.database_url)
        org_id, count = register_size(args.database_url, args.org)
    if org_id is None or count != args.assets:
        raise SystemExit(
            f"organization {args.org} holds {count} assets, not {args.assets}: use another "
            "--org or a fresh --database-url"
        )
    print(f"register ready: {count} assets in {args.org} ({org_id})", flush=True)
    return org_id


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((measure.HOST, 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited; see {log}")
        with contextlib.suppress(OSError), socket.create_connection((measure.HOST, port), 1):
            return
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start within {timeout} s; see {log}")


@contextlib.contextmanager
def server(name: str, cmd: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    """Run one server in its own process group; yields its pid and always stops it."""
    log = RESULTS / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_listening(port, proc, log)
            yield proc.pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=15)


def registra_cmd(port: int, workers: int) -> list[str]:
    port_args = ["--host", measure.HOST, "--port", str(port), "--workers", str(workers)]
    return [str(BIN / "registra"), "serve", *port_args]


def floor_cmd(port: int, workers: int) -> list[str]:
    # The floor's server since 0002 (floor_app.py says why it stays).
    return [
        str(BIN / "uvicorn"),
        "floor_app:app",
        "--app-dir",
        str(ROOT / "bench"),
        "--host",
        measure.HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
        "--proxy-headers",
    ]


def service_account(args: argparse.Namespace, env: dict[str, str]) -> tuple[str, str]:
    name = f"Benchmark {datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S}"
    cmd = [str(BIN / "registra"), "service-account", "create", "--org", args.org]
    cmd += ["--name", name, "--scopes", "assets:read", "--json"]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=120)
    creds = orjson.loads(out.stdout.strip().splitlines()[-1])
    return creds["clientId"], creds["clientSecret"]


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Server:
    """A running server under test."""

    target: measure.Target
    pid: int


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _wrk(
    args: argparse.Namespace, server: Server, query: str, label: str, *, connections: int = 0
) -> measure.WrkResult:
    result, raw = measure.wrk(
        server.target,
        query,
        threads=min(args.threads, connections) if connections else args.threads,
        connections=connections or args.connections,
        seconds=args.duration,
        server_pid=server.pid,
    )
    name = server.target.name
    with (RESULTS / f"wrk-{name}-{label}.txt").open("a") as out:
        out.write(raw + "\n")
    print(
        f"  {name:8} {label:5}: {result.requests_per_s:7.1f} req/s, p50 {result.p50_ms:6.2f} ms, "
        f"p99 {result.p99_ms:6.2f} ms, server CPU {result.cpu_ms_per_request:5.2f} ms/request",
        flush=True,
    )
    return result


def _walk(args: argparse.Namespace, server: Server) -> measure.WalkResult:
    w = measure.walk(server.target, limit=args.limit, server_pid=server.pid)
    print(
        f"  {server.target.name:8} walk : {w.seconds:.2f} s, server CPU {w.server_cpu_s:.2f} s, "
        f"{w.records} records in {w.pages} pages",
        flush=True,
    )
    if w.records != args.assets or w.unique_ids != args.assets:
        raise SystemExit(
            f"{server.target.name} walk returned {w.records} records ({w.unique_ids} unique), "
            f"expected {args.assets}"
        )
    return w


def single_asset(server: Server) -> Server:
    """The same server, aimed at one asset (the newest) instead of the list."""
    client = measure.Client(server.target, 1)
    try:
        asset_id = client.page(None)["assets"][0]["id"]
    finally:
        client.close()
    target = dataclasses.replace(server.target, path=f"{server.target.path}/{asset_id}")
    return Server(target, server.pid)


def measure_all(
    args: argparse.Namespace, servers: list[Server], single: Server
) -> dict[str, Figures]:
    """Each round measures every server in turn (first page, deep page, walk), so load from
    elsewhere on the machine falls on all of them alike, then ``single`` (one asset at
    concurrency 1); the medians are kept."""
    first = f"limit={args.limit}"
    deep = {}
    for server in servers:
        cursor = measure.cursor_for_page(server.target, page=args.deep_page, limit=args.limit)
        deep[server.target.name] = f"{first}&cursor={cursor}"
        # Untimed: connections open, caches warm.
        for query in (first, deep[server.target.name]):
            measure.wrk(server.target, query, threads=args.threads, connections=8, seconds=3)
    measure.wrk(single.target, "", threads=1, connections=1, seconds=3)
    runs: dict[str, dict[str, list]] = {
        s.target.name: {"first": [], "deep": [], "walk": []} for s in servers
    }
    singles = []
    for n in range(1, args.rounds + 1):
        print(f"round {n} of {args.rounds}", flush=True)
        for server in servers:
            runs[server.target.name]["first"].append(_wrk(args, server, first, "first"))
        for server in servers:
            name = server.target.name
            runs[name]["deep"].append(_wrk(args, server, deep[name], "deep"))
        for server in servers:
            runs[server.target.name]["walk"].append(_walk(args, server))
        singles.append(_wrk(args, single, "", "single", connections=1))
    figures = {name: _figures(r["first"], r["deep"], r["walk"]) for name, r in runs.items()}
    figures[single.target.name] = dataclasses.replace(
        figures[single.target.name],
        single_rps=_median([r.requests_per_s for r in singles]),
        single_p50_ms=_median([r.p50_ms for r in singles]),
        single_p99_ms=_median([r.p99_ms for r in singles]),
        single_cpu_ms=_median([r.cpu_ms_per_request for r in singles]),
    )
    return figures


def _figures(
    first: list[measure.WrkResult], deep: list[measure.WrkResult], walks: list[measure.WalkResult]
) -> Figures:
    return Figures(
        first_rps=_median([r.requests_per_s for r in first]),
        first_p50_ms=_median([r.p50_ms for r in first]),
        first_p99_ms=_median([r.p99_ms for r in first]),
        first_cpu_ms=_median([r.cpu_ms_per_request for r in first]),
        deep_rps=_median([r.requests_per_s for r in deep]),
        deep_p50_ms=_median([r.p50_ms for r in deep]),
        deep_p99_ms=_median([r.p99_ms for r in deep]),
        deep_cpu_ms=_median([r.cpu_ms_per_request for r in deep]),
        walk_s=_median([w.seconds for w in walks]),
        walk_cpu_s=_median([w.server_cpu_s for w in walks]),
        walk_records=walks[0].records,
        walk_pages=walks[0].pages,
    )


def profile(args: argparse.Namespace, target: measure.Target, pid: int) -> None:
    """py-spy on Registra while wrk fetches first pages; writes and prints a summary."""
    out = RESULTS / "registra-page.txt"
    seconds = min(args.duration, 15)
    recorder = spy.record(pid, out, seconds=seconds)
    time.sleep(1)  # let py-spy attach before the load starts
    measure.wrk(
        target,
        f"limit={args.limit}",
        threads=args.threads,
        connections=args.connections,
        seconds=seconds - 2,
    )
    _, err = recorder.communicate(timeout=seconds + 60)
    if recorder.returncode != 0:
        raise SystemExit(f"py-spy failed: {err}")
    summary = spy.summarize(out)
    (RESULTS / "registra-page-summary.txt").write_text(summary + "\n")
    print(summary, flush=True)


# --- report ----------------------------------------------------------------------------------


def targets(r: Figures, f: Figures) -> list[tuple[str, str, bool]]:
    deep_vs_first = r.deep_p50_ms / r.first_p50_ms
    walk_ratio = r.walk_s / f.walk_s
    rps_ratio = r.first_rps / f.first_rps
    single_vs_first = r.single_p50_ms / r.first_p50_ms
    return [
        (
            "deep-page p50 within 20% of first-page p50",
            f"{deep_vs_first:.2f}x",
            deep_vs_first <= 1.2,
        ),
        ("full walk at most 1.5x the floor's", f"{walk_ratio:.2f}x", walk_ratio <= 1.5),
        ("page throughput at least 0.6x the floor's", f"{rps_ratio:.2f}x", rps_ratio >= 0.6),
        (
            "one asset at concurrency 1: p50 at most half the first page's",
            f"{single_vs_first:.2f}x",
            single_vs_first <= 0.5,
        ),
    ]


def table(r: Figures, f: Figures, deep_page: int) -> str:
    rows = [
        ("first page: requests/s", r.first_rps, f.first_rps, "{:.1f}"),
        ("first page: p50 latency (ms)", r.first_p50_ms, f.first_p50_ms, "{:.2f}"),
        ("first page: p99 latency (ms)", r.first_p99_ms, f.first_p99_ms, "{:.2f}"),
        (f"page {deep_page}: requests/s", r.deep_rps, f.deep_rps, "{:.1f}"),
        (f"page {deep_page}: p50 latency (ms)", r.deep_p50_ms, f.deep_p50_ms, "{:.2f}"),
        (f"page {deep_page}: p99 latency (ms)", r.deep_p99_ms, f.deep_p99_ms, "{:.2f}"),
        ("full walk (s)", r.walk_s, f.walk_s, "{:.2f}"),
        ("first page: server CPU per request (ms)", r.first_cpu_ms, f.first_cpu_ms, "{:.2f}"),
        (f"page {deep_page}: server CPU per request (ms)", r.deep_cpu_ms, f.deep_cpu_ms, "{:.2f}"),
        ("full walk: server CPU (s)", r.walk_cpu_s, f.walk_cpu_s, "{:.2f}"),
    ]
    lines = ["| figure | Registra | floor | Registra / floor |", "|---|---:|---:|---:|"]
    for label, a, b, fmt in rows:
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {a / b:.2f} |")
    for label, a, fmt in [
        ("one asset, concurrency 1: requests/s", r.single_rps, "{:.1f}"),
        ("one asset, concurrency 1: p50 / p99 latency (ms)", None, ""),
        ("one asset: server CPU per request (ms)", r.single_cpu_ms, "{:.2f}"),
    ]:
        text = f"{r.single_p50_ms:.2f} / {r.single_p99_ms:.2f}" if a is None else fmt.format(a)
        lines.append(f"| {label} | {text} | - | - |")
    lines += ["", "| target | measured | result |", "|---|---:|---|"]
    for label, value, ok in targets(r, f):
        lines.append(f"| {label} | {value} | {'pass' if ok else 'MISS'} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
    }


# --- main ------------------------------------------------------------------------------------


def environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        REGISTRA_DATA_DIR=str(RESULTS / "data"),
        REGISTRA_CACHE_PREFIX="registra-bench",
        REGISTRA_RATE_LIMIT_TOKEN_READS=UNLIMITED,
        REGISTRA_RATE_LIMIT_ORG_REQUESTS=UNLIMITED,
        REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT=UNLIMITED,
        REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS=UNLIMITED,
        REGISTRA_TOKEN_TTL_SECONDS="7200",
    )
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--assets", type=int, default=100_000, help="register size (default 100000)")
    p.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/registra_bench",
        help="PostgreSQL database for the bench (created if missing)",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--org", default="bench", help="organization slug (default bench)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--loader", choices=("auto", "demo-data", "bench"), default="auto")
    p.add_argument("--workers", type=int, default=1, help="worker processes for both servers")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (concurrency)")
    p.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3, help="rounds of measurements; medians kept")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--deep-page", type=int, default=400)
    p.add_argument("--profile", action="store_true", help="also py-spy Registra's page path")
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 120 or not 1 <= args.rounds <= 5:
        p.error("--duration must be 1-120 and --rounds 1-5 (the bench stays bounded)")
    if args.deep_page * args.limit > args.assets:
        p.error("--deep-page x --limit must not exceed --assets")
    return args


def run_servers(args: argparse.Namespace, env: dict[str, str], org_id: str) -> dict[str, Figures]:
    client_id, secret = service_account(args, env)
    floor_env = {**env, "FLOOR_DATABASE_URL": args.database_url, "FLOOR_ORGANIZATION_ID": org_id}
    r_port, f_port = free_port(), free_port()
    with (
        server("floor", floor_cmd(f_port, args.workers), floor_env, f_port) as f_pid,
        server("registra", registra_cmd(r_port, args.workers), env, r_port) as r_pid,
    ):
        bearer = {"Authorization": f"Bearer {measure.token(r_port, client_id, secret)}"}
        registra = Server(measure.Target("registra", r_port, "/api/v1/assets", bearer), r_pid)
        floor = Server(measure.Target("floor", f_port, "/assets", {}), f_pid)
        # Untimed: proves the floor serves exactly Registra's records, and warms the cache.
        same = measure.compare_walks(registra.target, floor.target, limit=args.limit)
        print(f"floor and Registra return the same {same} records, page by page", flush=True)
        figures = measure_all(args, [floor, registra], single_asset(registra))
        if args.profile:
            profile(args, registra.target, r_pid)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.require_wrk()
    if args.profile and spy.py_spy() is None:
        raise SystemExit(spy.PY_SPY_HELP)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for stale in RESULTS.glob("wrk-*.txt"):
        stale.unlink()
    env = environment(args)
    org_id = prepare(args, env)
    load_before = os.getloadavg()
    figures = run_servers(args, env, org_id)
    load_after = os.getloadavg()
    r, f = figures["registra"], figures["floor"]
    info = machine()
    print(f"\n{info['cpus']} x {info['cpu']}, {info['memory']}, Python {info['python']}")
    print(f"{args.assets} assets, limit {args.limit}, {args.workers} worker(s), wrk ", end="")
    print(f"-t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} round(s)")
    print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if load_before[0] > 1.0:
        print("note: the machine was busy before the run; figures are noisier than usual")
    print()
    print(table(r, f, args.deep_page))
    results = {
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": info,
        "load_average_1min": {"before": load_before[0], "after": load_after[0]},
        "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
        "registra": asdict(r),
        "floor": asdict(f),
        "targets": [{"target": t, "measured": v, "pass": ok} for t, v, ok in targets(r, f)],
    }
    (RESULTS / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0 if all(ok for _, _, ok in targets(r, f)) else 1


if __name__ == "__main__":
    sys.exit(main())
