"""The SDK (``Client`` and ``AsyncClient``) against a real server holding a demo register of
1,100 assets: full walks that return every record exactly once, typed, in pages of 200; the
filters, compared with the unfiltered list filtered here; one asset, and the 404 of a foreign or
absent one; the errors of a wrong secret, a missing scope and a refused filter; the token renewed
before its expiry by the client's own clock.

What the server holds is read from its own database, and the baseline lists with plain httpx, so
neither comes from the code under test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from registra_client import (
    Asset,
    AuthenticationError,
    CustodyAssignment,
    CustodyHolder,
    NotFoundError,
    Organization,
    PermissionDeniedError,
    ReadinessAssessment,
    ValidationError,
)
from tests.client.sdk import (
    FLAVOURS,
    GENEROUS_GRANTS,
    REQUEST_ID,
    Credentials,
    FakeClock,
    as_utc,
    database_name,
    ids_in,
    organization_id,
    sdk,
    server_rows,
    service_account,
    to_millisecond,
)
from tests.servers import Server, own_database, run_registra, serving

SLUG, OTHER = "skyline-mro", "harbour-mro"
DEMO_ASSETS, PAGE = 1100, 200
ASSETS = "/api/v1/assets"
CUSTODY = "/api/v1/assets/custody-assignments"
READINESS = "/api/v1/assets/readiness-assessments"
HOLDERS = "/api/v1/assets/custody-holders"
KEYS = {ASSETS: "assets", CUSTODY: "custodyAssignments", READINESS: "readinessAssessments"}
KEYS[HOLDERS] = "custodyHolders"


@dataclass
class Register:
    server: Server
    env: dict[str, str]
    base: str
    reader: Credentials  # assets:read only
    org_reader: Credentials  # organization:read only
    foreign: list[str]  # asset ids of the other organization
    raw: dict[str, list[dict[str, Any]]]  # every list, newest first, as plain JSON


def _pull(base: str, token: str, path: str) -> Iterator[dict[str, Any]]:
    """Every record of a list, with plain httpx (not the SDK under test)."""
    params = {"limit": str(PAGE)}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            body = http.get(path, params=params).raise_for_status().json()
            yield from body[KEYS[path]]
            if not body["pagination"].get("nextCursor"):
                return
            params["cursor"] = body["pagination"]["nextCursor"]


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Register]:
    data = tmp_path_factory.mktemp("sdk-walks")
    with own_database(data, database_name("walks"), **GENEROUS_GRANTS) as env:
        printed = run_registra(env, "demo-data", "--org", SLUG, "--assets", str(DEMO_ASSETS))
        assert f"{DEMO_ASSETS} assets loaded" in printed
        run_registra(env, "demo-data", "--org", OTHER, "--assets", "3", "--seed", "2")
        reader = service_account(env, SLUG, "SDK reader", "assets:read")
        org_reader = service_account(env, SLUG, "SDK organization", "organization:read")
        foreign = sorted(ids_in(env, "assets_asset", OTHER))
        with serving(env, Path(data) / "server.log") as server:
            base = f"http://127.0.0.1:{server.port}"
            token = server.token(*reader)
            raw = {path: list(_pull(base, token, path)) for path in KEYS}
            yield Register(server, env, base, reader, org_reader, foreign, raw)


def _ids(records: list[Any]) -> list[str]:
    return [r.id for r in records]


# --- full walks -----------------------------------------------------------------------------


@FLAVOURS
def test_a_walk_returns_every_asset_once_as_typed_utc_records_in_pages_of_200(
    flavour: str, register: Register
) -> None:
    with sdk(flavour, register.base, register.reader) as api:
        assets = api.all(api.client.assets.list())

    assert len(assets) == DEMO_ASSETS
    assert len(set(_ids(assets))) == DEMO_ASSETS, "an asset came twice"
    query = "SELECT id, asset_key, status, created_at, updated_at FROM assets_asset"
    rows = server_rows(register.env, f"{query} WHERE organization_id = ?", _org(register))
    assert {a.id: (a.asset_key, a.status, a.created_at, a.updated_at) for a in assets} == {
        id_: (key, status, to_millisecond(as_utc(c)), to_millisecond(as_utc(u)))
        for id_, key, status, c, u in rows
    }
    assert all(type(a) is Asset for a in assets)
    stamps = [a.created_at for a in assets] + [a.updated_at for a in assets]
    stamps += [a.decommissioned_at for a in assets if a.decommissioned_at is not None]
    stamps += [a.commissioned_at for a in assets if a.commissioned_at is not None]
    assert all(isinstance(s, datetime) and s.utcoffset() == timedelta(0) for s in stamps)
    assert all((a.decommissioned_at is not None) == (a.status == "decommissioned") for a in assets)
    created = [a.created_at for a in assets]
    assert created == sorted(created, reverse=True), "not newest first"

    pages = api.wire.gets(ASSETS)
    assert [p.params["limit"] for p in pages] == [str(PAGE)] * 6
    assert [len(p.body["assets"]) for p in pages] == [PAGE] * 5 + [DEMO_ASSETS - 5 * PAGE]
    assert [p.cursor for p in pages] == [None] + [p.next_cursor for p in pages[:-1]]
    assert pages[-1].next_cursor is None
    assert len(api.wire.exchanges) == 1 + len(pages)  # one token grant, then the pages
    assert api.client.session.grants == 1


@FLAVOURS
def test_custody_and_readiness_walks_return_every_record_of_the_database_once(
    flavour: str, register: Register
) -> None:
    with sdk(flavour, register.base, register.reader) as api:
        custody = api.all(api.client.custody_assignments.list())
        readiness = api.all(api.client.readiness_assessments.list())

    walks: list[tuple[list[Any], str, type]] = [
        (custody, "assets_custodyassignment", CustodyAssignment),
        (readiness, "assets_readinessassessment", ReadinessAssessment),
    ]
    for records, table, kind in walks:
        assert len(records) > 1000
        assert Counter(_ids(records)) == Counter(ids_in(register.env, table, SLUG))
        assert all(type(r) is kind for r in records)
        assert all(r.created_at.utcoffset() == timedelta(0) for r in records)
    assert all(c.ended_at is None for c in custody if c.status == "active")
    assert all(c.ended_at is not None for c in custody if c.status == "ended")
    # Reading the same lists page by page with plain httpx gives the same records in order.
    assert _ids(custody) == [r["id"] for r in register.raw[CUSTODY]]
    assert _ids(readiness) == [r["id"] for r in register.raw[READINESS]]


# --- filters --------------------------------------------------------------------------------

Filters = dict[str, Any]
Predicate = Callable[[dict[str, Any]], bool]


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _updated_after(raw: list[dict[str, Any]], shift: Callable[[datetime], datetime]) -> Any:
    """Filters by ``updated_after``: the median update time as shown (milliseconds) plus 999 us,
    so the server's microsecond comparison and the shown values agree on every record."""
    shown = sorted(_stamp(r["updatedAt"]) for r in raw)[len(raw) // 2]
    since = shift(shown + timedelta(microseconds=999))
    return {"updated_after": since}, lambda r: _stamp(r["updatedAt"]) > shown


def _asset_case(name: str, raw: list[dict[str, Any]]) -> tuple[Filters, Predicate]:
    if name == "status":
        return {"status": "inactive"}, lambda r: r["status"] == "inactive"
    if name == "asset_kind":
        return {"asset_kind": "vehicle"}, lambda r: r["assetKind"] == "vehicle"
    if name == "status_and_kind":
        filters = {"status": "active", "asset_kind": "calibrated-tool"}
        return filters, lambda r: (r["status"], r["assetKind"]) == ("active", "calibrated-tool")
    if name == "updated_after":
        return _updated_after(raw, lambda t: t)
    if name == "updated_after_in_another_zone":
        return _updated_after(raw, lambda t: t.astimezone(ZoneInfo("America/New_York")))
    assert name == "updated_after_naive"  # taken as UTC
    return _updated_after(raw, lambda t: t.replace(tzinfo=None))


@FLAVOURS
@pytest.mark.parametrize(
    "case",
    [
        "status",
        "asset_kind",
        "status_and_kind",
        "updated_after",
        "updated_after_in_another_zone",
        "updated_after_naive",
    ],
)
def test_asset_filters_give_exactly_the_matching_assets_in_order(
    flavour: str, case: str, register: Register
) -> None:
    raw = register.raw[ASSETS]
    filters, matches = _asset_case(case, raw)
    expected = [r["id"] for r in raw if matches(r)]
    assert 0 < len(expected) < len(raw)

    with sdk(flavour, register.base, register.reader) as api:
        assert _ids(api.all(api.client.assets.list(**filters))) == expected


def _busiest_asset(raw: list[dict[str, Any]]) -> str:
    return Counter(r["assetId"] for r in raw).most_common(1)[0][0]


def _each_filter_matches(
    flavour: str,
    register: Register,
    listing: str,
    raw: list[dict[str, Any]],
    cases: list[tuple[Filters, Predicate]],
) -> None:
    """Each filter of ``cases`` gives exactly the records of ``raw`` its predicate keeps."""
    with sdk(flavour, register.base, register.reader) as api:
        for filters, matches in cases:
            expected = [r["id"] for r in raw if matches(r)]
            assert 0 < len(expected) < len(raw), filters
            got = api.all(getattr(api.client, listing).list(**filters))
            assert _ids(got) == expected, filters


@FLAVOURS
def test_custody_filters_by_asset_and_status(flavour: str, register: Register) -> None:
    raw = register.raw[CUSTODY]
    asset = _busiest_asset(raw)
    cases: list[tuple[Filters, Predicate]] = [
        ({"asset_id": asset}, lambda r: r["assetId"] == asset),
        ({"status": "active"}, lambda r: r["status"] == "active"),
        ({"status": "ended"}, lambda r: r["status"] == "ended"),
        (
            {"asset_id": asset, "status": "ended"},
            lambda r: (r["assetId"], r["status"]) == (asset, "ended"),
        ),
    ]
    _each_filter_matches(flavour, register, "custody_assignments", raw, cases)


@FLAVOURS
def test_readiness_filters_by_state_and_asset(flavour: str, register: Register) -> None:
    raw = register.raw[READINESS]
    asset = _busiest_asset(raw)
    cases: list[tuple[Filters, Predicate]] = [
        ({"readiness_state": "not-ready"}, lambda r: r["readinessState"] == "not-ready"),
        ({"readiness_state": "unknown"}, lambda r: r["readinessState"] == "unknown"),
        ({"asset_id": asset}, lambda r: r["assetId"] == asset),
        (
            {"asset_id": asset, "readiness_state": "ready"},
            lambda r: (r["assetId"], r["readinessState"]) == (asset, "ready"),
        ),
    ]
    _each_filter_matches(flavour, register, "readiness_assessments", raw, cases)


@FLAVOURS
def test_custody_holders_all_and_by_external_employee_id(flavour: str, register: Register) -> None:
    raw = register.raw[HOLDERS]
    assert len(raw) == 48  # the demo crew, each with an employee id
    someone = raw[len(raw) // 2]
    with sdk(flavour, register.base, register.reader) as api:
        holders = api.all(api.client.custody_holders.list())
        one = api.all(
            api.client.custody_holders.list(external_employee_id=someone["externalEmployeeId"])
        )

    assert _ids(holders) == [r["id"] for r in raw]
    assert all(type(h) is CustodyHolder for h in holders)
    assert [(h.id, h.external_employee_id) for h in one] == [
        (someone["id"], someone["externalEmployeeId"])
    ]
    # Holders are the ones custody names.
    held = {r["subjectResourceId"] for r in register.raw[CUSTODY]}
    assert held <= {h.id for h in holders}


# --- one asset, and errors ------------------------------------------------------------------


@FLAVOURS
def test_get_returns_one_asset_as_the_list_shows_it(flavour: str, register: Register) -> None:
    raw = register.raw[ASSETS]
    retired = next(r for r in raw if r["status"] == "decommissioned")
    with sdk(flavour, register.base, register.reader) as api:
        for shown in (raw[0], retired, raw[-1]):
            asset = api.one(api.client.assets.get(shown["id"]))
            assert asset == Asset.from_api(shown)
            assert (asset.id, asset.asset_key, asset.status) == (
                shown["id"],
                shown["assetKey"],
                shown["status"],
            )
    assert [e.path for e in api.wire.gets()] == [
        f"{ASSETS}/{r['id']}" for r in (raw[0], retired, raw[-1])
    ]


@FLAVOURS
@pytest.mark.parametrize("which", ["foreign", "absent", "malformed"])
def test_an_asset_of_another_organization_or_none_is_not_found(
    flavour: str, which: str, register: Register
) -> None:
    asset_id = {
        "foreign": register.foreign[0],
        "absent": "asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA",
        "malformed": "asset_nope",
    }[which]
    with (
        sdk(flavour, register.base, register.reader) as api,
        pytest.raises(NotFoundError) as caught,
    ):
        api.one(api.client.assets.get(asset_id))

    error = caught.value
    assert (error.status, error.error) == (404, "not_found")
    assert error.request_id is not None and REQUEST_ID.match(error.request_id)
    (answer,) = api.wire.gets()  # a 404 is final: not retried, no new token
    assert error.request_id == answer.headers["x-request-id"] == answer.body["requestId"]


@FLAVOURS
def test_a_wrong_secret_is_an_authentication_error_asked_once(
    flavour: str, register: Register
) -> None:
    client_id, _ = register.reader
    with (
        sdk(flavour, register.base, (client_id, "rsec_wrong")) as api,
        pytest.raises(AuthenticationError) as caught,
    ):
        api.all(api.client.assets.list())

    assert (caught.value.status, caught.value.error) == (401, "unauthenticated")
    assert caught.value.request_id is not None and REQUEST_ID.match(caught.value.request_id)
    assert [(e.method, e.status) for e in api.wire.exchanges] == [("POST", 401)]
    assert api.client.session.grants == 0
    assert api.sleeps == []


@FLAVOURS
def test_the_organization_needs_its_scope(flavour: str, register: Register) -> None:
    with sdk(flavour, register.base, register.reader) as api:
        with pytest.raises(PermissionDeniedError) as caught:
            api.one(api.client.organization.get())
        assert api.one(api.client.assets.get(register.raw[ASSETS][0]["id"])).id  # scope it has
    assert (caught.value.status, caught.value.error) == (403, "forbidden")
    assert caught.value.request_id is not None and REQUEST_ID.match(caught.value.request_id)
    # A 403 is final: no retry and no new token (it is not a 401).
    assert [(e.method, e.status) for e in api.wire.exchanges] == [
        ("POST", 200),
        ("GET", 403),
        ("GET", 200),
    ]

    with sdk(flavour, register.base, register.org_reader) as api:
        organization = api.one(api.client.organization.get())
    query = "SELECT id, slug, name, locale, timezone FROM organizations_organization WHERE slug = ?"
    (row,) = server_rows(register.env, query, SLUG)
    assert organization == Organization(*row)
    assert type(organization) is Organization


@FLAVOURS
def test_a_filter_value_outside_its_choices_is_a_validation_error(
    flavour: str, register: Register
) -> None:
    with (
        sdk(flavour, register.base, register.reader) as api,
        pytest.raises(ValidationError) as caught,
    ):
        api.all(api.client.assets.list(status="scrapped"))
    error = caught.value
    assert (error.status, error.error) == (400, "validation")
    assert any("status" in issue["path"] for issue in error.issues), error.issues
    assert len(api.wire.gets()) == 1


# --- the token, renewed before it expires -------------------------------------------------


@FLAVOURS
def test_the_token_is_renewed_shortly_before_it_expires_by_the_clients_clock(
    flavour: str, register: Register
) -> None:
    clock = FakeClock()
    asset_id = register.raw[ASSETS][0]["id"]
    with sdk(flavour, register.base, register.reader, clock=clock) as api:
        assert api.one(api.client.assets.get(asset_id)).id == asset_id
        lifetime = api.wire.grants()[0].body["expires_in"]
        renew_at = lifetime - min(60, lifetime / 10)  # a tenth of it early, at most a minute

        clock.advance(renew_at - 1)
        assert api.one(api.client.assets.get(asset_id)).id == asset_id
        assert api.client.session.grants == 1

        clock.advance(2)
        assert api.one(api.client.assets.get(asset_id)).id == asset_id
        assert api.client.session.grants == 2

    assert lifetime == 900
    assert [(e.method, e.status) for e in api.wire.exchanges] == [
        ("POST", 200),
        ("GET", 200),
        ("GET", 200),
        ("POST", 200),
        ("GET", 200),
    ]
    first, second = (g.body["access_token"] for g in api.wire.grants())
    assert first != second
    assert [e.authorization for e in api.wire.gets()] == [
        f"Bearer {first}",
        f"Bearer {first}",
        f"Bearer {second}",
    ]


def _org(register: Register) -> str:
    return organization_id(register.env, SLUG)
