"""A real ``registra serve`` on a throwaway PostgreSQL (``tests/pgcluster.py``) that is restarted
under it: every connection in the server's pool is cut. Once the database is back, the next
request is answered, not refused with a 503 for each dead connection still pooled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pgcluster, replica_actions
from tests.servers import own_env, serving

_why_not = pgcluster.unavailable()
pytestmark = pytest.mark.skipif(_why_not is not None, reason=f"restart tests: {_why_not}")


def test_the_first_requests_after_a_database_restart_are_answered(tmp_path: Path) -> None:
    with pgcluster.Clusters(replica=False) as clusters:
        database = clusters.primary
        database.sql("CREATE DATABASE registra")
        env = own_env(
            tmp_path,
            secret_key="restart-tests-only",
            DATABASE_URL=database.url("registra"),
        )
        # The schema, an organization with a service account and one asset (as test_replica's).
        data = replica_actions.run(env, "setup")
        log = tmp_path / "server.log"
        with serving(env, log) as server:
            token = server.token(*data["reader"])
            for _ in range(4):  # the pool's connections opened and used
                assert server.call("GET", "/api/v1/assets", token=token).status == 200
            before = database.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'registra'"
            )
            assert before >= 2, "the server keeps connections in its pool"

            database.restart()
            # Each pooled connection is now dead. The pool checks the one a request takes and
            # replaces it (psycopg's pool waits 1 s, then 2 s... between checks that fail), so
            # every request is answered, the first after a short wait, and none is a 503.

            after = [
                server.call("GET", "/api/v1/assets", token=token).status for _ in range(2 * before)
            ]
            assert after == [200] * len(after), log.read_text()
            assert server.call("GET", "/readyz").status == 200
            listed = server.call("GET", "/api/v1/assets", token=token).json()["assets"]
            assert [asset["id"] for asset in listed] == [data["asset"]]
        assert "Traceback" not in log.read_text(), log.read_text()
