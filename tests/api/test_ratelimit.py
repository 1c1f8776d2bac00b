"""Rate limits (SPEC section 4): 600 reads/min per token, 3000 requests/min per organization
across its tokens, ``X-RateLimit-*`` on every response, 429 ``rate_limited`` with
``Retry-After``. Window roll-overs are handled by ``until_limited`` (no frozen time, no sleeps)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, override_settings

from registra.assets.models import Asset
from tests.api.conftest import WINDOW, Api, assert_counted_down, until_limited
from tests.cast import Cast, make_asset


def test_601st_read_in_a_minute_is_429(
    api: Api, cast: Cast, reader_token: str, django_assert_max_num_queries: Any
) -> None:
    asset = make_asset(cast.org, "tw-1")
    paths = ["/assets", f"/assets/{asset.id}", "/assets/nope", "/assets/custody-assignments"]
    responses = until_limited(lambda n: api.get(paths[n % 4], reader_token, limit=1), 600)
    assert_counted_down(responses, 600, "token-read")
    # Refused requests stay refused, and do no work beyond finding the token.
    with django_assert_max_num_queries(1):
        again = api.get("/assets", reader_token)
    assert again.status_code == 429
    # Another token of the same account, and other organizations, have their own buckets.
    api.ok("/assets", api.token(cast.reader))
    api.ok("/assets", api.token(cast.other_reader))
    assert Asset.objects.count() == 1


def test_limits_are_settings(api: Api, cast: Cast, reader_token: str) -> None:
    with override_settings(REGISTRA_RATE_LIMIT_TOKEN_READS=5):
        responses = until_limited(lambda n: api.get("/assets", reader_token), 5)
    assert_counted_down(responses, 5, "token-read")


@override_settings(REGISTRA_RATE_LIMIT_ORG_REQUESTS=12)
def test_org_bucket_trips_across_tokens(api: Api, cast: Cast) -> None:
    tokens = [api.token(cast.reader), api.token(cast.reader), api.token(cast.org_reader)]
    paths = ["/assets", "/assets/readiness-assessments", "/organization"]
    responses = until_limited(lambda n: api.get(paths[n % 3], tokens[n % 3]), 12)
    assert_counted_down(responses, 12, "org")
    # Every token of the organization is now refused, whatever it asks...
    for token in tokens:
        refused = api.get("/assets/custody-assignments", token)
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Bucket"] == "org"
    # ...while the other organization is untouched.
    other = api.get("/assets", api.token(cast.other_reader))
    assert other.status_code == 200
    assert other.headers["X-RateLimit-Bucket"] == "org"
    assert int(other.headers["X-RateLimit-Remaining"]) == 11


@override_settings(REGISTRA_RATE_LIMIT_ORG_REQUESTS=6)
def test_writes_count_against_the_org_bucket(api: Api, cast: Cast, reader_token: str) -> None:
    def send(n: int) -> Any:
        return api.call("POST" if n % 2 else "DELETE", "/assets", token=reader_token)

    responses = until_limited(send, 6)
    assert_counted_down(responses, 6, "org")
    assert {r.status_code for r in responses[:-1]} == {405}


def test_bucket_header_names_the_bucket_nearer_exhaustion(
    api: Api, cast: Cast, reader_token: str
) -> None:
    with override_settings(
        REGISTRA_RATE_LIMIT_TOKEN_READS=100, REGISTRA_RATE_LIMIT_ORG_REQUESTS=50
    ):
        response = api.get("/assets", reader_token)
        assert response.headers["X-RateLimit-Bucket"] == "org"
        assert response.headers["X-RateLimit-Limit"] == "50"
    with override_settings(REGISTRA_RATE_LIMIT_TOKEN_READS=10, REGISTRA_RATE_LIMIT_ORG_REQUESTS=50):
        response = api.get("/assets", reader_token)
        assert response.headers["X-RateLimit-Bucket"] == "token-read"
        assert response.headers["X-RateLimit-Limit"] == "10"


@pytest.mark.parametrize(
    ("method", "path", "use_token", "status"),
    [
        ("GET", "/assets", True, 200),
        ("GET", "/assets?limit=0", True, 400),
        ("GET", "/assets?cursor=x", True, 400),
        ("GET", "/assets", False, 401),
        ("GET", "/organization", True, 403),
        ("GET", "/assets/asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA", True, 404),
        ("GET", "/nowhere", True, 404),
        ("POST", "/assets", True, 405),
        ("DELETE", "/assets/custody-assignments", True, 405),
        ("GET", "/auth/token", False, 405),
        ("POST", "/auth/token", False, 400),
        ("GET", "/openapi.json", False, 200),
    ],
)
def test_rate_limit_headers_on_every_response(
    api: Api,
    reader_token: str,
    method: str,
    path: str,
    use_token: bool,
    status: int,
) -> None:
    url, _, query = path.partition("?")
    params = dict([query.split("=")]) if query else None
    token = reader_token if use_token else None
    response = api.call(method, url, token=token, params=params)
    assert response.status_code == status
    limit = int(response.headers["X-RateLimit-Limit"])
    remaining = int(response.headers["X-RateLimit-Remaining"])
    reset = int(response.headers["X-RateLimit-Reset"])
    assert 0 <= remaining < limit
    assert reset % WINDOW == 0 and time.time() - 1 <= reset <= time.time() + WINDOW + 1
    # The token endpoint counts against its own buckets only, per address before the body.
    own = {"grant-address"} if url == "/auth/token" else {"token-read", "org"}
    assert response.headers["X-RateLimit-Bucket"] in own
    assert response.headers["X-Request-Id"].startswith("req_")


@override_settings(REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT=4)
def test_token_grants_are_limited_per_client_id(api: Api, cast: Cast) -> None:
    responses = until_limited(lambda n: api.grant(cast.reader), 4)
    assert_counted_down(responses, 4, "grant-client")
    # Wrong secrets count too: guessing one client's secret is slow.
    wrong = api.grant(type(cast.reader)(cast.reader.account, "not-the-secret"))
    assert wrong.status_code == 429
    # Another client from the same address still gets its tokens.
    assert api.grant(cast.org_reader).status_code == 200


@override_settings(REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS=3)
def test_token_grants_are_limited_per_client_address(api: Api, cast: Cast) -> None:
    clients = [cast.reader, cast.org_reader, cast.other_reader]
    responses = until_limited(lambda n: api.grant(clients[n % 3]), 3)
    assert_counted_down(responses, 3, "grant-address")
    # From another address the same clients get tokens.
    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    other = Api(elsewhere, api.contract)
    assert other.grant(cast.reader).status_code == 200


@override_settings(REGISTRA_RATE_LIMIT_TOKEN_READS=5)
def test_token_grants_are_not_the_addresses_reads(api: Api, cast: Cast, reader_token: str) -> None:
    # Requests without a valid token (an expired one, say) use up the address's read bucket...
    responses = until_limited(lambda n: api.get("/assets", "expired-or-unknown-token"), 5)
    assert_counted_down(responses, 5, "token-read")
    assert {r.status_code for r in responses[:-1]} == {401}
    # ...and the client still gets a new token from that address, counted only by the token
    # endpoint's own buckets, and reads with it.
    granted = api.grant(cast.reader)
    assert granted.status_code == 200, granted.content
    assert granted.headers["X-RateLimit-Bucket"] in {"grant-client", "grant-address"}
    api.ok("/assets", granted.json()["access_token"])
    # The read bucket is untouched by the grant: it still refuses tokenless reads.
    refused = api.get("/assets", "expired-or-unknown-token")
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Bucket"] == "token-read"


@override_settings(REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS=3)
def test_the_token_endpoint_counts_bad_requests_per_address(api: Api, cast: Cast) -> None:
    # A body that names no client is still counted, against the address's grant bucket.
    responses = until_limited(lambda n: api.call("POST", "/auth/token", data={}), 3)
    assert_counted_down(responses, 3, "grant-address")
    assert {r.status_code for r in responses[:-1]} == {400}
    assert api.grant(cast.reader).status_code == 429
