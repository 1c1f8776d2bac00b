"""The hot path (``registra/api/v1/hotpath.py``) answers exactly as Django's request cycle
does for every request it takes, and hands back to Django, uncounted, every request it can't
answer exactly. (The whole API suite also runs through it: the ``api`` fixture's ``hot``
transport.)"""

from __future__ import annotations

import base64
import logging
import typing
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
import schemathesis
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from registra.api.v1 import assets as asset_views
from registra.api.v1 import hotpath
from registra.api.v1.listing import ASSESSMENTS, ASSETS, CUSTODY
from registra.core.timefmt import api_format
from registra.organizations import services as org_services
from tests.api.conftest import BASE, Api, HotClient, OpenApiContract, Register, hot_scope
from tests.cast import REASON, Cast, operator

VOLATILE = {"x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"}
HOT_FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: a red build is reproducible
    suppress_health_check=list(HealthCheck),
)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cursor_position(cursor: str) -> list[Any]:
    """A cursor without its issue time (two cursors issued a second apart differ in it)."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return orjson.loads(raw[16:])[:-1]


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    if "requestId" in body:
        body["requestId"] = "req"
    pagination = body.get("pagination")
    if pagination and pagination["nextCursor"]:
        body["pagination"] = dict(pagination, nextCursor=_cursor_position(pagination["nextCursor"]))
    return body


def assert_same_response(hot: Any, django: Any) -> None:
    """Same status, headers and body, but for the request id and the rate-limit count."""
    assert hot.status_code == django.status_code, (hot.json(), django.json())
    hot_head = {k.lower(): v for k, v in hot.headers.items()}
    django_head = {k.lower(): v for k, v in django.headers.items()}
    assert set(hot_head) == set(django_head)
    for name in set(hot_head) - VOLATILE:
        assert hot_head[name] == django_head[name], name
    if hot.status_code >= 400:
        assert hot.json()["requestId"] == hot_head["x-request-id"]
    if hot_head["x-ratelimit-reset"] == django_head["x-ratelimit-reset"]:
        # Django's request came second, in the same window: one fewer left.
        remaining = int(hot_head["x-ratelimit-remaining"])
        assert int(django_head["x-ratelimit-remaining"]) == max(0, remaining - 1)
    assert _comparable(hot.json()) == _comparable(django.json())


class Paths:
    """Sends one request both ways and checks the hot path took it (or declined it)."""

    def __init__(self) -> None:
        self.hot = HotClient(Client())
        self.django = Client()

    def both(self, path: str, query: str, token: str) -> tuple[Any, Any]:
        hot = self.hot.offer(BASE + path, query.encode(), _bearer(token))
        assert hot is not None, f"the hot path declined {path}?{query}"
        django = self.django.get(f"{BASE}{path}?{query}", headers=_bearer(token))
        assert_same_response(hot, django)
        return hot, django

    def declined(
        self, path: str, query: bytes, headers: dict[str, str], *, method: str = "GET"
    ) -> None:
        answer = self.hot.offer(BASE + path, query, headers, method=method)
        assert answer is None, f"the hot path took {method} {path}?{query!r}"


@pytest.fixture
def paths(no_rate_limits: None) -> Paths:
    return Paths()


@pytest.fixture
def api(client: Client, contract: OpenApiContract) -> Api:
    """Tokens come from Django's path here; the tests drive both paths themselves."""
    return Api(client, contract)


def test_lists_filters_and_pages_match_django(
    paths: Paths, register: Register, reader_token: str
) -> None:
    wrench = register.wrench.id
    before = api_format(register.wrench.created_at - timedelta(seconds=1))
    cases = [
        ("/assets", ""),
        ("/assets", "limit=1"),
        ("/assets", "limit=500"),
        ("/assets", "status=active"),
        ("/assets", "status=decommissioned&limit=200"),
        ("/assets", "assetKind=vehicle"),
        ("/assets", f"createdAfter={before}"),
        ("/assets", "updatedAfter=2020-01-01T02:00:00%2B02:00"),
        ("/assets", "unknown=ignored&limit=2"),
        ("/assets/custody-assignments", ""),
        ("/assets/custody-assignments", f"assetId={wrench}&status=ended"),
        ("/assets/custody-assignments", f"assetId={register.other_wrench.id}"),
        ("/assets/readiness-assessments", "readinessState=not-ready"),
        ("/assets/readiness-assessments", f"assetId={wrench}&limit=1"),
    ]
    for path, query in cases:
        hot, _ = paths.both(path, query, reader_token)
        assert hot.status_code == 200


