"""Running the real production server (``registra serve``) from a test: the command, a free
loopback port, and stopping it with every worker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registra(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("registra")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "registra.cli", *args]


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL for whatever is left in its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # any worker left behind in its group


def prepare_sqlite(env: dict[str, str], *, slug: str, scopes: str) -> tuple[str, str]:
    """Migrate the SQLite database of ``env``, create an organization and a service account
    through the command line; the account's client id and secret."""

    def run(*args: str) -> str:
        done = subprocess.run(
            registra(*args), env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate")
    run("org", "create", "--slug", slug, "--name", slug.capitalize())
    account = ["service-account", "create", "--org", slug, "--name", "Reader"]
    creds = json.loads(run(*account, "--scopes", scopes, "--json"))
    return creds["clientId"], creds["clientSecret"]
