"""Health endpoints and start-up validation of settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_and_readyz(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


def _start(env_overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGISTRA_DATA_DIR": str(tmp_path), **env_overrides}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'registra.settings'; "
        "django.setup()"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"DATABASE_URL": "mysql://root@localhost/x"},
            "DATABASE_URL must be a sqlite:// or postgresql://",
        ),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must start with redis://"),
        (
            {"REGISTRA_RATE_LIMIT_TOKEN_READS": "lots"},
            "REGISTRA_RATE_LIMIT_TOKEN_READS must be an integer",
        ),
        ({"REGISTRA_DEBUG": "maybe"}, "REGISTRA_DEBUG must be true or false"),
        (
            {"REGISTRA_CREDENTIAL_KEY": "short"},
            "REGISTRA_CREDENTIAL_KEY must be at least 32 characters",
        ),
    ],
)
def test_bad_settings_fail_at_start_naming_the_variable(overrides, message, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _start(overrides, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_secret_key_is_created_once_and_reused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"REGISTRA_SECRET_KEY": ""}
    assert _start(env, tmp_path).returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert len(first) >= 40
    assert _start(env, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == first
