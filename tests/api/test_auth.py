"""Authentication and scopes: only live service-account bearer tokens open API v1, a token dies
with its account (rotation, disable, delete, expiry), scopes are enforced, and a browser
session never authenticates. The token endpoint's grant and its validation errors."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings

from registra.core.models import AuditEvent
from registra.core.timefmt import now
from registra.organizations import credentials
from registra.organizations import services as org_services
from registra.organizations.models import AccessToken, Organization, ServiceAccount
from tests.api.conftest import Api
from tests.cast import REASON, Cast, Credentials, operator

ASSET_PATHS = [
    "/assets",
    "/assets/asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA",
    "/assets/custody-assignments",
    "/assets/custody-holders",
    "/assets/readiness-assessments",
]
ALL_PATHS = [*ASSET_PATHS, "/organization"]


def _grant(api: Api, client_id: str, secret: str) -> Any:
    return api.call(
        "POST",
        "/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


def _assert_dead(api: Api, token: str) -> None:
    for path in ALL_PATHS:
        api.error(path, token, 401, "unauthenticated")


def _scope_path(creds: Credentials) -> str:
    return "/organization" if "organization:read" in creds.account.scopes else "/assets"


# --- missing and malformed ------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_PATHS)
def test_missing_token_is_401(api: Api, cast: Cast, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Basic x",
        "Basic {token}",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer {token} extra",
        "Token {token}",
        "{token}",
        "Bearer {token}x",
        "Bearer x{token}",
        "Bearer rtok_unknown-token-value-that-was-never-issued",
    ],
)
def test_malformed_or_unknown_token_is_401(
    api: Api, cast: Cast, reader_token: str, header: str
) -> None:
    value = header.format(token=reader_token)
    for path in ALL_PATHS:
        response = api.call("GET", path, headers={"Authorization": value})
        assert response.status_code == 401, (value, response.json())
        assert response.json()["error"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_auth_scheme_is_case_insensitive(api: Api, reader_token: str) -> None:
    # RFC 7235: the scheme name is case-insensitive; the token itself is not.
    response = api.call("GET", "/assets", headers={"Authorization": f"bearer {reader_token}"})
    assert response.status_code == 200
    upper = api.call("GET", "/assets", headers={"Authorization": f"Bearer {reader_token.upper()}"})
    assert upper.status_code == 401


def test_browser_session_alone_is_401(api: Api, cast: Cast, client: Any) -> None:
    client.force_login(cast.admin)
    assert client.cookies.get("sessionid")
    for path in ALL_PATHS:
        api.error(path, None, 401, "unauthenticated")


def test_browser_session_adds_nothing_to_a_token(api: Api, cast: Cast, client: Any) -> None:
    client.force_login(cast.admin)
    org_only = api.token(cast.org_reader)
    api.error("/assets", org_only, 403, "forbidden")
    reader = api.token(cast.reader)
    api.error("/organization", reader, 403, "forbidden")
    assert api.ok("/assets", reader)["assets"] == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/assets", {"status": "retired"}),
        ("/assets", {"limit": "abc"}),
        ("/assets", {"createdAfter": "yesterday"}),
        ("/assets", {"limit": "0"}),
        ("/assets", {"cursor": "tampered"}),
        ("/assets/custody-assignments", {"status": "lost", "assetId": "x" * 100}),
        ("/assets/readiness-assessments", {"readinessState": "maybe"}),
    ],
)
def test_authentication_and_scope_come_before_parameter_validation(
    api: Api, cast: Cast, path: str, params: dict[str, str]
) -> None:
    # Whoever can't read the register learns nothing about its parameters either.
    api.error(path, None, 401, "unauthenticated", **params)
    api.error(path, "rtok_never-issued", 401, "unauthenticated", **params)
    api.error(path, api.token(cast.org_reader), 403, "forbidden", **params)
    api.error(
        path,
        api.token(cast.reader),
        400,
        "invalid_cursor" if "cursor" in params else "validation",
        **params,
    )


# --- scopes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ASSET_PATHS)
def test_organization_read_token_cannot_read_assets(api: Api, cast: Cast, path: str) -> None:
    token = api.token(cast.org_reader)
    body = api.error(path, token, 403, "forbidden")
    assert "assets:read" in body["message"]


def test_assets_read_token_cannot_read_organization(api: Api, reader_token: str) -> None:
    body = api.error("/organization", reader_token, 403, "forbidden")
    assert "organization:read" in body["message"]


def test_token_with_both_scopes_reads_both(api: Api, cast: Cast) -> None:
    issued = org_services.service_account_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        name="Both",
        scopes="assets:read organization:read",
    )
    response = _grant(api, issued.account.id, issued.secret)
    assert response.json()["scope"] == "assets:read organization:read"
    token = response.json()["access_token"]
    api.ok("/assets", token)
    assert api.ok("/organization", token)["organization"]["id"] == cast.org.id


# --- the token endpoint -----------------------------------------------------------------------


def test_grant_stores_only_a_hash_and_records_an_audit_event(api: Api, cast: Cast) -> None:
    started = now()
    response = _grant(api, cast.reader.account.id, cast.reader.secret)
    assert response.status_code == 200
    raw = response.json()["access_token"]
    row = AccessToken.objects.get(service_account_id=cast.reader.account.id)
    assert row.token_hash == credentials.token_hash(raw) != hashlib.sha256(raw.encode()).hexdigest()
    assert row.organization_id == cast.org.id
    assert row.scopes == ["assets:read"]
    assert timedelta(seconds=899) <= row.expires_at - row.created_at <= timedelta(seconds=900)
    stored = [str(v) for v in AccessToken.objects.values_list(flat=False).get(id=row.id)]
    assert raw not in stored
    account = ServiceAccount.objects.get(id=cast.reader.account.id)
    assert account.last_used_at is not None and account.last_used_at >= started
    event = AuditEvent.objects.get(organization_id=cast.org.id, action="token.issued")
    assert event.subject_id == row.id
    assert event.actor_id == cast.reader.account.id
    assert raw not in str(event.diff)


@pytest.mark.parametrize(
    "who",
    [
        "wrong-secret",
        "unknown-client",
        "other-org-secret",
        "empty-secret",
    ],
)
def test_bad_client_credentials_are_401(api: Api, cast: Cast, who: str) -> None:
    client_id, secret = {
        "wrong-secret": (cast.reader.account.id, cast.reader.secret + "x"),
        "unknown-client": ("svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA", cast.reader.secret),
        "other-org-secret": (cast.reader.account.id, cast.other_reader.secret),
        "empty-secret": (cast.reader.account.id, ""),
    }[who]
    response = _grant(api, client_id, secret)
    if who == "empty-secret":
        assert response.status_code == 400
        assert response.json()["error"] == "validation"
    else:
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert AccessToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action="token.issued").exists()


VALID = {"grant_type": "client_credentials", "client_id": "svc_x", "client_secret": "s"}
JSON = "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "paths"),
    [
        ({**VALID, "grant_type": "password"}, JSON, [["grant_type"]]),
        ({**VALID, "grant_type": "CLIENT_CREDENTIALS"}, JSON, [["grant_type"]]),
        ({"client_id": "svc_x", "client_secret": "s"}, JSON, [["grant_type"]]),
        ({"grant_type": "client_credentials", "client_secret": "s"}, JSON, [["client_id"]]),
        ({"grant_type": "client_credentials", "client_id": "svc_x"}, JSON, [["client_secret"]]),
        ({}, JSON, [["grant_type"], ["client_id"], ["client_secret"]]),
        ({**VALID, "client_id": 7}, JSON, [["client_id"]]),
        ({**VALID, "client_secret": None}, JSON, [["client_secret"]]),
        # NUL can't reach PostgreSQL text (this used to answer 500 there).
        ({**VALID, "client_id": "svc_\x00"}, JSON, [["client_id"]]),
        ({**VALID, "client_secret": "s\x00"}, JSON, [["client_secret"]]),
        ('{"grant_type": "client_credentials", "client_id": "\\ud800"}', JSON, [["body"]]),
        ("not json", JSON, [["body"]]),
        ('{"grant_type": "client_credentials",', JSON, [["body"]]),
        ("[1, 2]", JSON, [["body"]]),
        ('"client_credentials"', JSON, [["body"]]),
        ("", JSON, [["body"]]),
        ("grant_type=client_credentials", "text/plain", [["body"]]),
    ],
)
def test_token_request_validation(
    api: Api, cast: Cast, body: Any, content_type: str, paths: list[list[str]]
) -> None:
    response = api.call("POST", "/auth/token", data=body, content_type=content_type)
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert payload["error"] == "validation"
    assert [issue["path"] for issue in payload["issues"]] == paths
    assert AccessToken.objects.count() == 0


def test_token_endpoint_needs_no_bearer_and_ignores_one(api: Api, cast: Cast) -> None:
    response = api.call(
        "POST",
        "/auth/token",
        headers={"Authorization": "Bearer garbage"},
        data={
            "grant_type": "client_credentials",
            "client_id": cast.org_reader.account.id,
            "client_secret": cast.org_reader.secret,
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "organization:read"


# --- tokens that die ------------------------------------------------------------------------


def test_expired_token_is_401(api: Api, cast: Cast, reader_token: str) -> None:
    api.ok("/assets", reader_token)
    AccessToken.objects.filter(service_account_id=cast.reader.account.id).update(
        expires_at=now() - timedelta(seconds=1)
    )
    _assert_dead(api, reader_token)


def test_token_ttl_is_a_setting(api: Api, cast: Cast) -> None:
    with override_settings(REGISTRA_TOKEN_TTL_SECONDS=60):
        response = _grant(api, cast.reader.account.id, cast.reader.secret)
    assert response.json()["expires_in"] == 60
    row = AccessToken.objects.get(service_account_id=cast.reader.account.id)
    assert row.expires_at - row.created_at == timedelta(seconds=60)


def test_token_lifetime_never_outlives_the_account(api: Api, cast: Cast) -> None:
    issued = org_services.service_account_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        name="Short-lived",
        scopes="assets:read",
        expires_at=now() + timedelta(seconds=120),
    )
    response = _grant(api, issued.account.id, issued.secret)
    assert 0 < response.json()["expires_in"] <= 120
    token = response.json()["access_token"]
    api.ok("/assets", token)
    # The account expires: its token and its secret stop working.
    ServiceAccount.objects.filter(id=issued.account.id).update(
        expires_at=now() - timedelta(seconds=1)
    )
    _assert_dead(api, token)
    assert _grant(api, issued.account.id, issued.secret).status_code == 401


def test_rotated_secret_kills_old_token_and_old_secret(
    api: Api, cast: Cast, reader_token: str
) -> None:
    api.ok("/assets", reader_token)
    rotated = org_services.service_account_rotate_secret(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )
    _assert_dead(api, reader_token)
    assert AccessToken.objects.filter(service_account_id=cast.reader.account.id).count() == 0
    old = _grant(api, cast.reader.account.id, cast.reader.secret)
    assert old.status_code == 401 and old.json()["error"] == "unauthenticated"
    fresh = _grant(api, cast.reader.account.id, rotated.secret)
    assert fresh.status_code == 200
    api.ok("/assets", fresh.json()["access_token"])
    assert AuditEvent.objects.filter(
        organization_id=cast.org.id,
        action="service-account.secret-rotated",
        subject_id=cast.reader.account.id,
    ).exists()


def test_disabled_account_is_401_until_enabled(api: Api, cast: Cast, reader_token: str) -> None:
    account_id = cast.reader.account.id
    org_services.service_account_disable(
        organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=account_id
    )
    _assert_dead(api, reader_token)
    assert _grant(api, account_id, cast.reader.secret).status_code == 401
    org_services.service_account_enable(
        organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=account_id
    )
    # The old token stays dead; the unchanged secret gets a new one.
    _assert_dead(api, reader_token)
    api.ok("/assets", api.token(cast.reader))


@pytest.mark.parametrize("creds_name", ["reader", "org_reader"])
def test_deleted_account_is_401(api: Api, cast: Cast, creds_name: str) -> None:
    creds: Credentials = getattr(cast, creds_name)
    token = api.token(creds)
    api.ok(_scope_path(creds), token)
    org_services.service_account_delete(
        organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=creds.account.id
    )
    _assert_dead(api, token)
    assert _grant(api, creds.account.id, creds.secret).status_code == 401


def test_revoking_one_account_leaves_the_others(api: Api, cast: Cast) -> None:
    reader, org_reader, other = (
        api.token(cast.reader),
        api.token(cast.org_reader),
        api.token(cast.other_reader),
    )
    org_services.service_account_disable(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )
    _assert_dead(api, reader)
    api.ok("/organization", org_reader)
    api.ok("/assets", other)


def test_suspended_organization_tokens_are_401(api: Api, cast: Cast, reader_token: str) -> None:
    Organization.objects.filter(id=cast.org.id).update(status="suspended")
    _assert_dead(api, reader_token)
    assert _grant(api, cast.reader.account.id, cast.reader.secret).status_code == 401
