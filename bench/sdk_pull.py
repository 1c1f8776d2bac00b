"""The SDK's full pull against a bare httpx loop (issue 10): ``client.assets.list()`` over a
100,000-asset demo register on loopback, within 1.3x of the time of a loop that walks the same
cursors and only decodes each page's JSON. On demand, never a timed test; figures in
docs/benchmarks.md.

    .venv/bin/python bench/sdk_pull.py                  # creates and loads the database
    .venv/bin/python bench/sdk_pull.py --reuse          # keeps a database already loaded

Set-up: a database of its own (``--database-url``, dropped and created afresh unless
``--reuse`` finds it holding ``--assets`` assets), ``registra migrate``, ``registra demo-data``
(a few minutes for 100,000 assets), a service account with ``assets:read``, then ``registra
serve`` on a free loopback port with the rate limits raised out of the way and no Redis.

Measured: after one untimed walk (it warms PostgreSQL's cache and the server), ``--rounds``
rounds of the bare loop then the SDK, each from a new client (its token grant and its first
connection included): the wall time, the client's own CPU time and the records (they must
equal ``--assets``; the SDK's distinct ids too). Prints each time, the medians and SDK / bare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
REGISTRA = str(Path(sys.executable).with_name("registra"))
SLUG = "skyline-mro"
HOST = "127.0.0.1"
PATH = "/api/v1/assets"
TARGET = 1.3
# The limits are per minute; a walk of 100,000 assets is 500 pages, and every round grants a
# token. Raised so the limiter is out of the way (it still runs: it is part of each request).
LIMITS = {
    "REGISTRA_RATE_LIMIT_TOKEN_READS": "1000000",
    "REGISTRA_RATE_LIMIT_ORG_REQUESTS": "1000000",
    "REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT": "1000",
    "REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS": "1000",
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/bench_sdk_pull")
    p.add_argument("--assets", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--limit", type=int, default=200, help="page size of both walks")
    p.add_argument("--reuse", action="store_true", help="keep the database when it is loaded")
    p.add_argument("--work", default=str(ROOT / "bench" / "results" / "sdk_pull"))
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = _environment(args, work)
    client_id, secret = _service_account(env)
    port = _free_port()
    base = f"http://{HOST}:{port}"
    with _serving(env, port, work / "server.log"):
        results = _rounds(args, base, client_id, secret)
    print(json.dumps(results, indent=2))
    return 0 if results["pass"] else 1


# --- set-up ----------------------------------------------------------------------------------


def _environment(args: argparse.Namespace, work: Path) -> dict[str, str]:
    """The servers' environment, the database created and loaded unless ``--reuse`` finds it
    loaded."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"REGISTRA_DATA_DIR": str(work / "data"), "DATABASE_URL": args.database_url, **LIMITS}
    held = _assets_held(args.database_url) if args.reuse else None
    if held == args.assets:
        print(f"reusing {args.database_url}: {held} assets in {SLUG}", flush=True)
        return env
    if args.reuse:
        print(f"--reuse: the database holds {held} assets, not {args.assets}; reloading")
    _recreate(args.database_url)
    _registra(env, "migrate")
    started = time.monotonic()
    _registra(env, "demo-data", "--org", SLUG, "--assets", str(args.assets))
    print(f"demo-data --assets {args.assets}: {time.monotonic() - started:.1f} s", flush=True)
    _vacuum_analyze(args.database_url)
    return env


def _recreate(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    base = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _assets_held(database_url: str) -> int | None:
    """The demo organization's assets, or None when there is no such database or organization."""
    import psycopg

    try:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM assets_asset a JOIN organizations_organization o"
                " ON o.id = a.organization_id WHERE o.slug = %s",
                (SLUG,),
            ).fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row and row[0] else None


def _vacuum_analyze(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE assets_asset")


def _registra(env: dict[str, str], *command: str) -> str:
    done = subprocess.run([REGISTRA, *command], env=env, check=True, capture_output=True, text=True)
    return done.stdout


def _service_account(env: dict[str, str]) -> tuple[str, str]:
    name = f"Bench {datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S}"
    command = ["service-account", "create", "--org", SLUG, "--name", name]
    out = _registra(env, *command, "--scopes", "assets:read", "--json")
    creds = json.loads(out.strip().splitlines()[-1])
    return str(creds["clientId"]), str(creds["clientSecret"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """``registra serve`` in a process group of its own; always stopped."""
    command = [REGISTRA, "serve", "--host", HOST, "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_listening(port, server, log)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, 15)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
                server.wait(timeout=15)


def _wait_listening(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited; see {log}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1):
            return
        time.sleep(0.2)
    raise SystemExit(f"the server did not start within 60 s; see {log}")


# --- the walks -------------------------------------------------------------------------------


def _bare(base: str, client_id: str, secret: str, limit: int) -> tuple[int, int | None]:
    """The floor: a token, then GET page after page by cursor, each page's JSON decoded.
    Returns the records counted (their ids are not collected: nothing else is done)."""
    records = 0
    with httpx.Client(base_url=base) as http:
        grant = {"grant_type": "client_credentials", "client_id": client_id}
        grant["client_secret"] = secret
        token = http.post("/api/v1/auth/token", json=grant).raise_for_status().json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        params = {"limit": str(limit)}
        while True:
            reply = http.get(PATH, params=params, headers=headers)
            reply.raise_for_status()
            body = json.loads(reply.content)
            records += len(body["assets"])
            cursor = body["pagination"].get("nextCursor")
            if not cursor:
                return records, None
            params["cursor"] = cursor


def _sdk(base: str, client_id: str, secret: str, limit: int) -> tuple[int, int | None]:
    """The SDK's pull: every asset as an ``Asset`` record; the records and distinct ids."""
    from registra_client import Client

    with Client(base, client_id, secret, page_size=limit) as client:
        ids = [a.id for a in client.assets.list()]
    return len(ids), len(set(ids))


WALKS = {"bare": _bare, "sdk": _sdk}


def _timed(name: str, base: str, client_id: str, secret: str, limit: int) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    records, distinct = WALKS[name](base, client_id, secret, limit)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    run = {"seconds": round(seconds, 3), "clientCpuSeconds": round(cpu_seconds, 3)}
    return run | {"records": records} | ({"distinct": distinct} if distinct is not None else {})


def _rounds(args: argparse.Namespace, base: str, client_id: str, secret: str) -> dict[str, Any]:
    warm = _timed("bare", base, client_id, secret, args.limit)
    print(f"warm-up walk: {warm['seconds']:.2f} s, {warm['records']} records", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "sdk": []}
    for n in range(1, args.rounds + 1):
        for name in WALKS:
            run = _timed(name, base, client_id, secret, args.limit)
            if run["records"] != args.assets or run.get("distinct", args.assets) != args.assets:
                raise SystemExit(f"{name} walk returned {run}; expected {args.assets} assets")
            runs[name].append(run)
            print(
                f"round {n} {name:4}: {run['seconds']:6.2f} s "
                f"(client CPU {run['clientCpuSeconds']:5.2f} s)",
                flush=True,
            )
    medians = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["clientCpuSeconds"] for r in v) for k, v in runs.items()}
    ratio = medians["sdk"] / medians["bare"]
    return {
        "assets": args.assets,
        "pageSize": args.limit,
        "runs": runs,
        "medianSeconds": {k: round(v, 3) for k, v in medians.items()},
        "medianClientCpuSeconds": {k: round(v, 3) for k, v in cpu.items()},
        "sdk / bare": round(ratio, 3),
        "target": TARGET,
        "pass": ratio <= TARGET,
    }


if __name__ == "__main__":
    raise SystemExit(main())