def test_walks_match_django_page_by_page(
    paths: Paths, register: Register, reader_token: str
) -> None:
    walks = ((ASSETS, "limit=1", 4), (CUSTODY, "limit=1", 2), (ASSESSMENTS, "limit=2", 3))
    for spec, query, records in walks:
        path = spec.path.removeprefix(BASE)
        seen, cursor = [], ""
        while True:
            hot, _ = paths.both(path, query + cursor, reader_token)
            page = hot.json()
            seen += [r["id"] for r in page[spec.key]]
            if not page["pagination"]["nextCursor"]:
                break
            cursor = f"&cursor={page['pagination']['nextCursor']}"
        assert len(seen) == len(set(seen)) == records, spec.path


def test_errors_after_counting_match_django(
    paths: Paths, register: Register, reader_token: str, other_token: str
) -> None:
    first = paths.hot.offer(f"{BASE}/assets", b"limit=1", _bearer(reader_token))
    assert first is not None
    cursor = first.json()["pagination"]["nextCursor"]
    foreign = paths.hot.offer(f"{BASE}/assets", b"limit=1", _bearer(other_token))
    assert foreign is not None
    edited = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for query in (
        "limit=0",
        "limit=-1",
        f"limit=1&cursor={edited}",
        f"limit=2&cursor={cursor}",  # another filter set (the limit is not one: same list)
        f"status=active&limit=1&cursor={cursor}",
        f"limit=1&cursor={foreign.json()['pagination']['nextCursor']}",
        "cursor=x",
    ):
        hot, _ = paths.both("/assets", query, reader_token)
        expected = 200 if query.startswith("limit=2") else 400
        assert hot.status_code == expected, query


def test_rate_limited_reads_match_django(
    cast: Cast, reader_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    paths = Paths()
    with override_settings(REGISTRA_RATE_LIMIT_TOKEN_READS=1):
        allowed = paths.hot.offer(f"{BASE}/assets", b"", _bearer(reader_token))
        assert allowed is not None and allowed.status_code == 200
        with caplog.at_level(logging.WARNING, logger="django.request"):
            hot, _ = paths.both("/assets", "", reader_token)
        assert hot.status_code == 429
        assert hot.headers["Retry-After"].isdigit()
    # Both paths log the refusal as Django's handler does, once each.
    logged = [
        (r.levelname, r.getMessage(), getattr(r, "status_code", None)) for r in caplog.records
    ]
    assert logged == [("WARNING", "Too Many Requests: /api/v1/assets", 429)] * 2


def test_internal_errors_match_django(
    paths: Paths,
    cast: Cast,
    reader_token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('SELECT "secret" FROM "assets_asset"')

    monkeypatch.setattr("registra.assets.selectors._page", broken)
    with caplog.at_level(logging.WARNING):
        hot, _ = paths.both("/assets", "", reader_token)
    assert hot.status_code == 500
    assert b"secret" not in hot.content
    # Each path logs the exception (with its request id) and Django's one-line summary.
    logged = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert logged.count(("registra.api", "ERROR", "unhandled error in API v1")) == 2
    summary = ("django.request", "ERROR", "Internal Server Error: /api/v1/assets")
    assert logged.count(summary) == 2


def test_it_declines_what_django_must_answer(paths: Paths, cast: Cast, reader_token: str) -> None:
    org_only = Client().post(
        f"{BASE}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cast.org_reader.account.id,
            "client_secret": cast.org_reader.secret,
        },
        content_type="application/json",
    )
    good = _bearer(reader_token)
    for query in (
        b"limit=abc",
        b"limit=",
        b"limit=1&limit=2",
        b"status=bogus",
        b"status=",
        b"createdAfter=yesterday",
        b"createdAfter=1700000000",
        b"assetKind=" + b"x" * 65,
        b"assetKind=%00",
        b"assetKind=%ff",  # not UTF-8
        b"assetKind=\xc3\xa9",  # raw non-ASCII bytes
        b"&".join([b"f=1"] * 1001),  # more fields than Django parses
    ):
        paths.declined("/assets", query, good)
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        _bearer(org_only.json()["access_token"]),  # lacks assets:read: Django's 403
    ):
        paths.declined("/assets", b"", headers)
    for path in ("/assets/", "/assets/asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA", "/organization"):
        paths.declined(path, b"", good)
    for method in ("HEAD", "POST", "OPTIONS"):
        paths.declined("/assets", b"", good, method=method)
    with override_settings(ALLOWED_HOSTS=["registra.example"]):
        paths.declined("/assets", b"", good)
    # Headers it reads must come once; a mounted app (root_path) is Django's to route.
    scope = hot_scope(f"{BASE}/assets", b"", good)
    assert hotpath.accept({**scope, "headers": [*scope["headers"], *scope["headers"][1:]]}) is None
    assert hotpath.accept({**scope, "headers": scope["headers"][1:]}) is None  # no Host
    assert hotpath.accept({**scope, "root_path": "/registra"}) is None
    assert hotpath.accept(scope) is not None


