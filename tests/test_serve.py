"""``registra serve`` in front of Django (decision 0008): the client address comes from
``X-Forwarded-For`` only when the peer is a trusted proxy (``REGISTRA_FORWARDED_ALLOW_IPS``).
The address is what rate limits and the refused-grant log line and audit event name."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.servers import own_env, registra, send, serving

FORWARDED = "203.0.113.9"


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = own_env(tmp_path, secret_key="serve-tests-only", **overrides)
    done = subprocess.run(
        registra("migrate"), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return env


def _refused_grant_address(env: dict[str, str], log: Path) -> str:
    """Ask for a token with an unknown client id, saying the client is ``FORWARDED``; the
    address the server's log line names."""
    with serving(env, log) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            body = {"grant_type": "client_credentials", "client_id": "svc_x", "client_secret": "x"}
            headers = {"X-Forwarded-For": FORWARDED, "X-Forwarded-Proto": "https"}
            response = send(conn, "POST", "/api/v1/auth/token", body=body, headers=headers)
            assert response.status == 401, response.read()
        finally:
            conn.close()
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    refused = [r["message"] for r in records if "token grant refused" in r["message"]]
    assert len(refused) == 1, records
    return str(refused[0].rsplit(" from ", 1)[1])


@pytest.mark.parametrize(
    ("allowed", "address"),
    [("127.0.0.1", FORWARDED), ("192.0.2.1", "127.0.0.1")],
    ids=["peer-trusted", "peer-not-trusted"],
)
def test_forwarded_for_is_believed_only_from_a_trusted_peer(
    tmp_path: Path, allowed: str, address: str
) -> None:
    env = _env(tmp_path, REGISTRA_FORWARDED_ALLOW_IPS=allowed)
    assert _refused_grant_address(env, tmp_path / "server.log") == address


def test_a_worker_that_does_not_stop_is_killed_and_the_server_exits(tmp_path: Path) -> None:
    env = _env(tmp_path, REGISTRA_SERVE_STOP_SECONDS="2")
    with serving(env, tmp_path / "server.log") as server:
        pid = server.process.pid
        workers = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        assert len(workers) == 1, workers
        # A worker that cannot act on its stop signal (as one that missed it would not).
        os.kill(workers[0], signal.SIGSTOP)
        server.process.send_signal(signal.SIGTERM)
        # Granian waits REGISTRA_SERVE_STOP_SECONDS for the worker, kills it, then exits; without
        # that bound it waited for ever.
        assert server.process.wait(timeout=60) == 0
        assert not Path(f"/proc/{workers[0]}").exists() or _zombie(workers[0])
    assert "Killing worker-1 after it refused to gracefully stop" in server.log_text()


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
