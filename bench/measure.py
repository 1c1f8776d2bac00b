"""The three measurements, for any server that speaks the list shape: wrk throughput and latency
of one page, the cursor for page N, and the time of a sequential walk of the whole register.

All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import orjson

HOST = "127.0.0.1"
WRK_HELP = "wrk is not installed; on Debian or Ubuntu: sudo apt-get install -y wrk"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Target:
    """A server under test: its port, list path and the headers every request carries."""

    name: str
    port: int
    path: str  # e.g. "/api/v1/assets"
    headers: dict[str, str]

    def url(self, query: str) -> str:
        return f"http://{HOST}:{self.port}{self.path}?{query}"


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    cpu_ms_per_request: float = 0.0  # the server's own CPU time (all its processes) per request


@dataclass(frozen=True)
class WalkResult:
    seconds: float
    records: int
    unique_ids: int
    pages: int
    server_cpu_s: float = 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (server workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in tree)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(WRK_HELP)
    return path


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s and the 50th and 99th percentiles from ``wrk --latency`` output."""
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s+(\d+) requests in", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if rps is None or total is None or "50" not in pct or "99" not in pct:
        raise ValueError(f"could not read wrk output:\n{output}")
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        p50_ms=_ms(pct["50"]),
        p99_ms=_ms(pct["99"]),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def wrk(
    target: Target,
    query: str,
    *,
    threads: int,
    connections: int,
    seconds: int,
    server_pid: int | None = None,
) -> tuple[WrkResult, str]:
    """Run wrk against one URL; fails loudly when any response was not a 2xx. With the
    server's pid, also reports the server's CPU time per request (less sensitive than
    requests/s to other load on the machine)."""
    cmd = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in target.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(target.url(query))
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    result = parse_wrk(out)
    if server_pid:
        cpu = cpu_seconds(server_pid) - cpu_before
        result = replace(result, cpu_ms_per_request=1000 * cpu / max(result.requests, 1))
    if result.non_2xx:
        raise RuntimeError(f"{target.name}: {result.non_2xx} non-2xx responses from wrk:\n{out}")
    return result, out


class Client:
    """One keep-alive connection that fetches pages and follows ``nextCursor``."""

    def __init__(self, target: Target, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.conn = http.client.HTTPConnection(HOST, target.port, timeout=60)

    def page(self, cursor: str | None) -> dict:
        query = f"limit={self.limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        self.conn.request("GET", f"{self.target.path}?{query}", headers=self.target.headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.target.name}: HTTP {response.status}: {body[:300]!r}")
        return orjson.loads(body)

    def close(self) -> None:
        self.conn.close()


def cursor_for_page(target: Target, *, page: int, limit: int) -> str:
    """The cursor that fetches page ``page`` (1-based), found by walking the pages before it."""
    client = Client(target, limit)
    cursor = None
    try:
        for n in range(1, page):
            cursor = client.page(cursor)["pagination"].get("nextCursor")
            if cursor is None:
                raise RuntimeError(f"{target.name}: the register ends at page {n}, before {page}")
    finally:
        client.close()
    assert cursor is not None
    return cursor


def walk(
    target: Target, *, limit: int, key: str = "assets", server_pid: int | None = None
) -> WalkResult:
    """Walk every page in sequence on one keep-alive connection, counting records."""
    client = Client(target, limit)
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    seen: set[str] = set()
    records = pages = 0
    cursor = None
    started = time.perf_counter()
    try:
        while True:
            body = client.page(cursor)
            rows = body[key]
            records += len(rows)
            seen.update(r["id"] for r in rows)
            pages += 1
            cursor = body["pagination"].get("nextCursor")
            if cursor is None:
                break
    finally:
        client.close()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    return WalkResult(seconds, records, len(seen), pages, cpu)


def compare_walks(a: Target, b: Target, *, limit: int, key: str = "assets") -> int:
    """Walk two servers in lockstep and fail unless every page holds the same records in the
    same order (cursors differ by design). Returns the number of records; untimed."""
    first, second = Client(a, limit), Client(b, limit)
    cursors: tuple[str | None, str | None] = (None, None)
    records = 0
    try:
        while True:
            page_a, page_b = first.page(cursors[0]), second.page(cursors[1])
            if page_a[key] != page_b[key]:
                raise RuntimeError(f"{a.name} and {b.name} differ after {records} records")
            records += len(page_a[key])
            cursors = (
                page_a["pagination"].get("nextCursor"),
                page_b["pagination"].get("nextCursor"),
            )
            if (cursors[0] is None) != (cursors[1] is None):
                raise RuntimeError(f"{a.name} and {b.name} end differently after {records}")
            if cursors[0] is None:
                return records
    finally:
        first.close()
        second.close()


def token(port: int, client_id: str, client_secret: str) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    body = orjson.dumps(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    )
    conn.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"token request failed: HTTP {response.status}: {data[:300]!r}")
    return orjson.loads(data)["access_token"]
