"""Health endpoints and start-up validation of settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.test import Client

PG = "postgresql://postgres@127.0.0.1:5432"


@pytest.mark.django_db
def test_healthz_and_readyz(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = {"database": "ok", **({"redis": "ok"} if settings.REDIS_URL else {})}
    assert ready.json() == {"status": "ok", "checks": checks}


def _start(
    env_overrides: dict[str, str], tmp_path: Path, then: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGISTRA_DATA_DIR": str(tmp_path), **env_overrides}
    for name in {"DATABASE_URL", "DATABASE_REPLICA_URL"} - set(env_overrides):
        env.pop(name, None)  # the suite's database is not what these tests start with
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'registra.settings'; "
        f"django.setup(); {then}"
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
            {"DATABASE_REPLICA_URL": f"{PG}/replica"},
            "DATABASE_REPLICA_URL needs a postgresql:// DATABASE_URL",
        ),
        (
            {"DATABASE_URL": f"{PG}/primary", "DATABASE_REPLICA_URL": "sqlite:///replica.db"},
            "DATABASE_REPLICA_URL must be a postgresql:// URL",
        ),
        (
            {"DATABASE_URL": f"{PG}/primary", "DATABASE_REPLICA_URL": "postgresql://h:port/x"},
            "DATABASE_REPLICA_URL is not a valid database URL",
        ),
        (
            {"DATABASE_URL": f"{PG}/primary", "DATABASE_REPLICA_URL": PG},
            "DATABASE_REPLICA_URL names no database",
        ),
        (
            {"DATABASE_URL": f"{PG}/primary", "REGISTRA_DB_POOL_TIMEOUT": "0"},
            "REGISTRA_DB_POOL_TIMEOUT must be at least 1",
        ),
    ],
)
def test_bad_settings_fail_at_start_naming_the_variable(overrides, message, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _start(overrides, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_the_replica_gets_the_primary_pool_options(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"{PG}/primary?sslmode=disable",
        "DATABASE_REPLICA_URL": f"{PG}/replica?sslmode=disable",
        "REGISTRA_DB_POOL_SIZE": "7",
        "REGISTRA_DB_POOL_TIMEOUT": "3",
    }
    show = (
        "import json; from django.conf import settings; "
        "print(json.dumps({a: [d['NAME'], d['OPTIONS']] "
        "for a, d in settings.DATABASES.items()}))"
    )
    result = _start(env, tmp_path, show)
    assert result.returncode == 0, result.stderr
    options = {"sslmode": "disable", "pool": {"min_size": 2, "max_size": 7, "timeout": 3}}
    assert orjson.loads(result.stdout) == {
        "default": ["primary", options],
        "replica": ["replica", options],
    }


def test_secret_key_is_created_once_and_reused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"REGISTRA_SECRET_KEY": ""}
    assert _start(env, tmp_path).returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert len(first) >= 40
    assert _start(env, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == first
