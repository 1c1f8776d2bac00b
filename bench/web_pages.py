"""The web UI's pages at scale (issue 7): server time of the register list, the asset page and
the dashboard, and the CSV export's rate and memory, on a loaded register; and the audit log's
pages (issue 8) on the events that register's loading wrote.

Runs the pages in this process through Django's test client (the whole Django stack, the
session, the middleware and the database; no network), signed in as the demo viewer (the
register list with no bulk forms), the demo editor (with them) and the demo auditor (the audit
log)::

    .venv/bin/python bench/web_pages.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/reg_web_bench --org mro

The organization must hold a demo register (``registra demo-data --org mro --assets 1000000``);
the first run adds one asset with 30 custody records and 40 assessments (``BENCH-DEEP``, through
the services) for the asset page. Never part of the test suite. Writes
``bench/results/web_pages.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
DEEP_KEY = "BENCH-DEEP"
REASON = "Benchmark: an asset with a long history (bench/web_pages.py)"
NEXT = re.compile(r'<a href="\?([^"]+)" rel="next">')


def _setup(database_url: str, data_dir: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REGISTRA_DATA_DIR", data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
    import django

    django.setup()


def _deep_asset(slug: str) -> str:
    """The id of ``BENCH-DEEP``: 30 custody records (the last one active) and 40 assessments."""
    from registra.assets import selectors, services
    from registra.core.errors import NotFound
    from registra.core.timefmt import now
    from registra.organizations import selectors as org_selectors
    from registra.organizations.policy import actor_for_system_job

    org = org_selectors.organization_get_by_slug(slug)
    try:
        return selectors.asset_get_by_key(org, DEEP_KEY).id
    except NotFound:
        pass
    actor = actor_for_system_job("operator", organization=org, label="bench web_pages")
    asset = services.asset_create(
        organization=org,
        actor=actor,
        reason=REASON,
        asset_key=DEEP_KEY,
        asset_kind="calibrated-tool",
        display_name="Torque wrench with a long history",
        status="active",
    )
    members = [m.id for m in org_selectors.active_members(org)]
    start = now() - timedelta(days=3 * 365)
    services.custody_bulk_record(
        organization=org,
        actor=actor,
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "member_id": members[i % len(members)],
                "assignment_kind": "primary",
                "assignment_key": f"{DEEP_KEY}-c{i:02d}",
                "started_at": start + timedelta(days=30 * i),
                "ended_at": None if i == 29 else start + timedelta(days=30 * i + 29),
            }
            for i in range(30)
        ],
    )
    services.readiness_bulk_record(
        organization=org,
        actor=actor,
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "readiness_assessment_key": f"{DEEP_KEY}-a{i:02d}",
                "assessment_kind": "calibration",
                "readiness_state": "ready",
                "status": "completed",
                "performed_at": start + timedelta(days=27 * i),
                "valid_until": start + timedelta(days=27 * i + 180),
            }
            for i in range(40)
        ],
    )
    return asset.id


def _clients(slug: str) -> dict[str, Any]:
    """A test client signed in as each demo member, by role (one password reset for all: a
    reset ends the member's other sessions)."""
    from django.test import Client

    from registra.demo.members import demo_sign_ins

    clients = {}
    for member in demo_sign_ins(slug):
        client = Client()
        response = client.post("/sign-in", {"email": member.email, "password": member.password})
        if response.status_code != 302:
            raise SystemExit(f"sign-in as the demo {member.role} failed ({response.status_code})")
        clients[member.role] = client
    return clients


def _get(client: Any, url: str) -> bytes:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url}: {response.status_code}")
    return b"".join(response.streaming_content) if response.streaming else response.content


def _page(client: Any, base: str, query: str, n: int) -> str | None:
    """The URL of page ``n`` of the list ``base + query`` (following "Next page" links); None
    when the list has fewer pages."""
    url = base + query
    for _ in range(n - 1):
        found = NEXT.search(_get(client, url).decode())
        if found is None:
            return None
        url = base + "?" + found.group(1).replace("&amp;", "&")
    return url


def _time(fetch: Callable[[], bytes], samples: int) -> dict[str, float]:
    for _ in range(3):  # warm the caches and the connection
        fetch()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fetch()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1),
        "samples": samples,
    }


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _export(client: Any, url: str) -> dict[str, Any]:
    """Stream the export, counting rows and sampling this process's memory as it goes."""
    started = time.perf_counter()
    response = client.get(url)
    rows, samples, pending = 0, [], b""
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        if rows // 100_000 > len(samples):
            samples.append(round(_rss_mib(), 1))
        pending = chunk[-1:]
    elapsed = time.perf_counter() - started
    data_rows = rows - 1  # the header
    return {
        "rows": data_rows,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(data_rows / elapsed),
        "rss_mib_every_100k_rows": samples,
        "ends_with_newline": pending == b"\n",
    }


