"""``registra serve`` writes nothing but JSON log lines on stderr: Granian's own messages too, not
only Django's and Registra's, and a worker that dies is replaced.

Starts the real server (two workers) on a free loopback port with its own SQLite folder, sends
it a malformed request (Granian answers 400 itself) and a request for a missing page (Django
logs one), kills one worker process (Granian logs the death and starts another), stops it, and
reads back everything it wrote to stderr."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.servers import free_port, registra, stop, wait_until

START_TIMEOUT = 60.0


def _get(port: int, path: str) -> http.client.HTTPResponse | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response
    except OSError:
        return None  # not listening yet
    finally:
        conn.close()


def _wait_for_healthz(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"registra serve exited with {process.returncode}"
        reply = _get(port, "/healthz")
        if reply is not None and reply.status == 200:
            return
        time.sleep(0.1)
    raise AssertionError("registra serve did not answer /healthz")


def _children(pid: int) -> list[int]:
    """The server's worker processes (its direct children)."""
    raw = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in raw.split()]


def test_every_server_log_line_is_a_json_object(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "REGISTRA_LOG_LEVEL"}
    }
    env["REGISTRA_DATA_DIR"] = str(tmp_path)
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            registra("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group: the workers go down with it
        )
        try:
            _wait_for_healthz(process, port)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                assert raw.recv(4096).startswith(b"HTTP/1.1 400")
            reply = _get(port, "/no-such-page")
            assert reply is not None and reply.status == 404
            workers = _children(process.pid)
            assert len(workers) == 2, workers
            os.kill(workers[0], signal.SIGKILL)
            wait_until(lambda: workers[0] not in _children(process.pid), "the killed worker gone")
            wait_until(lambda: len(_children(process.pid)) == 2, "a new worker started")
            _wait_for_healthz(process, port)
        finally:
            stop(process)
    lines = stderr_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]  # fails on any text line
    assert all(
        isinstance(r, dict) and {"time", "level", "logger", "message"} <= r.keys() for r in records
    )
    assert any(
        r["logger"] == "_granian" and r["level"] == "ERROR" and "exit from worker" in r["message"]
        for r in records
    ), lines
    assert any(
        r["logger"] == "django.request" and r["status_code"] == 404 and r["path"] == "/no-such-page"
        for r in records
    ), lines
