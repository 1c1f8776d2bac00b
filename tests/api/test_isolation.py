"""Tenant isolation (SPEC section 2: organizations are sealed). Both organizations of the cast
use the same asset keys and custody keys; no endpoint, filter or cursor shows one
organization's records to the other's token, and a foreign id looks exactly like an absent one."""

from __future__ import annotations

from typing import Any

import pytest

from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.organizations import services as org_services
from tests.api.conftest import Api, Register
from tests.cast import REASON, Cast, operator

LISTS = [
    ("/assets", "assets", Asset),
    ("/assets/custody-assignments", "custodyAssignments", CustodyAssignment),
    ("/assets/readiness-assessments", "readinessAssessments", ReadinessAssessment),
]
ABSENT = "asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA"


def _ids(model: Any, org: Any) -> set[str]:
    return set(model.objects.filter(organization=org).values_list("id", flat=True))


@pytest.mark.parametrize(("path", "key", "model"), LISTS)
def test_each_list_shows_only_its_own_organization(
    api: Api,
    cast: Cast,
    register: Register,
    reader_token: str,
    other_token: str,
    path: str,
    key: str,
    model: Any,
) -> None:
    mine, theirs = _ids(model, cast.org), _ids(model, cast.other_org)
    assert mine and theirs and not mine & theirs
    for token, expected in ((reader_token, mine), (other_token, theirs)):
        seen = [r["id"] for page in api.walk(path, token, limit=1) for r in page[key]]
        assert len(seen) == len(set(seen))
        assert set(seen) == expected


def test_same_keys_in_both_organizations(
    api: Api, register: Register, reader_token: str, other_token: str
) -> None:
    def by_key(token: str) -> dict[str, str]:
        return {a["assetKey"]: a["id"] for a in api.ok("/assets", token)["assets"]}

    mine, theirs = by_key(reader_token), by_key(other_token)
    shared = set(mine) & set(theirs)
    assert shared == {"torque-wrench-038", "torque-wrench-039"}
    for key in shared:
        assert mine[key] != theirs[key]
    custody_keys = [
        {c["assignmentKey"] for c in api.ok("/assets/custody-assignments", t)["custodyAssignments"]}
        for t in (reader_token, other_token)
    ]
    assert "torque-wrench-038-tech-2026-04" in custody_keys[0] & custody_keys[1]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "active"},
        {"status": "planned"},
        {"assetKind": "calibrated-tool"},
        {"createdAfter": "2000-01-01T00:00:00Z"},
        {"updatedAfter": "2000-01-01T00:00:00Z"},
        {"assetKind": "calibrated-tool", "status": "active", "limit": 200},
    ],
)
def test_asset_filters_never_cross_organizations(
    api: Api, cast: Cast, register: Register, other_token: str, params: dict[str, Any]
) -> None:
    theirs = _ids(Asset, cast.other_org)
    records = api.ok("/assets", other_token, **params)["assets"]
    assert records and {r["id"] for r in records} <= theirs


def test_foreign_asset_id_is_indistinguishable_from_an_absent_one(
    api: Api, cast: Cast, register: Register, reader_token: str, other_token: str
) -> None:
    for token, foreign in ((reader_token, cast.other_org), (other_token, cast.org)):
        for asset_id in _ids(Asset, foreign):
            foreign_body = api.error(f"/assets/{asset_id}", token, 404, "not_found")
            absent_body = api.error(f"/assets/{ABSENT}", token, 404, "not_found")
            assert foreign_body["message"].replace(asset_id, "?") == absent_body["message"].replace(
                ABSENT, "?"
            )


@pytest.mark.parametrize(("path", "key"), [(p, k) for p, k, _ in LISTS[1:]])
def test_asset_id_filter_with_a_foreign_asset_is_empty(
    api: Api,
    cast: Cast,
    register: Register,
    reader_token: str,
    other_token: str,
    path: str,
    key: str,
) -> None:
    # The other organization's wrench has custody and a calibration; this token sees none.
    foreign = api.ok(path, reader_token, assetId=register.other_wrench.id)
    absent = api.ok(path, reader_token, assetId=ABSENT)
    assert foreign[key] == absent[key] == []
    assert foreign["pagination"] == absent["pagination"] == {"nextCursor": None, "limit": 50}
    assert api.ok(path, other_token, assetId=register.other_wrench.id)[key]
    assert api.ok(path, other_token, assetId=register.wrench.id)[key] == []


@pytest.mark.parametrize(("path", "key"), [(p, k) for p, k, _ in LISTS])
def test_cursors_do_not_cross_organizations(
    api: Api, register: Register, reader_token: str, other_token: str, path: str, key: str
) -> None:
    mine = api.ok(path, reader_token, limit=1)["pagination"]["nextCursor"]
    theirs = api.ok(path, other_token, limit=1)["pagination"]["nextCursor"]
    assert mine and theirs
    api.error(path, other_token, 400, "invalid_cursor", limit=1, cursor=mine)
    api.error(path, reader_token, 400, "invalid_cursor", limit=1, cursor=theirs)


def test_organization_endpoint_shows_the_tokens_own_organization(api: Api, cast: Cast) -> None:
    issued = org_services.service_account_create(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        name="Harbor org lookup",
        scopes="organization:read",
    )
    response = api.call(
        "POST",
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued.account.id,
            "client_secret": issued.secret,
        },
    )
    theirs = api.ok("/organization", response.json()["access_token"])["organization"]
    mine = api.ok("/organization", api.token(cast.org_reader))["organization"]
    assert theirs["id"] == cast.other_org.id and theirs["slug"] == "harbor-aero"
    assert mine["id"] == cast.org.id and mine["slug"] == "skyline-mro"
    # There is no organization parameter anywhere: asking for the other one changes nothing.
    again = api.ok("/organization", api.token(cast.org_reader), organization=cast.other_org.id)
    assert again["organization"]["id"] == cast.org.id


def test_client_id_of_one_organization_with_secret_of_another_is_refused(
    api: Api, cast: Cast
) -> None:
    response = api.call(
        "POST",
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cast.other_reader.account.id,
            "client_secret": cast.reader.secret,
        },
    )
    assert response.status_code == 401
