"""``DATABASE_REPLICA_URL`` against a real streaming replica: API v1's data reads come from the
replica; the token grant, the token lookup and every write use the primary.

The module starts its own primary and ``pg_basebackup -R`` replica in temporary folders
(``tests/pgcluster.py``), a real ``registra serve`` on them, and pauses WAL replay on the replica
to make it lag on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registra.assets.models import Asset
from registra.organizations.models import Organization
from tests import pgcluster, replica_actions
from tests.servers import Server, serving, wait_until

_why_not = pgcluster.unavailable()
pytestmark = pytest.mark.skipif(_why_not is not None, reason=f"replica tests: {_why_not}")

DATABASE = "registra"


@dataclass
class Deployment:
    clusters: pgcluster.Clusters
    env: dict[str, str]
    data: dict[str, Any]

    def act(self, *args: str) -> dict[str, Any]:
        """Writes through the services, in their own process on the primary."""
        return replica_actions.run(self.env, *args)

    def on_primary(self, query: str, *params: Any) -> Any:
        return self.clusters.primary.sql(query, params, DATABASE)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with pgcluster.Clusters() as clusters:
        clusters.primary.sql(f"CREATE DATABASE {DATABASE}")
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"REDIS_URL", "DATABASE_URL"}  # the suite's, not this deployment's
        }
        env.update(
            DATABASE_URL=clusters.primary.url(DATABASE),
            DATABASE_REPLICA_URL=clusters.replica.url(DATABASE),
            REGISTRA_DATA_DIR=str(tmp_path_factory.mktemp("replica-data")),
            REGISTRA_SECRET_KEY="replica-tests-only",
            REGISTRA_DB_POOL_TIMEOUT="2",
        )
        deployment = Deployment(clusters, env, {})
        deployment.data = deployment.act("setup")
        clusters.catch_up()
        yield deployment


@pytest.fixture(scope="module")
def server(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("replica-server") / "server.log"
    with serving(deployment.env, log) as server:
        yield server
    assert "Traceback" not in log.read_text(), log.read_text()


def _asset_ids(server: Server, token: str) -> list[str]:
    reply = server.call("GET", "/api/v1/assets", token=token)
    assert reply.status == 200, reply.body
    return [asset["id"] for asset in reply.json()["assets"]]


def _organization_name(server: Server, token: str) -> str:
    reply = server.call("GET", "/api/v1/organization", token=token)
    assert reply.status == 200, reply.body
    return str(reply.json()["organization"]["name"])


def test_reads_lag_with_the_replica_while_tokens_follow_the_primary(
    deployment: Deployment, server: Server
) -> None:
    data, clusters = deployment.data, deployment.clusters
    reader, doomed = server.token(*data["reader"]), server.token(*data["doomed"])
    assert _asset_ids(server, reader) == [data["asset"]]
    assert _asset_ids(server, doomed) == [data["asset"]]  # a live token, until its account dies

    clusters.pause_replay()
    try:
        written = deployment.act("after-pause", data["org"], data["doomed"][0])
        new_asset = written["asset"]
        # No service renames an organization; a plain UPDATE shows which database answers.
        deployment.on_primary(
            f"UPDATE {Organization._meta.db_table} SET name = 'Renamed' WHERE id = %s", data["org"]
        )
        assert deployment.on_primary(
            f"SELECT count(*) FROM {Asset._meta.db_table} WHERE id = %s", new_asset
        ), "the service wrote the asset on the primary"

        # The data reads come from the lagging replica: the list, one asset, the organization.
        assert _asset_ids(server, reader) == [data["asset"]]
        assert server.call("GET", f"/api/v1/assets/{new_asset}", token=reader).status == 404
        assert _organization_name(server, reader) == "Replica test"

        # The token lookup reads the primary: the disabled account's token dies at once, and a
        # token granted now (a row the replica has not replayed) works at once.
        refused = server.call("GET", "/api/v1/assets", token=doomed)
        assert refused.status == 401, refused.body
        assert refused.json()["error"] == "unauthenticated"
        fresh = server.token(*data["reader"])
        assert _asset_ids(server, fresh) == [data["asset"]]
        assert _organization_name(server, fresh) == "Replica test"
    finally:
        clusters.resume_replay()
    clusters.catch_up()

    assert _asset_ids(server, reader) == [new_asset, data["asset"]]
    one = server.call("GET", f"/api/v1/assets/{new_asset}", token=fresh)
    assert one.status == 200 and one.json()["asset"]["assetKey"] == "after-pause"
    # Seen flaky once in three runs right after catch_up (a pooled replica connection read the
    # old row); the name must still turn up within seconds, never stay stale.
    wait_until(lambda: _organization_name(server, reader) == "Renamed", "the rename replayed", 10)
    assert server.call("GET", "/api/v1/assets", token=doomed).status == 401


def test_readyz_checks_the_primary_and_the_replica(server: Server) -> None:
    reply = server.call("GET", "/readyz")
    assert reply.status == 200, reply.body
    assert reply.json() == {"status": "ok", "checks": {"database": "ok", "replica": "ok"}}


def test_an_unreachable_replica_fails_readyz_and_the_data_reads_not_the_grant(
    deployment: Deployment, tmp_path: Path
) -> None:
    env = {**deployment.env, "REGISTRA_DB_POOL_TIMEOUT": "1"}
    env["DATABASE_REPLICA_URL"] = f"postgresql://postgres@127.0.0.1:{pgcluster.free_port()}/x"
    with serving(env, tmp_path / "server.log") as server:
        reply = server.call("GET", "/readyz")
        assert reply.status == 503, reply.body
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "replica": "unreachable"},
            "failed": ["replica"],
        }
        # The grant reads and writes the primary only; the data reads fail, as JSON, with no
        # fallback to the primary.
        token = server.token(*deployment.data["reader"])
        for path in ("/api/v1/assets", f"/api/v1/assets/{deployment.data['asset']}"):
            failed = server.call("GET", path, token=token)
            assert failed.status in {500, 503}, failed.body
            assert failed.headers["Content-Type"] == "application/json", failed.body
            assert failed.json()["error"] in {"internal", "unavailable"}
