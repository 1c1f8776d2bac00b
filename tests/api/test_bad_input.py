"""Bad input and odd methods are a 4xx envelope, never a 500 (issue 6, section 4): a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413, more fields or query parameters than
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` is 400 ``validation``, the document and the reference page
answer other methods with 405, the token endpoint's 405 names POST, and HEAD is GET without a
body. Each API response is logged once with its status, request id and duration."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from django.test import Client, override_settings

from registra.organizations.models import AccessToken
from tests.api.conftest import BASE, REQUEST_ID_RE, Api
from tests.cast import Cast


def _grant(cast: Cast) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": cast.reader.account.id,
        "client_secret": cast.reader.secret,
    }


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_limit_is_413(api: Api, cast: Cast, caplog: Any) -> None:
    body = {**_grant(cast), "padding": "x" * 1000}
    response = api.call("POST", "/auth/token", data=body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "1000 bytes" in response.json()["message"]
    assert AccessToken.objects.count() == 0
    assert not [r for r in caplog.records if r.exc_info], "no stack trace in the log"
    # Under the limit, the same grant works.
    assert api.call("POST", "/auth/token", data=_grant(cast)).status_code == 200


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=5)
@pytest.mark.parametrize("path", ["/assets", "/assets/{asset}", "/organization", "/auth/token"])
def test_more_query_parameters_than_the_limit_is_400(
    api: Api, cast: Cast, caplog: Any, path: str
) -> None:
    token = api.token(cast.org_reader if path == "/organization" else cast.reader)
    url = path.format(asset="asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA")
    method = "POST" if path == "/auth/token" else "GET"
    params = {f"p{i}": "1" for i in range(6)}
    response = api.call(method, url, token=token, params=params, data=_grant(cast))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation"
    assert body["issues"] == [{"path": ["request"], "message": "has more fields than the limit"}]
    assert not [r for r in caplog.records if r.exc_info], "no stack trace in the log"
    assert AccessToken.objects.count() == 1  # only the one this test was granted
    fewer = {"limit": "1"}
    assert api.call(method, url, token=token, params=fewer, data=_grant(cast)).status_code != 400


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=3)
def test_more_form_fields_than_the_limit_is_400(api: Api, cast: Cast) -> None:
    form = "&".join(f"{k}={v}" for k, v in {**_grant(cast), "extra": "1"}.items())
    response = api.call(
        "POST", "/auth/token", data=form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation"
    assert body["issues"] == [{"path": ["body"], "message": "has more than 3 fields"}]
    assert AccessToken.objects.count() == 0


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_writes_on_the_document_and_reference_page_are_405(
    api: Api, reader_token: str, path: str, method: str
) -> None:
    response = api.call(method, path, token=reader_token)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_token_endpoints_405_names_post(api: Api, method: str) -> None:
    response = api.call(method, "/auth/token")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "path", ["/assets", "/assets/custody-assignments", "/openapi.json", "/assets/nope"]
)
def test_head_is_get_without_a_body(api: Api, cast: Cast, reader_token: str, path: str) -> None:
    get = api.call("GET", path, token=reader_token)
    head = api.call("HEAD", path, token=reader_token)
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert int(head.headers["Content-Length"]) == len(get.content)
    assert REQUEST_ID_RE.match(head.headers["X-Request-Id"])
    # Counted like the GET: one less left in the same bucket.
    assert (
        int(head.headers["X-RateLimit-Remaining"]) == int(get.headers["X-RateLimit-Remaining"]) - 1
    )


def test_each_response_is_logged_with_status_request_id_and_duration(
    api: Api, reader_token: str, caplog: Any
) -> None:
    with caplog.at_level(logging.INFO, logger="registra.api.access"):
        ok = api.call("GET", "/assets", token=reader_token)
        missing = api.call("GET", "/assets/nope", token=reader_token)
    lines = [r for r in caplog.records if r.name == "registra.api.access"]
    assert [(r.status_code, r.request_id) for r in lines] == [  # type: ignore[attr-defined]
        (200, ok.headers["X-Request-Id"]),
        (404, missing.headers["X-Request-Id"]),
    ]
    assert [r.levelname for r in lines] == ["INFO", "WARNING"]
    for record in lines:
        assert record.method == "GET"  # type: ignore[attr-defined]
        assert record.duration_ms >= 0  # type: ignore[attr-defined]
        assert record.path.startswith(BASE)  # type: ignore[attr-defined]


def test_an_unknown_method_is_405_not_a_page(cast: Cast, reader_token: str) -> None:
    response = Client().generic(
        "PROPFIND", f"{BASE}/assets", headers={"Authorization": f"Bearer {reader_token}"}
    )
    assert response.status_code == 405
    assert orjson.loads(response.content)["error"] == "method_not_allowed"


def test_the_document_is_as_strict_as_the_api(openapi_document: dict[str, Any]) -> None:
    # A request the document allows is never refused for it: the API's own rules are in it.
    paths = openapi_document["paths"]
    lists = ("/assets", "/assets/custody-assignments", "/assets/custody-holders")
    for path in (f"{BASE}{name}" for name in lists):
        params = {p["name"]: p["schema"] for p in paths[path]["get"]["parameters"]}
        assert params["limit"]["minimum"] == 1
        cursor = params["cursor"]
        assert {"type": "string", "minLength": 1} in cursor.get("anyOf", [cursor])
    body = paths[f"{BASE}/auth/token"]["post"]["requestBody"]["content"]["application/json"]
    fields = body["schema"]["properties"]
    assert fields["client_id"]["minLength"] == fields["client_secret"]["minLength"] == 1
    for ops in paths.values():
        for operation in ops.values():
            assert "503" in operation["responses"], operation["operationId"]