def test_a_declined_request_is_not_counted(paths: Paths, cast: Cast, reader_token: str) -> None:
    good = _bearer(reader_token)
    with override_settings(REGISTRA_RATE_LIMIT_TOKEN_READS=50):
        first = paths.hot.offer(f"{BASE}/assets", b"", good)
        assert first is not None
        for query in (b"limit=abc", b"status=bogus", b"limit=1&limit=1"):
            paths.declined("/assets", query, good)
        paths.declined("/assets", b"", {"Authorization": f"Bearer {reader_token}x"})
        second = paths.hot.offer(f"{BASE}/assets", b"", good)
    assert second is not None
    assert int(first.headers["X-RateLimit-Remaining"]) == 49
    if first.headers["X-RateLimit-Reset"] == second.headers["X-RateLimit-Reset"]:
        assert int(second.headers["X-RateLimit-Remaining"]) == 48


def test_it_is_on_by_default_and_off_where_it_would_answer_differently() -> None:
    # A middleware or security setting change turns it off rather than answer unlike Django.
    # If this first assertion fails, bring hotpath.MIDDLEWARE (and the responses) in line.
    assert hotpath.enabled()
    from django.conf import settings

    for changed in (
        {"REGISTRA_API_HOT_PATH": False},
        {"SECURE_SSL_REDIRECT": True},
        {"SECURE_HSTS_SECONDS": 3600},
        {"USE_X_FORWARDED_HOST": True},
        {"MIDDLEWARE": [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]},
    ):
        with override_settings(**changed):
            assert not hotpath.enabled(), changed


def test_list_specs_take_the_parameters_the_views_declare() -> None:
    # The hot path validates parameters with the types in the list specs; the ninja views
    # declare their own. They must be the same types, or the two paths would disagree.
    views = {
        ASSETS: asset_views.list_assets,
        CUSTODY: asset_views.list_custody_assignments,
        ASSESSMENTS: asset_views.list_readiness_assessments,
    }
    for spec, view in views.items():
        hints = typing.get_type_hints(view, include_extras=True)
        declared = {name for name in hints} - {"request", "return", "limit", "cursor"}
        assert declared == {name for name, _, _ in spec.filters}, spec.path
        for name, _, kind in spec.filters:
            assert hints[name] == kind | None, (spec.path, name)
        assert hints["limit"] is int and hints["cursor"] == str | None


def test_a_disabled_account_is_refused_at_once(paths: Paths, cast: Cast, reader_token: str) -> None:
    # The token is looked up on every request: no cache lets a revoked account read on.
    assert paths.hot.offer(f"{BASE}/assets", b"", _bearer(reader_token)) is not None
    org_services.service_account_disable(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )
    paths.declined("/assets", b"", _bearer(reader_token))
    response = paths.django.get(f"{BASE}/assets", headers=_bearer(reader_token))
    assert response.status_code == 401


LIST_OPERATIONS = [spec.path.removeprefix(BASE) for spec in (ASSETS, CUSTODY, ASSESSMENTS)]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", LIST_OPERATIONS)
def test_fuzz_hot_path_declines_or_answers_as_django(
    paths: Paths,
    register: Register,
    reader_token: str,
    openapi_document: dict[str, Any],
    path: str,
    mode: GenerationMode,
) -> None:
    """Schemathesis draws each list's query parameters from the OpenAPI document (valid ones,
    then invalid ones); for every draw the hot path declines or answers exactly as Django."""
    schema = schemathesis.openapi.from_dict(openapi_document)
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    strategy = schema[BASE + path]["GET"].as_strategy(generation_mode=mode)
    served = 0

    @HOT_FUZZ_SETTINGS
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        nonlocal served
        query = urlencode(case.query or {}, doseq=True)
        hot = paths.hot.offer(BASE + path, query.encode(), _bearer(reader_token))
        if hot is None:
            return
        served += 1
        django = paths.django.get(f"{BASE}{path}?{query}", headers=_bearer(reader_token))
        assert_same_response(hot, django)

    fuzz()
    if mode is GenerationMode.POSITIVE:
        assert served >= HOT_FUZZ_SETTINGS.max_examples // 2, served
