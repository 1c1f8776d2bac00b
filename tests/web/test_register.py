"""The register list: search, filters, sort, keyset pages and the URL that carries them; the
CSV export of the current filter, streamed and formula-safe; query counts pinned."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.assets.models import Asset, AssetReadiness
from registra.organizations.models import Member
from tests.cast import REASON, Cast, calibrate, make_asset, operator

pytestmark = pytest.mark.django_db
ROW_KEY = re.compile(r'<td class="key"><a href="/o/[^/]+/assets/[^/]+/">([^<]+)</a></td>')


def _keys(html: str) -> list[str]:
    return ROW_KEY.findall(html)


def _next_link(html: str) -> str | None:
    found = re.search(r'<a href="\?([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def viewer(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.viewer)


def test_lists_only_this_organizations_assets_by_key(cast: Cast, viewer: Client) -> None:
    for key in ("TW-002", "TW-001", "GPU-1"):
        make_asset(cast.org, key)
    make_asset(cast.other_org, "TW-999")
    html = viewer.get("/o/skyline-mro/").content.decode()
    assert _keys(html) == ["GPU-1", "TW-001", "TW-002"]


def test_search_matches_key_name_description_and_serial_number(cast: Cast, viewer: Client) -> None:
    make_asset(cast.org, "TW-001", display_name="Torque wrench 20-100 Nm")
    make_asset(cast.org, "GPU-1", description="Ground power unit, stand 4")
    make_asset(cast.org, "MM-7", asset_snapshot={"serialNumber": "FL0042917"})
    make_asset(cast.org, "OTHER-1")
    for q, expected in (
        ("tw-0", ["TW-001"]),
        ("wrench", ["TW-001"]),
        ("stand 4", ["GPU-1"]),
        ("fl00429", ["MM-7"]),
        ("nothing like it", []),
    ):
        html = viewer.get("/o/skyline-mro/", {"q": q}).content.decode()
        assert _keys(html) == expected, q
        assert f'value="{q}"' in html  # the search stays in the box


def test_filters_by_status_kind_and_source(cast: Cast, viewer: Client) -> None:
    make_asset(cast.org, "A-1", status="active")
    make_asset(cast.org, "A-2", status="planned")
    make_asset(cast.org, "G-1", asset_kind="ground-power", status="active")
    make_asset(cast.org, "C-1", source_kind="cmms-import")
    get = lambda **q: _keys(viewer.get("/o/skyline-mro/", q).content.decode())  # noqa: E731
    assert get(status="planned") == ["A-2"]
    assert get(kind="ground-power") == ["G-1"]
    assert get(source="cmms-import") == ["C-1"]
    assert get(status="active", kind="calibrated-tool") == ["A-1", "C-1"]


def test_sorts_by_a_column_both_ways(cast: Cast, viewer: Client) -> None:
    make_asset(cast.org, "K-1", display_name="Bravo")
    make_asset(cast.org, "K-2", display_name="Alpha")
    make_asset(cast.org, "K-3", display_name="Charlie")
    up = viewer.get("/o/skyline-mro/", {"sort": "name"}).content.decode()
    down = viewer.get("/o/skyline-mro/", {"sort": "-name"}).content.decode()
    assert _keys(up) == ["K-2", "K-1", "K-3"] and _keys(down) == ["K-3", "K-1", "K-2"]
    assert 'aria-sort="ascending"><a href="?sort=-name">Name' in up


def test_keyset_pages_walk_every_match_once_in_order(cast: Cast, viewer: Client) -> None:
    for i in range(120):
        # Half of the names tie, so the id breaks ties across page boundaries.
        make_asset(cast.org, f"W-{i:03d}", display_name=f"Name {i % 2}")
    make_asset(cast.org, "X-1", status="planned")
    seen: list[str] = []
    query: str | None = "sort=-name&status=active"
    pages = 0
    while query is not None:
        response = viewer.get(f"/o/skyline-mro/?{query}")
        assert response.status_code == 200
        html = response.content.decode()
        seen += _keys(html)
        query = _next_link(html)
        pages += 1
        if query:
            assert "status=active" in query and "sort=-name" in query  # state kept
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    rows = Asset.objects.filter(organization=cast.org, status="active")
    expected = sorted(rows, key=lambda a: (a.display_name, a.id), reverse=True)
    assert seen == [a.asset_key for a in expected]


def test_a_page_link_of_another_filter_or_a_forged_one_is_a_clear_400(
    cast: Cast, viewer: Client
) -> None:
    for i in range(60):
        make_asset(cast.org, f"W-{i:03d}")
    first = viewer.get("/o/skyline-mro/").content.decode()
    link = _next_link(first)
    assert link is not None
    after = link.split("after=")[1]
    other = viewer.get(f"/o/skyline-mro/?sort=-key&after={after}")
    assert other.status_code == 400
    assert "this page link belongs to another search or sort" in other.content.decode()
    forged = viewer.get("/o/skyline-mro/?after=abc")
    assert forged.status_code == 400
    assert "this page link is not valid" in forged.content.decode()


def test_bad_filter_values_are_a_400_naming_the_field(cast: Cast, viewer: Client) -> None:
    response = viewer.get("/o/skyline-mro/", {"status": "lost", "q": "TW", "sort": "colour"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice. lost is not one of the available choices." in html
    assert 'value="TW"' in html  # the rest of what was typed stays


def test_the_list_page_runs_a_fixed_number_of_queries(cast: Cast, viewer: Client) -> None:
    for i in range(5):
        make_asset(cast.org, f"Q-{i}")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert viewer.get("/o/skyline-mro/", {"q": "Q"}).status_code == 200
        return len(queries)

    few = count()
    for i in range(5, 60):
        make_asset(cast.org, f"Q-{i}")
    # session, member, organization, membership, the page (readiness joined), and the options
    # of the kind, holder and custodian filters
    assert count() == few == 8


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
@pytest.mark.parametrize(("sort", "column"), [("name", "display_name"), ("-updated", "updated_at")])
def test_a_later_page_seeks_the_sorts_index_to_its_position(
    cast: Cast, viewer: Client, sort: str, column: str
) -> None:
    for i in range(60):
        make_asset(cast.org, f"P-{i:02d}", display_name=f"Name {i:02d}")
    second = _next_link(viewer.get("/o/skyline-mro/", {"sort": sort}).content.decode())
    assert second is not None
    statements: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        assert viewer.get(f"/o/skyline-mro/?{second}").status_code == 200
    sql, params = next((q, p) for q, p in statements if "LIMIT 51" in q)
    with connection.cursor() as cursor:
        # As on a big register: the index, not a scan of the whole table and a sort.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    seeks = [
        node.get("Index Cond", "")
        for node in _plan_nodes(plan)
        if node.get("Index Name", "").startswith("asset_org_")
    ]
    # Without the page's position among the index's conditions, the index is walked from its
    # start and every row before the position filtered out.
    assert any(column in cond for cond in seeks), seeks


def _export(client: Client, **query: str) -> tuple[list[str], list[list[str]], str]:
    response = client.get("/o/skyline-mro/register.csv", query)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:], response["Content-Disposition"]


def test_export_is_the_current_filter_with_formula_safe_cells(cast: Cast, viewer: Client) -> None:
    make_asset(cast.org, "F-1", display_name='=HYPERLINK("http://x")', status="planned")
    make_asset(cast.org, "F-2", display_name="+1", description="@SUM(A1)", status="planned")
    make_asset(cast.org, "F-3", display_name="-2", description="-3 dB", status="planned")
    make_asset(cast.org, "F-4", display_name="plain", status="active")
    make_asset(cast.other_org, "F-9", status="planned")
    header, rows, disposition = _export(viewer, status="planned", sort="key")
    assert header[:3] == ["id", "assetKey", "displayName"]
    names = {r[1]: (r[2], r[6]) for r in rows}
    assert names == {
        "F-1": ('\'=HYPERLINK("http://x")', ""),
        "F-2": ("'+1", "'@SUM(A1)"),
        "F-3": ("'-2", "'-3 dB"),
    }
    assert re.fullmatch(
        r'attachment; filename="skyline-mro-register-\d{8}-\d{4}\.csv"', disposition
    )


def test_export_times_are_in_the_organizations_time_zone(cast: Cast, viewer: Client) -> None:
    asset = make_asset(cast.org, "T-1")
    _, rows, _ = _export(viewer)
    created = datetime.fromisoformat(rows[0][9])
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() in (3600, 7200)
    assert created == asset.created_at.replace(microsecond=0)


def test_filters_by_computed_readiness_holder_and_custodian(cast: Cast, viewer: Client) -> None:
    ready = make_asset(cast.org, "R-OK")
    calibrate(cast.org, ready)
    make_asset(cast.org, "R-NEVER")  # a calibrated tool never calibrated: not ready
    soon = make_asset(cast.org, "R-SOON")
    calibrate(cast.org, soon, days_valid=10)  # due within the 30-day window
    asset_services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=ready.id,
        member_id=cast.technician.id,
    )
    get = lambda **q: _keys(viewer.get("/o/skyline-mro/", q).content.decode())  # noqa: E731
    assert get(readiness="ready") == ["R-OK", "R-SOON"]
    assert get(readiness="not-ready") == ["R-NEVER"]
    assert get(readiness="due-soon") == ["R-SOON"]
    assert get(readiness="overdue") == []
    assert get(holder=cast.technician.id) == ["R-OK"]
    page = viewer.get("/o/skyline-mro/", {"q": "R-NEVER"}).content.decode()
    assert '<span class="readiness readiness-not-ready">Not ready</span>' in page
    header, rows, _ = _export(viewer, sort="key")
    readiness = {r[1]: r[header.index("readiness")] for r in rows}
    assert readiness == {"R-NEVER": "not-ready", "R-OK": "ready", "R-SOON": "ready"}


def test_the_list_and_the_export_say_why_an_asset_is_not_ready(cast: Cast, viewer: Client) -> None:
    make_asset(cast.org, "W-NEVER")
    lapsing = make_asset(cast.org, "W-LAPSED")
    calibrate(cast.org, lapsing, days_valid=30)
    fine = make_asset(cast.org, "W-OK")
    calibrate(cast.org, fine)
    # Time passes: the calibration stored as ready falls due (nothing is written when it does).
    due = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    AssetReadiness.objects.filter(asset_id=lapsing.id).update(next_due=due)

    page = viewer.get("/o/skyline-mro/", {"q": "W-"}).content.decode()
    row = r'>(W-[A-Z]+)</a></td>.*?<td><span class="readiness[^>]*>[^<]*</span>(.*?)</td>'
    cells = dict(re.findall(row, page, re.S))
    assert cells == {
        "W-LAPSED": '<span class="why">overdue since 2026-01-15</span>',
        "W-NEVER": '<span class="why">calibration never completed</span>',
        "W-OK": "",
    }
    header, rows, _ = _export(viewer, q="W-", sort="key")
    assert header[-3:] == ["readiness", "nextDue", "readinessReasons"]
    assert {r[1]: (r[-3], r[-1]) for r in rows} == {
        "W-LAPSED": ("not-ready", "overdue since 2026-01-15"),
        "W-NEVER": ("not-ready", "calibration never completed"),
        "W-OK": ("ready", ""),
    }


def test_the_kind_filter_offers_the_kinds_in_use_here_once_each(cast: Cast, viewer: Client) -> None:
    for i, kind in enumerate(["vehicle", "calibrated-tool", "vehicle", "it-system"]):
        make_asset(cast.org, f"K-{i}", asset_kind=kind)
    make_asset(cast.other_org, "K-X", asset_kind="medical-device")  # another organization's
    html = viewer.get("/o/skyline-mro/").content.decode()
    select = html[
        html.index('<select name="kind"') : html.index(
            "</select>", html.index('<select name="kind"')
        )
    ]
    assert re.findall(r'<option value="([^"]*)"', select) == [
        "",
        "calibrated-tool",
        "it-system",
        "vehicle",
    ]
