"""The SDK and a real 429: a server allowing 3 reads a minute per token. The client waits exactly
the server's ``Retry-After`` between tries (the waits are recorded, not slept), sends at most
``attempts`` requests, and ends with ``RateLimitedError`` carrying ``retry_after``; a
``Retry-After`` longer than ``max_retry_after`` is not waited for at all.

The server's windows are whole wall-clock minutes, so its ``Retry-After`` is 1 to 60 s: a retry
that succeeds would need the real window to pass, which these tests do not wait for. A test starts
at least a few seconds before a window ends, so its reads all fall in one window.

Every test calls from a loopback address of its own: a token grant counts against its caller
address's bucket of anonymous reads, whose limit is this same setting (3), and each test grants a
token."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registra_client import RateLimitedError, RetryPolicy
from tests.client.sdk import (
    FLAVOURS,
    GENEROUS_GRANTS,
    REQUEST_ID,
    Credentials,
    Exchange,
    Sdk,
    database_name,
    ids_in,
    sdk,
    service_account,
)
from tests.servers import own_database, run_registra, serving, wait_until

SLUG = "skyline-mro"
READS = 3
_addresses = (f"127.0.0.{n}" for n in itertools.count(2))


@dataclass
class Limited:
    base: str
    reader: Credentials
    asset_id: str


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    data = tmp_path_factory.mktemp("sdk-rate-limits")
    settings = {"REGISTRA_RATE_LIMIT_TOKEN_READS": str(READS), **GENEROUS_GRANTS}
    with own_database(data, database_name("rate_limits"), **settings) as env:
        run_registra(env, "demo-data", "--org", SLUG, "--assets", "5")
        reader = service_account(env, SLUG, "SDK reader", "assets:read")
        asset_id = sorted(ids_in(env, "assets_asset", SLUG))[0]
        with serving(env, Path(data) / "server.log") as server:
            yield Limited(f"http://127.0.0.1:{server.port}", reader, asset_id)


def _well_inside_a_window() -> None:
    wait_until(lambda: time.time() % 60 < 55, "a rate-limit window with 5 s left", seconds=10)


def _spend_the_reads(api: Sdk, limited: Limited) -> None:
    for _ in range(READS):
        api.one(api.client.assets.get(limited.asset_id))


def _is_rate_limited(exchange: Exchange) -> bool:
    return (
        exchange.status == 429
        and exchange.body["error"] == "rate_limited"
        and exchange.headers["x-ratelimit-bucket"] == "token-read"
        and exchange.headers["x-ratelimit-remaining"] == "0"
    )


@FLAVOURS
def test_a_429_is_tried_again_after_exactly_its_retry_after_at_most_attempts_times(
    flavour: str, limited: Limited
) -> None:
    policy = RetryPolicy()  # SPEC: at most 5 attempts
    _well_inside_a_window()
    with sdk(flavour, limited.base, limited.reader, local=next(_addresses), retry=policy) as api:
        _spend_the_reads(api, limited)
        assert [e.headers["x-ratelimit-remaining"] for e in api.wire.gets()] == ["2", "1", "0"]
        mark = len(api.wire.exchanges)
        with pytest.raises(RateLimitedError) as caught:
            api.one(api.client.assets.get(limited.asset_id))

    tries = api.wire.since(mark)
    assert len(tries) == policy.attempts == 5
    assert all(e.method == "GET" and _is_rate_limited(e) for e in tries)
    asked = [float(e.headers["retry-after"]) for e in tries]
    assert all(1 <= seconds <= 60 for seconds in asked)
    assert api.sleeps == asked[:-1]  # each wait is the Retry-After of the answer before it
    error = caught.value
    assert (error.status, error.error, error.retry_after) == (429, "rate_limited", asked[-1])
    assert error.request_id == tries[-1].headers["x-request-id"]
    assert REQUEST_ID.match(error.request_id)
    assert api.client.session.grants == 1  # a 429 is not a reason for a new token


@FLAVOURS
def test_a_retry_after_longer_than_max_retry_after_is_not_waited_for(
    flavour: str, limited: Limited
) -> None:
    policy = RetryPolicy(max_retry_after=0.5)  # the server asks for 1 s at least
    _well_inside_a_window()
    with sdk(flavour, limited.base, limited.reader, local=next(_addresses), retry=policy) as api:
        _spend_the_reads(api, limited)
        mark = len(api.wire.exchanges)
        with pytest.raises(RateLimitedError) as caught:
            api.one(api.client.assets.get(limited.asset_id))

    (refused,) = api.wire.since(mark)
    assert _is_rate_limited(refused)
    assert api.sleeps == []
    assert caught.value.retry_after == float(refused.headers["retry-after"]) >= 1
    assert caught.value.status == 429
