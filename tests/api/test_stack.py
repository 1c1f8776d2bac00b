"""API v1's own handler (``registra.api.v1.stack``): its chain is ``API_V1_MIDDLEWARE``, the
settings that chain reads are honoured on ``/api/v1`` (nothing switches itself off), a
middleware the API does not run is named at start-up, and without the dispatch Registra does
not start."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings

from registra.api.v1.stack import DISPATCH, require_dispatch
from tests.api.conftest import BASE, Api
from tests.cast import Cast


class Marker:
    """A middleware that marks the responses it saw."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["X-Marker"] = "seen"
        return response


MARKER = f"{__name__}.Marker"


def test_api_requests_run_the_api_chain_only(api: Api, reader_token: str) -> None:
    response = api.call("GET", "/assets", token=reader_token)
    assert response.status_code == 200
    # The web chain's session and CSRF middleware never ran: nothing for a browser.
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # The web UI's URLconf is not the API's: /healthz is not under /api/v1.
    assert api.call("GET", "/healthz", token=reader_token).status_code == 404


def test_api_v1_middleware_is_the_api_chain(cast: Cast, settings: Any) -> None:
    with override_settings(API_V1_MIDDLEWARE=[*settings.API_V1_MIDDLEWARE, MARKER]):
        client = Client()  # a new client builds the chains from the settings
        assert client.get(f"{BASE}/openapi.json").headers.get("X-Marker") == "seen"
        assert "X-Marker" not in client.get("/healthz").headers


def test_a_web_middleware_the_api_does_not_run_is_a_warning_at_start(
    caplog: pytest.LogCaptureFixture, settings: Any, db: None
) -> None:
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, MARKER]):
        with caplog.at_level(logging.WARNING, logger="registra.api"):
            client = Client()
            client.get("/healthz")  # the handler loads its middleware on the first request
        assert client.get("/healthz").headers.get("X-Marker") == "seen"
        assert "X-Marker" not in client.get(f"{BASE}/openapi.json").headers
    warnings = [r.getMessage() for r in caplog.records if r.name == "registra.api"]
    assert warnings == [
        f"{MARKER} is in MIDDLEWARE but not in API_V1_MIDDLEWARE: it does not run for /api/v1"
    ]


def test_the_stock_chain_starts_without_warnings(
    caplog: pytest.LogCaptureFixture, db: None
) -> None:
    with caplog.at_level(logging.WARNING, logger="registra.api"):
        Client().get("/healthz")
    assert [r for r in caplog.records if r.name == "registra.api"] == []


def test_without_the_dispatch_registra_does_not_start(settings: Any) -> None:
    require_dispatch()
    with (
        override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != DISPATCH]),
        pytest.raises(ImproperlyConfigured, match="serves /api/v1"),
    ):
        require_dispatch()


@override_settings(SECURE_HSTS_SECONDS=3600, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_is_sent_on_api_responses(cast: Cast, reader_token: str) -> None:
    response = Client().get(
        f"{BASE}/assets", headers={"Authorization": f"Bearer {reader_token}"}, secure=True
    )
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_ssl_redirect_applies_to_the_api(cast: Cast, reader_token: str) -> None:
    response = Client().get(
        f"{BASE}/assets?limit=1", headers={"Authorization": f"Bearer {reader_token}"}
    )
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://testserver{BASE}/assets?limit=1"
    assert response.headers["X-Request-Id"].startswith("req_")


@override_settings(ALLOWED_HOSTS=["registra.example"])
def test_a_host_not_allowed_is_a_400_envelope(cast: Cast, reader_token: str) -> None:
    bearer = {"Authorization": f"Bearer {reader_token}"}
    refused = Client().get(f"{BASE}/assets", headers=bearer, HTTP_HOST="evil.example")
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/json"
    body = refused.json()
    assert body["error"] == "validation"
    assert body["requestId"] == refused.headers["X-Request-Id"]
    allowed = Client().get(f"{BASE}/assets", headers=bearer, HTTP_HOST="registra.example")
    assert allowed.status_code == 200


@override_settings(USE_X_FORWARDED_HOST=True, ALLOWED_HOSTS=["registra.example"])
def test_forwarded_host_is_checked_like_the_host(cast: Cast, reader_token: str) -> None:
    bearer = {"Authorization": f"Bearer {reader_token}"}
    client = Client()
    forwarded = {"HTTP_HOST": "internal", "HTTP_X_FORWARDED_HOST": "registra.example"}
    assert client.get(f"{BASE}/assets", headers=bearer, **forwarded).status_code == 200
    refused = {"HTTP_HOST": "registra.example", "HTTP_X_FORWARDED_HOST": "evil.example"}
    assert client.get(f"{BASE}/assets", headers=bearer, **refused).status_code == 400
