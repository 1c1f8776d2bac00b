"""The SDK when what it holds expires on the server: a server whose tokens live 2 s and whose
cursors live 2 s. A token the server expired (the client's own clock, held still, still thinks it
fresh) is granted anew once and the call succeeds; a token refused even then is an
``AuthenticationError``; a walk whose cursor expired mid-way, while assets were being added,
starts again and still returns every asset that existed when it began, exactly once.

The waits are for the server's own verdict (the old token or cursor refused), polled, never
slept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registra_client import AuthenticationError
from tests.client.sdk import (
    FLAVOURS,
    GENEROUS_GRANTS,
    Credentials,
    FakeClock,
    database_name,
    ids_in,
    sdk,
    service_account,
)
from tests.servers import Server, own_database, run_registra, serving, wait_until

SLUG = "skyline-mro"
TOKEN_TTL, CURSOR_TTL = 2, 2  # a cursor lives 1 to 2 s (issued in whole seconds)
ASSETS = "/api/v1/assets"
TOKEN = "/api/v1/auth/token"


@dataclass
class Expiring:
    server: Server
    env: dict[str, str]
    base: str
    reader: Credentials


@pytest.fixture(scope="module")
def expiring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Expiring]:
    data = tmp_path_factory.mktemp("sdk-expiry")
    settings = {
        "REGISTRA_TOKEN_TTL_SECONDS": str(TOKEN_TTL),
        "REGISTRA_CURSOR_TTL_SECONDS": str(CURSOR_TTL),
        **GENEROUS_GRANTS,
    }
    with own_database(data, database_name("expiry"), **settings) as env:
        run_registra(env, "demo-data", "--org", SLUG, "--assets", "300")
        reader = service_account(env, SLUG, "SDK reader", "assets:read")
        with serving(env, Path(data) / "server.log") as server:
            yield Expiring(server, env, f"http://127.0.0.1:{server.port}", reader)


def _some_asset(expiring: Expiring) -> str:
    return sorted(ids_in(expiring.env, "assets_asset", SLUG))[0]


def _wait_until_refused(server: Server, token: str, path: str) -> None:
    wait_until(
        lambda: server.call("GET", path, token=token).status == 401,
        "the server refusing the expired token",
        seconds=TOKEN_TTL + 10,
    )


@FLAVOURS
def test_a_token_the_server_expired_is_granted_anew_once_and_the_call_succeeds(
    flavour: str, expiring: Expiring
) -> None:
    asset_id = _some_asset(expiring)
    path = f"{ASSETS}/{asset_id}"
    clock = FakeClock()  # never advanced: to the client its token stays fresh
    with sdk(flavour, expiring.base, expiring.reader, clock=clock) as api:
        first = api.one(api.client.assets.get(asset_id))
        (grant,) = api.wire.grants()
        assert grant.body["expires_in"] == TOKEN_TTL
        _wait_until_refused(expiring.server, grant.body["access_token"], path)

        mark = len(api.wire.exchanges)
        again = api.one(api.client.assets.get(asset_id))

    assert again == first
    assert api.client.session.grants == 2
    assert [(e.method, e.path, e.status) for e in api.wire.since(mark)] == [
        ("GET", path, 401),
        ("POST", TOKEN, 200),
        ("GET", path, 200),
    ]
    old, new = (g.body["access_token"] for g in api.wire.grants())
    refused, accepted = api.wire.since(mark)[0], api.wire.since(mark)[2]
    assert (refused.authorization, accepted.authorization) == (f"Bearer {old}", f"Bearer {new}")
    assert api.sleeps == []  # a 401 is not a retry with backoff


@FLAVOURS
def test_a_token_refused_after_it_was_granted_anew_is_an_authentication_error(
    flavour: str, expiring: Expiring
) -> None:
    asset_id = _some_asset(expiring)
    client_id, secret = service_account(expiring.env, SLUG, f"Disabled {flavour}", "assets:read")
    with sdk(flavour, expiring.base, (client_id, secret), clock=FakeClock()) as api:
        api.one(api.client.assets.get(asset_id))
        run_registra(
            expiring.env, "service-account", "disable", "--org", SLUG, "--client-id", client_id
        )
        mark = len(api.wire.exchanges)
        with pytest.raises(AuthenticationError) as caught:
            api.one(api.client.assets.get(asset_id))

    assert (caught.value.status, caught.value.error) == (401, "unauthenticated")
    # The token died with its account; the one new grant is refused too, and that is the end.
    assert [(e.method, e.status) for e in api.wire.since(mark)] == [("GET", 401), ("POST", 401)]
    assert api.client.session.grants == 1


def _cursor_refused(expiring: Expiring, cursor: str) -> bool:
    token = expiring.server.token(*expiring.reader)  # a fresh one: tokens live 2 s here
    reply = expiring.server.call("GET", f"{ASSETS}?limit=50&cursor={cursor}", token=token)
    return reply.status == 400 and reply.json()["error"] == "invalid_cursor"


@FLAVOURS
def test_a_walk_whose_cursor_expired_starts_again_and_returns_every_asset_once(
    flavour: str, expiring: Expiring
) -> None:
    before = ids_in(expiring.env, "assets_asset", SLUG)
    with sdk(flavour, expiring.base, expiring.reader, page_size=50) as api:
        walk = api.client.assets.list()
        walked = api.take(walk, 150)  # exactly three pages
        pages = api.wire.gets(ASSETS)
        assert len(pages) == 3
        saved = pages[-1].next_cursor
        assert saved is not None

        # Meanwhile: ten more assets (demo-data appends the next numbers, with creation times
        # among the older ones), and the cursor the walk goes on with expires.
        more = str(len(before) + 10)
        run_registra(expiring.env, "demo-data", "--org", SLUG, "--assets", more)
        wait_until(lambda: _cursor_refused(expiring, saved), "the cursor expiring", seconds=10)

        walked += api.all(walk)

    after = ids_in(expiring.env, "assets_asset", SLUG)
    assert len(after - before) == 10
    ids = [a.id for a in walked]
    assert len(ids) == len(set(ids)), "an asset came twice"
    assert before <= set(ids), "an asset that existed when the walk began is missing"
    assert set(ids) <= after

    # The walk did go on with the expired cursor, was refused, and started again from the top.
    gets = api.wire.gets(ASSETS)
    first_refusal = next(i for i, e in enumerate(gets) if e.status == 400)
    assert gets[first_refusal].cursor == saved
    assert gets[first_refusal].body["error"] == "invalid_cursor"
    assert gets[first_refusal + 1].cursor is None
    assert all(e.status in (200, 400, 401) for e in gets)
