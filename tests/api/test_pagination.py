"""Keyset pagination (SPEC section 4): newest first by (createdAt, id), every record exactly once
at any page size, limits, cursors bound to organization, endpoint and filters, tamper-proof,
valid for 24 hours, stable while records are created and updated mid-walk, and a page costs
the same number of queries at any depth."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from registra.api.v1 import pagination
from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from tests.api.conftest import Api
from tests.cast import REASON, Cast, make_asset, operator

pytestmark = pytest.mark.usefixtures("no_rate_limits")

BASE_TIME = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
TIE_GROUP = 8  # records per created_at value, to exercise the id tie-break
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _stamp(i: int) -> datetime:
    """Groups of TIE_GROUP records share one created_at; odd groups carry microseconds so both
    whole-second and fractional values are compared."""
    group = i // TIE_GROUP
    micros = 0 if group % 2 == 0 else 123_457 + group
    return BASE_TIME - timedelta(seconds=group, microseconds=-micros)


def bulk_assets(org: Any, count: int, prefix: str = "tool") -> list[Asset]:
    specs = [
        {
            "asset_key": f"{prefix}-{i:05d}",
            "asset_kind": "vehicle" if i % 3 == 0 else "calibrated-tool",
            "display_name": f"{prefix} {i}",
            "status": ("active", "inactive", "planned")[i % 3 if i % 5 else 0],
            "created_at": _stamp(i),
        }
        for i in range(count)
    ]
    return asset_services.asset_bulk_create(
        organization=org, actor=operator(org), reason=REASON, specs=specs
    )


def newest_first(rows: Any) -> list[str]:
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


def walk_ids(api: Api, path: str, key: str, token: str, **params: Any) -> list[str]:
    ids: list[str] = []
    limit = min(int(params.get("limit", 50)), 200)
    for page in api.walk(path, token, **params):
        records = page[key]
        assert page["pagination"]["limit"] == limit
        if page["pagination"]["nextCursor"]:
            assert len(records) == limit
        else:
            assert len(records) <= limit
        ids += [r["id"] for r in records]
    return ids


@pytest.fixture
def thousand(cast: Cast) -> list[Asset]:
    assets = bulk_assets(cast.org, 1030)
    ties = Counter(a.created_at for a in assets)
    assert max(ties.values()) == TIE_GROUP and len(ties) == 1030 // TIE_GROUP + 1
    return assets


# --- walks --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("limit", [1, 7, 50, 200])
def test_walk_returns_every_asset_once_newest_first(
    api: Api, cast: Cast, thousand: list[Asset], reader_token: str, limit: int
) -> None:
    ids = walk_ids(api, "/assets", "assets", reader_token, limit=limit)
    assert ids == newest_first(thousand)
    assert len(ids) == len(set(ids)) == 1030


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"status": "active", "limit": 7}, lambda a: a.status == "active"),
        ({"assetKind": "vehicle", "limit": 50}, lambda a: a.asset_kind == "vehicle"),
        (
            {"assetKind": "calibrated-tool", "status": "planned", "limit": 13},
            lambda a: a.asset_kind == "calibrated-tool" and a.status == "planned",
        ),
        (
            {"createdAfter": (BASE_TIME - timedelta(seconds=40)).isoformat(), "limit": 9},
            lambda a: a.created_at > BASE_TIME - timedelta(seconds=40),
        ),
    ],
)
def test_filtered_walks(
    api: Api,
    thousand: list[Asset],
    reader_token: str,
    params: dict[str, Any],
    keep: Any,
) -> None:
    expected = newest_first(a for a in thousand if keep(a))
    assert expected, "the filter must select something"
    assert walk_ids(api, "/assets", "assets", reader_token, **params) == expected


def test_page_size_may_change_between_pages(api: Api, cast: Cast, reader_token: str) -> None:
    assets = bulk_assets(cast.org, 60)
    ids: list[str] = []
    cursor = None
    for limit in (1, 7, 20, 200):
        page = api.ok(
            "/assets", reader_token, limit=limit, **({"cursor": cursor} if cursor else {})
        )
        ids += [r["id"] for r in page["assets"]]
        cursor = page["pagination"]["nextCursor"]
    assert ids == newest_first(assets) and cursor is None


# --- limits ---------------------------------------------------------------------------------


def test_limit_default_and_clamp(api: Api, cast: Cast, reader_token: str) -> None:
    bulk_assets(cast.org, 230)
    default = api.ok("/assets", reader_token)
    assert len(default["assets"]) == 50 and default["pagination"]["limit"] == 50
    for asked in ("200", "201", "500", "100000", "99999999999999999999999", "+300", " 300"):
        page = api.ok("/assets", reader_token, limit=asked)
        assert len(page["assets"]) == 200 and page["pagination"]["limit"] == 200
        assert page["pagination"]["nextCursor"]
    one = api.ok("/assets", reader_token, limit=1)
    assert len(one["assets"]) == 1 and one["pagination"]["limit"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/assets",
        "/assets/custody-assignments",
        "/assets/custody-holders",
        "/assets/readiness-assessments",
    ],
)
@pytest.mark.parametrize("limit", ["0", "-1", "-200", "abc", "1.5", "", "1e3", "0x10", "+-1"])
def test_bad_limit_is_a_validation_error(
    api: Api, reader_token: str, path: str, limit: str
) -> None:  # fmt: skip
    body = api.error(path, reader_token, 400, "validation", limit=limit)
    assert [issue["path"] for issue in body["issues"]] == [["limit"]]
    assert "1" in body["issues"][0]["message"] and "200" in body["issues"][0]["message"]


# --- cursors --------------------------------------------------------------------------------


@pytest.fixture
def cursor_setup(api: Api, cast: Cast, reader_token: str) -> SimpleNamespace:
    assets = bulk_assets(cast.org, 40)
    page = api.ok("/assets", reader_token, limit=7, status="active")
    return SimpleNamespace(assets=assets, cursor=page["pagination"]["nextCursor"])


def test_cursor_is_opaque_base64url(cursor_setup: SimpleNamespace) -> None:
    cursor = cursor_setup.cursor
    assert cursor and set(cursor) <= set(B64URL)
    # Opaque: no id, key or timestamp readable in it.
    assert "asset_" not in cursor and "2025" not in cursor


def test_every_one_character_edit_is_invalid_cursor(
    api: Api, reader_token: str, cursor_setup: SimpleNamespace
) -> None:
    cursor = cursor_setup.cursor
    for i, char in enumerate(cursor):
        for replacement in {B64URL[(B64URL.index(char) + 1) % 64], "A" if char != "A" else "B"}:
            edited = cursor[:i] + replacement + cursor[i + 1 :]
            body = api.error(
                "/assets",
                reader_token,
                400,
                "invalid_cursor",
                limit=7,
                status="active",
                cursor=edited,
            )
            assert "issues" not in body


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c[:-1],
        lambda c: c + "A",
        lambda c: c[1:],
        lambda c: c[::-1],
        lambda c: c.replace("-", "+").replace("_", "/") + "=",
        lambda c: "not a cursor!",
        lambda c: "eyJhZnRlciI6MX0",  # base64url of {"after":1}
        lambda c: c * 2,
    ],
)
def test_mangled_cursor_is_invalid_cursor(
    api: Api, reader_token: str, cursor_setup: SimpleNamespace, edit: Any
) -> None:
    edited = edit(cursor_setup.cursor)
    if edited == cursor_setup.cursor:
        pytest.skip("this edit does not change the cursor")
    api.error(
        "/assets", reader_token, 400, "invalid_cursor", limit=7, status="active", cursor=edited
    )


def test_empty_cursor_is_a_validation_error(api: Api, reader_token: str) -> None:
    # The document says minLength 1, so the API refuses it as the document does.
    body = api.error("/assets", reader_token, 400, "validation", cursor="")
    assert [issue["path"] for issue in body["issues"]] == [["cursor"]]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/assets", {}),
        ("/assets", {"status": "inactive"}),
        ("/assets", {"status": "active", "assetKind": "vehicle"}),
        ("/assets", {"status": "active", "createdAfter": "2020-01-01T00:00:00Z"}),
        ("/assets", {"status": "active", "updatedAfter": "2020-01-01T00:00:00Z"}),
        ("/assets/custody-assignments", {"status": "active"}),
        ("/assets/custody-holders", {}),
        ("/assets/readiness-assessments", {}),
    ],
)
def test_cursor_with_other_filters_or_list_is_invalid_cursor(
    api: Api,
    reader_token: str,
    cursor_setup: SimpleNamespace,
    path: str,
    params: dict[str, str],
) -> None:
    api.error(path, reader_token, 400, "invalid_cursor", cursor=cursor_setup.cursor, **params)


def test_cursor_binds_timestamp_filters_exactly(api: Api, cast: Cast, reader_token: str) -> None:
    bulk_assets(cast.org, 20)
    page = api.ok("/assets", reader_token, limit=5, createdAfter="2020-01-01T00:00:00Z")
    cursor = page["pagination"]["nextCursor"]
    # The same instant written another way is the same filter.
    same = api.ok(
        "/assets", reader_token, limit=5, createdAfter="2020-01-01T01:00:00+01:00", cursor=cursor
    )
    assert len(same["assets"]) == 5
    api.error(
        "/assets", reader_token, 400, "invalid_cursor",
        limit=5, createdAfter="2020-01-01T00:00:00.001Z", cursor=cursor,
    )  # fmt: skip


def test_cursor_of_another_organization_is_invalid_cursor(
    api: Api, cast: Cast, reader_token: str, other_token: str
) -> None:
    bulk_assets(cast.org, 10)
    bulk_assets(cast.other_org, 10)  # same keys, same created_at values
    theirs = api.ok("/assets", other_token, limit=3)["pagination"]["nextCursor"]
    mine = api.ok("/assets", reader_token, limit=3)["pagination"]["nextCursor"]
    assert theirs and mine and theirs != mine
    api.error("/assets", reader_token, 400, "invalid_cursor", limit=3, cursor=theirs)
    api.error("/assets", other_token, 400, "invalid_cursor", limit=3, cursor=mine)
    # Each still works for its own organization.
    api.ok("/assets", reader_token, limit=3, cursor=mine)
    api.ok("/assets", other_token, limit=3, cursor=theirs)


def test_cursor_is_not_bound_to_the_token(api: Api, cast: Cast, reader_token: str) -> None:
    # A client that refreshes its token mid-walk keeps walking (same organization).
    assets = bulk_assets(cast.org, 12)
    first = api.ok("/assets", reader_token, limit=5)
    fresh = api.token(cast.reader)
    rest = walk_ids(
        api, "/assets", "assets", fresh, limit=5, cursor=first["pagination"]["nextCursor"]
    )
    assert [r["id"] for r in first["assets"]] + rest == newest_first(assets)


def _clock(monkeypatch: pytest.MonkeyPatch, offset: float) -> None:
    real = time.time
    monkeypatch.setattr(pagination, "time", SimpleNamespace(time=lambda: real() + offset))


def test_cursor_is_valid_for_24_hours_then_expires(
    api: Api, reader_token: str, cursor_setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = {"limit": 7, "status": "active", "cursor": cursor_setup.cursor}
    _clock(monkeypatch, 24 * 3600 - 60)
    api.ok("/assets", reader_token, **query)
    _clock(monkeypatch, 24 * 3600 + 60)
    body = api.error("/assets", reader_token, 400, "invalid_cursor", **query)
    assert "expired" in body["message"]


def test_cursor_lifetime_is_a_setting(
    api: Api, reader_token: str, cursor_setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = {"limit": 7, "status": "active", "cursor": cursor_setup.cursor}
    with override_settings(REGISTRA_CURSOR_TTL_SECONDS=3600):
        _clock(monkeypatch, 3500)
        api.ok("/assets", reader_token, **query)
        _clock(monkeypatch, 3700)
        api.error("/assets", reader_token, 400, "invalid_cursor", **query)


# --- walks while the register changes -----------------------------------------------------


def _rename(cast: Cast, asset_id: str, n: int) -> None:
    asset_services.asset_update(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset_id,
        display_name=f"Renamed during the walk {n}",
    )


def test_asset_walk_is_stable_while_records_change(api: Api, cast: Cast, reader_token: str) -> None:
    existing = bulk_assets(cast.org, 300)
    expected = newest_first(existing)
    seen: list[str] = []
    cursor = None
    n = 0
    while True:
        page = api.ok("/assets", reader_token, limit=23, **({"cursor": cursor} if cursor else {}))
        seen += [r["id"] for r in page["assets"]]
        cursor = page["pagination"]["nextCursor"]
        if not cursor:
            break
        n += 1
        # New records (now, and backfilled into the past), and updates to records already
        # returned, about to be returned, and far ahead.
        make_asset(cast.org, f"new-during-walk-{n}")
        asset_services.asset_bulk_create(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            specs=[
                {
                    "asset_key": f"backfill-{n}",
                    "asset_kind": "k",
                    "display_name": "x",
                    "created_at": BASE_TIME - timedelta(seconds=n * 3),
                }
            ],
        )
        position = len(seen)
        for target in {expected[position - 1], expected[min(position, 299)], expected[-1]}:
            _rename(cast, target, n)
    counts = Counter(seen)
    assert all(c == 1 for c in counts.values()), [i for i, c in counts.items() if c > 1]
    existing_ids = set(expected)
    assert [i for i in seen if i in existing_ids] == expected
    new_ids = set(
        Asset.objects.filter(asset_key__startswith="new-during-walk").values_list("id", flat=True)
    )
    assert not new_ids & set(seen)  # newer than the walk's position: never on a later page


def test_custody_walks(api: Api, cast: Cast, reader_token: str) -> None:
    assets = bulk_assets(cast.org, 12)
    records = [
        {
            "asset_id": assets[i % 12].id,
            "member_id": (cast.technician, cast.editor, cast.viewer)[i % 3].id,
            "assignment_kind": ("loan", "secondary")[i % 2],
            "assignment_key": f"custody-{i:04d}",
            "started_at": BASE_TIME - timedelta(days=30),
            "ended_at": None if i % 4 else BASE_TIME - timedelta(days=1),
            "created_at": _stamp(i),
            "updated_at": _stamp(i),
        }
        for i in range(90)
    ]
    rows = asset_services.custody_bulk_record(
        organization=cast.org, actor=operator(cast.org), reason=REASON, records=records
    )
    path, key = "/assets/custody-assignments", "custodyAssignments"
    for limit in (1, 7, 50, 200):
        assert walk_ids(api, path, key, reader_token, limit=limit) == newest_first(rows)
    active = [r for r in rows if r.status == "active"]
    assert walk_ids(api, path, key, reader_token, limit=4, status="active") == newest_first(active)
    one = [r for r in rows if r.asset_id == assets[5].id]
    assert walk_ids(api, path, key, reader_token, limit=2, assetId=assets[5].id) == newest_first(
        one
    )
    # Mid-walk: end assignments (updates) and start new ones (creates).
    seen: list[str] = []
    cursor = None
    ended = 0
    while True:
        page = api.ok(path, reader_token, limit=11, **({"cursor": cursor} if cursor else {}))
        seen += [r["id"] for r in page[key]]
        cursor = page["pagination"]["nextCursor"]
        if not cursor:
            break
        target = next(r for r in active[ended:] if r.status == "active")
        asset_services.custody_end(
            organization=cast.org, actor=operator(cast.org), reason=REASON, assignment_id=target.id
        )
        ended += 1
        asset_services.custody_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=assets[0].id,
            member_id=cast.auditor.id,
            assignment_kind="loan",
            # Explicit: generated keys only differ by the second the assignment started.
            assignment_key=f"loan-during-walk-{ended}",
        )
    assert seen == newest_first(rows)
    assert CustodyAssignment.objects.filter(organization=cast.org).count() == 90 + ended


def test_readiness_walks(api: Api, cast: Cast, reader_token: str) -> None:
    assets = bulk_assets(cast.org, 10)
    records = [
        {
            "asset_id": assets[i % 10].id,
            "readiness_assessment_key": f"assessment-{i:04d}",
            "assessment_kind": ("calibration", "inspection")[i % 2],
            "readiness_state": ("ready", "not-ready", "conditionally-ready", "unknown")[i % 4],
            "status": "scheduled" if i % 4 == 3 else "completed",
            "performed_at": None if i % 4 == 3 else BASE_TIME - timedelta(days=2),
            "created_at": _stamp(i),
            "updated_at": _stamp(i),
        }
        for i in range(90)
    ]
    rows = asset_services.readiness_bulk_record(
        organization=cast.org, actor=operator(cast.org), reason=REASON, records=records
    )
    path, key = "/assets/readiness-assessments", "readinessAssessments"
    for limit in (1, 7, 50, 200):
        assert walk_ids(api, path, key, reader_token, limit=limit) == newest_first(rows)
    ready = [r for r in rows if r.readiness_state == "ready"]
    assert walk_ids(api, path, key, reader_token, limit=6, readinessState="ready") == newest_first(
        ready
    )
    one = [r for r in rows if r.asset_id == assets[3].id]
    assert walk_ids(api, path, key, reader_token, limit=4, assetId=assets[3].id) == newest_first(
        one
    )
    # Mid-walk: complete scheduled ones (updates) and schedule new ones (creates).
    scheduled = [r for r in rows if r.status == "scheduled"]
    seen: list[str] = []
    cursor = None
    n = 0
    while True:
        page = api.ok(path, reader_token, limit=9, **({"cursor": cursor} if cursor else {}))
        seen += [r["id"] for r in page[key]]
        cursor = page["pagination"]["nextCursor"]
        if not cursor:
            break
        asset_services.readiness_complete(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            assessment_id=scheduled[n].id,
            readiness_state="ready",
            performed_at=BASE_TIME,
        )
        asset_services.readiness_schedule(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=assets[n].id,
            assessment_kind="inspection",
        )
        n += 1
    assert seen == newest_first(rows)
    assert ReadinessAssessment.objects.filter(organization=cast.org).count() == 90 + n


# --- page cost ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/assets", "assets"),
        ("/assets/custody-assignments", "custodyAssignments"),
        ("/assets/readiness-assessments", "readinessAssessments"),
    ],
)
def test_page_query_count_is_pinned_and_independent_of_depth(
    api: Api,
    cast: Cast,
    reader_token: str,
    django_assert_max_num_queries: Any,
    path: str,
    key: str,
) -> None:
    assets = bulk_assets(cast.org, 120)
    asset_services.custody_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[
            {
                "asset_id": a.id,
                "member_id": cast.technician.id,
                "assignment_key": f"c-{i}",
                "assignment_kind": "loan",
                "started_at": BASE_TIME,
                "created_at": _stamp(i),
            }
            for i, a in enumerate(assets)
        ],
    )
    asset_services.readiness_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[
            {
                "asset_id": a.id,
                "readiness_assessment_key": f"r-{i}",
                "assessment_kind": "inspection",
                "readiness_state": "unknown",
                "status": "scheduled",
                "created_at": _stamp(i),
            }
            for i, a in enumerate(assets)
        ],
    )
    counts = []
    cursor = None
    for _ in range(6):
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        # At most the token lookup and one keyset page query, at every depth.
        with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(2):
            page = api.ok(path, reader_token, **params)
        assert len(page[key]) == 20
        counts.append(len(queries))
        for q in queries.captured_queries:
            assert "OFFSET" not in q["sql"].upper(), q["sql"]
        cursor = page["pagination"]["nextCursor"]
    assert len(set(counts)) == 1, counts


def test_get_one_asset_query_count(
    api: Api, cast: Cast, reader_token: str, django_assert_max_num_queries: Any
) -> None:
    asset = make_asset(cast.org, "one")
    with django_assert_max_num_queries(2):
        api.ok(f"/assets/{asset.id}", reader_token)
