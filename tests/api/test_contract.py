"""Contract tests of every API v1 endpoint against SPEC section 4 and the seed's JSON shapes:
field sets, types, nulls present, timestamp format, filters, validation errors, 404s, 405s and
the error envelope. Every response also passes ``check_common`` (request id, rate-limit
headers, OpenAPI conformance) inside the ``api`` helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core.timefmt import api_format
from registra.organizations.models import Organization
from tests.api.conftest import (
    ASSET_FIELDS,
    BASE,
    CUSTODY_FIELDS,
    ORGANIZATION_FIELDS,
    READINESS_FIELDS,
    TIMESTAMP_RE,
    Api,
    Register,
)
from tests.cast import REASON, Cast, operator

ASSET_STAMPS = ("commissionedAt", "decommissionedAt", "createdAt", "updatedAt")
CUSTODY_STAMPS = ("startedAt", "endedAt", "createdAt", "updatedAt")
READINESS_STAMPS = ("performedAt", "createdAt", "updatedAt")


def _check_stamps(record: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        value = record[name]
        assert value is None or TIMESTAMP_RE.match(value), (name, value)


def _check_types(record: dict[str, Any], fields: set[str], nullable: set[str]) -> None:
    assert set(record) == fields, set(record) ^ fields
    for name in fields:
        value = record[name]
        if value is None:
            assert name in nullable, f"{name} is null but is not nullable"
        else:
            assert isinstance(value, str), (name, value)


def _expected_asset(a: Asset) -> dict[str, Any]:
    return {
        "id": a.id,
        "assetKey": a.asset_key,
        "assetKind": a.asset_kind,
        "displayName": a.display_name,
        "description": a.description,
        "sourceKind": a.source_kind,
        "status": a.status,
        "custodianResponsibilityId": a.custodian_responsibility_id,
        "commissionedAt": api_format(a.commissioned_at),
        "decommissionedAt": api_format(a.decommissioned_at),
        "createdAt": api_format(a.created_at),
        "updatedAt": api_format(a.updated_at),
    }


def _expected_custody(c: CustodyAssignment) -> dict[str, Any]:
    return {
        "id": c.id,
        "assetId": c.asset_id,
        "assignmentKey": c.assignment_key,
        "assignmentKind": c.assignment_kind,
        "subjectModuleKey": c.subject_module_key,
        "subjectResourceType": c.subject_resource_type,
        "subjectResourceId": c.subject_resource_id,
        "status": c.status,
        "startedAt": api_format(c.started_at),
        "endedAt": api_format(c.ended_at),
        "createdAt": api_format(c.created_at),
        "updatedAt": api_format(c.updated_at),
    }


def _expected_assessment(r: ReadinessAssessment) -> dict[str, Any]:
    return {
        "id": r.id,
        "assetId": r.asset_id,
        "readinessAssessmentKey": r.readiness_assessment_key,
        "assessmentKind": r.assessment_kind,
        "readinessState": r.readiness_state,
        "status": r.status,
        "performedAt": api_format(r.performed_at),
        "performedByResponsibilityId": r.performed_by_responsibility_id,
        "createdAt": api_format(r.created_at),
        "updatedAt": api_format(r.updated_at),
    }


def _ordered(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)


# --- assets --------------------------------------------------------------------------------


def test_asset_list_matches_the_seed_shape_and_the_database(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    body = api.ok("/assets", reader_token)
    assert set(body) == {"assets", "pagination"}
    assert body["pagination"] == {"nextCursor": None, "limit": 50}
    rows = _ordered(list(Asset.objects.filter(organization=cast.org)))
    assert body["assets"] == [_expected_asset(a) for a in rows]
    nullable = {"custodianResponsibilityId", "commissionedAt", "decommissionedAt"}
    for record in body["assets"]:
        _check_types(record, ASSET_FIELDS, nullable)
        _check_stamps(record, ASSET_STAMPS)
        assert record["id"].startswith("asset_")
    by_key = {r["assetKey"]: r for r in body["assets"]}
    wrench = by_key["torque-wrench-038"]
    assert wrench["custodianResponsibilityId"] == register.custodian.id
    assert wrench["sourceKind"] == "cmms-import"
    assert wrench["status"] == "active" and wrench["commissionedAt"] is not None
    planned = by_key["torque-wrench-039"]
    # Nulls are present, never omitted.
    assert planned["commissionedAt"] is None and planned["decommissionedAt"] is None
    assert planned["custodianResponsibilityId"] is None
    scrapped = by_key["torque-wrench-001"]
    assert scrapped["status"] == "decommissioned"
    assert scrapped["decommissionedAt"] == api_format(register.scrapped.decommissioned_at)


def test_get_one_asset_has_the_list_shape(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    listed = {r["id"]: r for r in api.ok("/assets", reader_token)["assets"]}
    for asset in Asset.objects.filter(organization=cast.org):
        body = api.ok(f"/assets/{asset.id}", reader_token)
        assert set(body) == {"asset"}
        assert body["asset"] == listed[asset.id] == _expected_asset(asset)


def test_timestamps_have_milliseconds_and_z(api: Api, cast: Cast, reader_token: str) -> None:
    # A created_at with sub-millisecond digits and one on a whole second.
    exact = datetime(2024, 3, 15, 8, 21, 43, 987654, tzinfo=UTC)
    whole = datetime(2024, 3, 15, 8, 21, 43, tzinfo=UTC)
    asset_services.asset_bulk_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        specs=[
            {"asset_key": "exact", "asset_kind": "k", "display_name": "x", "created_at": exact},
            {"asset_key": "whole", "asset_kind": "k", "display_name": "x", "created_at": whole},
        ],
    )
    by_key = {r["assetKey"]: r for r in api.ok("/assets", reader_token)["assets"]}
    assert by_key["exact"]["createdAt"] == "2024-03-15T08:21:43.987Z"
    assert by_key["whole"]["createdAt"] == "2024-03-15T08:21:43.000Z"
    assert by_key["whole"]["updatedAt"] == "2024-03-15T08:21:43.000Z"


@pytest.mark.parametrize(
    ("params", "keys"),
    [
        ({"status": "active"}, {"torque-wrench-038"}),
        ({"status": "planned"}, {"torque-wrench-039"}),
        ({"status": "inactive"}, {"van-7"}),
        ({"status": "decommissioned"}, {"torque-wrench-001"}),
        ({"assetKind": "vehicle"}, {"van-7"}),
        ({"assetKind": "no-such-kind"}, set()),
        ({"assetKind": "calibrated-tool", "status": "active"}, {"torque-wrench-038"}),
        ({"assetKind": "vehicle", "status": "active"}, set()),
    ],
)
def test_asset_filters(
    api: Api, register: Register, reader_token: str, params: dict[str, str], keys: set[str]
) -> None:
    body = api.ok("/assets", reader_token, **params)
    assert {r["assetKey"] for r in body["assets"]} == keys


def test_created_after_and_updated_after(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    asset_services.asset_bulk_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        specs=[{"asset_key": "old", "asset_kind": "k", "display_name": "x", "created_at": old}],
    )
    old_asset = Asset.objects.get(organization=cast.org, asset_key="old")
    all_keys = {a.asset_key for a in Asset.objects.filter(organization=cast.org)}

    def keys(**params: str) -> set[str]:
        return {r["assetKey"] for r in api.ok("/assets", reader_token, **params)["assets"]}

    assert keys(createdAfter="2019-12-31T23:59:59.999Z") == all_keys
    assert keys(createdAfter="2020-01-01T00:00:00.000Z") == all_keys - {"old"}  # strictly after
    assert keys(createdAfter="2020-01-01T01:00:00+01:00") == all_keys - {"old"}
    # Without an offset a timestamp is UTC, like every timestamp the API returns.
    assert keys(createdAfter="2019-12-31T23:59:59") == all_keys
    assert keys(createdAfter="2020-01-01T00:00:00") == all_keys - {"old"}
    assert keys(createdAfter="2019-12-31t23:59:59.999999z") == all_keys
    assert keys(updatedAfter="2020-06-01T00:00:00Z") == all_keys - {"old"}
    # An update moves updatedAt but not createdAt.
    mark = Asset.objects.filter(organization=cast.org).latest("updated_at").updated_at.isoformat()
    asset_services.asset_update(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=old_asset.id,
        display_name="Renamed after the mark",
    )
    assert keys(updatedAfter=mark) == {"old"}
    assert keys(createdAfter=mark) == set()
    assert keys(createdAfter="2020-06-01T00:00:00Z", updatedAfter=mark) == set()


@pytest.mark.parametrize(
    ("path", "name", "allowed"),
    [
        ("/assets", "status", ["planned", "active", "inactive", "decommissioned"]),
        ("/assets/custody-assignments", "status", ["active", "ended"]),
        (
            "/assets/readiness-assessments",
            "readinessState",
            ["ready", "conditionally-ready", "not-ready", "unknown"],
        ),
    ],
)
@pytest.mark.parametrize("value", ["retired", "ACTIVE", ""])
def test_enum_filter_outside_its_values_is_a_validation_error(
    api: Api, reader_token: str, path: str, name: str, allowed: list[str], value: str
) -> None:
    body = api.error(path, reader_token, 400, "validation", **{name: value})
    assert [issue["path"] for issue in body["issues"]] == [[name]]
    message = body["issues"][0]["message"]
    for allowed_value in allowed:
        assert allowed_value in message, message


@pytest.mark.parametrize("path", ["/assets", "/assets/readiness-assessments"])
@pytest.mark.parametrize("name", ["createdAfter", "updatedAfter"])
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-05-25T25:00:00Z",
        "2026-05-25",  # a date is not a timestamp
        "1700000000",  # nor are unix seconds
        "-1295936",
        "2026-05-25 14:08:33Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: was a 500
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC: was a 500
    ],
)
def test_bad_timestamp_filter_is_a_validation_error(
    api: Api, reader_token: str, path: str, name: str, value: str
) -> None:
    body = api.error(path, reader_token, 400, "validation", **{name: value})
    assert [issue["path"] for issue in body["issues"]] == [[name]]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/assets", "assetKind"),
        ("/assets/custody-assignments", "assetId"),
        ("/assets/readiness-assessments", "assetId"),
    ],
)
@pytest.mark.parametrize("value", ["\x00", "calibrated\x00tool"])
def test_nul_in_a_text_filter_is_a_validation_error(
    api: Api, register: Register, reader_token: str, path: str, name: str, value: str
) -> None:
    # PostgreSQL text can't hold U+0000; this used to reach the database and answer 500.
    body = api.error(path, reader_token, 400, "validation", **{name: value})
    assert [issue["path"] for issue in body["issues"]] == [[name]]


@pytest.mark.parametrize("path", ["/assets", "/assets/custody-assignments"])
def test_text_filter_longer_than_64_is_a_validation_error(
    api: Api, reader_token: str, path: str
) -> None:
    name = "assetKind" if path == "/assets" else "assetId"
    body = api.error(path, reader_token, 400, "validation", **{name: "x" * 65})
    assert body["issues"][0]["message"] == "String should have at most 64 characters"
    api.ok(path, reader_token, **{name: "x" * 64})


def test_unknown_query_parameters_are_ignored(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    plain = api.ok("/assets", reader_token)
    noisy = api.ok("/assets", reader_token, org="org_x", sort="asc", foo="bar", Status="nope")
    assert noisy == plain
    one = api.ok(f"/assets/{register.wrench.id}", reader_token, expand="custody")
    assert one["asset"]["id"] == register.wrench.id
    custody = api.ok("/assets/custody-assignments", reader_token, holder="x", asset_id="y")
    assert len(custody["custodyAssignments"]) == 2
    org = api.ok("/organization", api.token(cast.org_reader), organization="org_x")
    assert org["organization"]["id"] == cast.org.id


@pytest.mark.parametrize(
    "asset_id",
    [
        "asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA",  # well-formed, absent
        "not-an-id",
        "asset_",
        "ascust_01HXY3M4Q8Z9V2K7T5R6W1N0PA",
        "asset_01HXY3M4Q8Z9V2K7T5R6W1N0P%00",  # NUL: used to answer 500 on PostgreSQL
        "asset_01hxy3m4q8z9v2k7t5r6w1n0pa",
        "%E2%9C%93",
    ],
)
def test_unknown_asset_is_404(api: Api, reader_token: str, asset_id: str) -> None:
    api.error(f"/assets/{asset_id}", reader_token, 404, "not_found")


def test_asset_of_another_organization_is_404(
    api: Api, register: Register, reader_token: str, other_token: str
) -> None:
    mine = api.error(f"/assets/{register.other_wrench.id}", reader_token, 404, "not_found")
    absent = api.error("/assets/asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA", reader_token, 404, "not_found")
    # Same message shape as an absent one: existence does not leak.
    assert mine["message"].replace(register.other_wrench.id, "X") == absent["message"].replace(
        "asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA", "X"
    )
    assert api.ok(f"/assets/{register.other_wrench.id}", other_token)["asset"]["assetKey"] == (
        "torque-wrench-038"
    )


# --- custody -------------------------------------------------------------------------------


def test_custody_list_matches_the_seed_shape_and_the_database(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    body = api.ok("/assets/custody-assignments", reader_token)
    assert set(body) == {"custodyAssignments", "pagination"}
    assert body["pagination"] == {"nextCursor": None, "limit": 50}
    rows = _ordered(list(CustodyAssignment.objects.filter(organization=cast.org)))
    assert len(rows) == 2
    assert body["custodyAssignments"] == [_expected_custody(c) for c in rows]
    for record in body["custodyAssignments"]:
        _check_types(record, CUSTODY_FIELDS, {"endedAt"})
        _check_stamps(record, CUSTODY_STAMPS)
        assert record["subjectModuleKey"] == "membership"
        assert record["subjectResourceType"] == "member-user"
        assert record["subjectResourceId"].startswith("user_")
    by_id = {r["id"]: r for r in body["custodyAssignments"]}
    current = by_id[register.current_custody.id]
    ended = by_id[register.first_custody.id]
    assert current["status"] == "active" and current["endedAt"] is None
    assert current["subjectResourceId"] == cast.editor.id
    assert ended["status"] == "ended" and ended["endedAt"] == current["startedAt"]
    assert ended["assignmentKey"] == "torque-wrench-038-tech-2026-04"


def test_custody_filters(api: Api, cast: Cast, register: Register, reader_token: str) -> None:
    def ids(**params: str) -> set[str]:
        body = api.ok("/assets/custody-assignments", reader_token, **params)
        return {r["id"] for r in body["custodyAssignments"]}

    both = {register.current_custody.id, register.first_custody.id}
    assert ids(assetId=register.wrench.id) == both
    assert ids(assetId=register.van.id) == set()
    assert ids(assetId="asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA") == set()
    assert ids(status="active") == {register.current_custody.id}
    assert ids(status="ended") == {register.first_custody.id}
    assert ids(assetId=register.wrench.id, status="ended") == {register.first_custody.id}
    assert ids(createdAfter=register.current_custody.created_at.isoformat()) == set()
    before = register.first_custody.created_at - timedelta(milliseconds=1)
    assert ids(createdAfter=api_format(before)) == both
    assert ids(updatedAfter=api_format(register.first_custody.updated_at - timedelta(seconds=1)))


# --- readiness -----------------------------------------------------------------------------


def test_readiness_list_matches_the_seed_shape_and_the_database(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    body = api.ok("/assets/readiness-assessments", reader_token)
    assert set(body) == {"readinessAssessments", "pagination"}
    assert body["pagination"] == {"nextCursor": None, "limit": 50}
    rows = _ordered(list(ReadinessAssessment.objects.filter(organization=cast.org)))
    assert len(rows) == 3
    assert body["readinessAssessments"] == [_expected_assessment(r) for r in rows]
    for record in body["readinessAssessments"]:
        _check_types(record, READINESS_FIELDS, {"performedAt", "performedByResponsibilityId"})
        _check_stamps(record, READINESS_STAMPS)
    by_id = {r["id"]: r for r in body["readinessAssessments"]}
    calibration = by_id[register.calibration.id]
    assert calibration["readinessAssessmentKey"] == "torque-wrench-038-cal-2026"
    assert calibration["status"] == "completed" and calibration["readinessState"] == "ready"
    assert calibration["performedByResponsibilityId"] == register.custodian.id
    assert calibration["performedAt"] == api_format(register.calibration.performed_at)
    inspection = by_id[register.inspection.id]
    assert inspection["status"] == "scheduled" and inspection["readinessState"] == "unknown"
    assert inspection["performedAt"] is None and inspection["performedByResponsibilityId"] is None


def test_readiness_filters(api: Api, register: Register, reader_token: str) -> None:
    def ids(**params: str) -> set[str]:
        body = api.ok("/assets/readiness-assessments", reader_token, **params)
        return {r["id"] for r in body["readinessAssessments"]}

    assert ids(assetId=register.wrench.id) == {register.calibration.id}
    assert ids(assetId=register.van.id) == {register.inspection.id, register.failed.id}
    assert ids(readinessState="ready") == {register.calibration.id}
    assert ids(readinessState="not-ready") == {register.failed.id}
    assert ids(readinessState="unknown") == {register.inspection.id}
    assert ids(readinessState="conditionally-ready") == set()
    assert ids(assetId=register.van.id, readinessState="not-ready") == {register.failed.id}
    assert ids(assetId=register.planned.id) == set()
    latest = max(register.inspection.created_at, register.failed.created_at)
    assert ids(createdAfter=latest.isoformat()) == set()


# --- organization --------------------------------------------------------------------------


def test_organization_shape(api: Api, cast: Cast) -> None:
    token = api.token(cast.org_reader)
    body = api.ok("/organization", token)
    assert set(body) == {"organization"}
    org = body["organization"]
    assert set(org) == ORGANIZATION_FIELDS
    stored = Organization.objects.get(id=cast.org.id)
    assert org == {
        "id": stored.id,
        "slug": "skyline-mro",
        "name": "Skyline MRO",
        "locale": stored.locale,
        "timezone": "Europe/Berlin",
    }
    assert all(isinstance(v, str) for v in org.values())


# --- token ---------------------------------------------------------------------------------


def test_token_response_shape(api: Api, cast: Cast) -> None:
    response = api.call(
        "POST",
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cast.reader.account.id,
            "client_secret": cast.reader.secret,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "assets:read"
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"


# --- methods and envelope ------------------------------------------------------------------

WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(
    "path",
    [
        "/assets",
        "/assets/{asset}",
        "/assets/custody-assignments",
        "/assets/custody-holders",
        "/assets/readiness-assessments",
        "/organization",
    ],
)
def test_writes_are_405(
    api: Api, cast: Cast, register: Register, reader_token: str, method: str, path: str
) -> None:
    before = Asset.objects.count(), CustodyAssignment.objects.count()
    url = path.format(asset=register.wrench.id)
    response = api.call(method, url, token=reader_token, data={"displayName": "changed"})
    assert response.status_code == 405, response.content
    assert response.json()["error"] == "method_not_allowed"
    assert "GET" in response.headers.get("Allow", "")
    assert (Asset.objects.count(), CustodyAssignment.objects.count()) == before
    assert Asset.objects.get(id=register.wrench.id).display_name != "changed"


def test_get_on_the_token_endpoint_is_405(api: Api) -> None:
    response = api.call("GET", "/auth/token")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_unknown_api_path_is_404_envelope(api: Api, reader_token: str) -> None:
    api.error("/widgets", reader_token, 404, "not_found")
    api.error("/assets/x/y", reader_token, 404, "not_found")


def test_request_ids_are_unique_per_response(api: Api, reader_token: str) -> None:
    seen = {api.get("/assets", reader_token).headers["X-Request-Id"] for _ in range(5)}
    seen |= {api.get("/assets/nope", reader_token).headers["X-Request-Id"] for _ in range(5)}
    assert len(seen) == 10


def test_openapi_document_lists_every_endpoint(openapi_document: dict[str, Any]) -> None:
    assert openapi_document["openapi"].startswith("3.1")
    paths = openapi_document["paths"]
    assert set(paths) == {
        "/api/v1/auth/token",
        "/api/v1/assets",
        "/api/v1/assets/{assetId}",
        "/api/v1/assets/custody-assignments",
        "/api/v1/assets/custody-holders",
        "/api/v1/assets/readiness-assessments",
        "/api/v1/organization",
    }
    # SPEC section 4: short camelCase verbs, so that generated clients read naturally.
    assert {
        (method.upper(), path.removeprefix(BASE)): operation["operationId"]
        for path, ops in paths.items()
        for method, operation in ops.items()
    } == {
        ("POST", "/auth/token"): "issueToken",
        ("GET", "/assets"): "listAssets",
        ("GET", "/assets/{assetId}"): "getAsset",
        ("GET", "/assets/custody-assignments"): "listCustodyAssignments",
        ("GET", "/assets/custody-holders"): "listCustodyHolders",
        ("GET", "/assets/readiness-assessments"): "listReadinessAssessments",
        ("GET", "/organization"): "getOrganization",
    }
    listing = paths["/api/v1/assets"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "assetKind", "limit", "cursor"}
    for ops in paths.values():
        for operation in ops.values():
            responses = operation["responses"]
            for status in ("401", "429"):
                assert status in responses, (operation["operationId"], status)


def test_reference_page_is_served(client: Any) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


def test_internal_error_is_an_envelope_without_internals(
    api: Api, cast: Cast, reader_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: the only way to reach the 500 path on demand.
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('SELECT "secret" FROM "assets_asset" -- /srv/registra/selectors.py')

    monkeypatch.setattr("registra.api.v1.readers.page", broken)
    response = api.client.get(f"{BASE}/assets", headers={"Authorization": f"Bearer {reader_token}"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal"
    assert body["requestId"] == response.headers["X-Request-Id"]
    assert set(body) == {"error", "message", "requestId"}
    for leak in ("SELECT", "secret", "selectors.py", "Traceback", "RuntimeError"):
        assert leak not in response.content.decode()
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[name].isdigit()
    api.contract.validate_error(body)


def test_token_endpoint_needs_no_csrf_token_even_with_a_session(cast: Cast) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(cast.admin)
    response = browser.post(
        f"{BASE}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cast.reader.account.id,
            "client_secret": cast.reader.secret,
        },
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"