def _audit_pages(slug: str, auditor: Any, args: Any, results: dict[str, Any], say: Any) -> int:
    """The audit log's pages (issue 8) as the demo auditor: the newest page, a filter by actor,
    by action, by the last 30 days, a free-text search, and page 50 of the newest."""
    from django.utils import timezone

    from registra.core.models import AuditEvent
    from registra.organizations import selectors as org_selectors
    from registra.organizations.models import Member

    org = org_selectors.organization_get_by_slug(slug)
    editor = Member.objects.filter(organization=org, role="editor").order_by("id").first()
    since = (timezone.localtime(timezone=org.zone) - timedelta(days=30)).date().isoformat()
    base = f"/o/{slug}/audit/"
    lists = {
        "newest": "",
        "by actor (an editor: few events)": f"?actor={editor.id if editor else ''}",
        "by actor (the system jobs: nearly all)": "?actor=system",
        "by action (custody.ended: 1 in 80)": "?action=custody.ended",
        "the last 30 days": f"?since={since}",
        f"free text '{args.rare_word}'": f"?q={args.rare_word}",
    }
    for name, query in lists.items():
        r = _time(lambda u=base + query: _get(auditor, u), args.samples)
        results["pages"][f"audit log, {name}"] = r
        say(f"audit log, {name}", r)
    page50 = _page(auditor, base, "", 50)
    if page50 is not None:
        r = _time(lambda: _get(auditor, page50), args.samples)
        results["pages"]["audit log, newest, page 50"] = r
        say("audit log, newest, page 50", r)
    return AuditEvent.objects.filter(organization_id=org.id).count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--org", default="mro")
    parser.add_argument("--data-dir", default="var/bench-web")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--word", default="wrench", help="a word of the names to search for")
    parser.add_argument("--rare-word", default="Brady", help="a word few names hold")
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    args = parser.parse_args(argv)
    _setup(args.database_url, args.data_dir)
    from registra.assets.models import Asset
    from registra.organizations import selectors as org_selectors

    org = org_selectors.organization_get_by_slug(args.org)
    total = Asset.objects.filter(organization=org).count()
    deep = _deep_asset(args.org)
    clients = _clients(args.org)
    viewer, editor = clients["viewer"], clients["editor"]
    base = f"/o/{args.org}/"
    lists = {
        "first page": "",
        f"search '{args.word}'": f"?q={args.word}",
        f"search '{args.rare_word}' (rare)": f"?q={args.rare_word}",
        "status + kind": "?status=active&kind=calibrated-tool",
        "sort by name": "?sort=name",
        "sort by updated, newest first": "?sort=-updated",
        "readiness overdue": "?readiness=overdue",
    }
    results: dict[str, Any] = {"assets": total, "pages": {}}
    say = lambda name, r: print(f"{name:<52} p50 {r['p50_ms']:>7} ms   p99 {r['p99_ms']:>7} ms")  # noqa: E731
    for name, query in lists.items():
        for who, client in (("viewer", viewer), ("editor", editor)):
            url = base + query
            r = _time(lambda c=client, u=url: _get(c, u), args.samples)
            results["pages"][f"register, {name}, {who}"] = r
            say(f"register, {name} ({who})", r)
        page50 = _page(viewer, base, query, 50)
        if page50 is None:
            print(f"register, {name}: fewer than 50 pages")
            continue
        r = _time(lambda u=page50: _get(viewer, u), args.samples)
        results["pages"][f"register, {name}, page 50"] = r
        say(f"register, {name}, page 50", r)
    r = _time(lambda: _get(viewer, f"{base}assets/{deep}/"), args.samples)
    results["pages"]["asset page (30 custody, 40 assessments)"] = r
    say("asset page (30 custody, 40 assessments)", r)
    r = _time(lambda: _get(viewer, f"{base}dashboard"), args.samples)
    results["pages"]["dashboard"] = r
    say("dashboard", r)
    if "auditor" in clients:
        results["audit_events"] = _audit_pages(args.org, clients["auditor"], args, results, say)
    if not args.no_export:
        e = _export(viewer, f"{base}register.csv")
        results["export"] = e
        print(
            f"CSV export: {e['rows']} rows in {e['seconds']} s = {e['rows_per_s']} rows/s; "
            f"RSS MiB every 100k rows: {e['rss_mib_every_100k_rows']}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "web_pages.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    raise SystemExit(main())
