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
    env_overrides: dict[str, str | None], tmp_path: Path, then: str = ""
) -> subprocess.CompletedProcess[str]:
    # An override of None removes the variable. The suite's database is not what these tests
    # start with, unless they name one.
    merged = {**os.environ, "REGISTRA_DATA_DIR": str(tmp_path), **env_overrides}
    for name in {"DATABASE_URL", "DATABASE_REPLICA_URL"} - set(env_overrides):
        merged.pop(name, None)
    env = {name: value for name, value in merged.items() if value is not None}
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
        ({"REGISTRA_AUDIT_KEY": ""}, "REGISTRA_AUDIT_KEY is set but empty"),
        ({"REGISTRA_AUDIT_KEY": "   "}, "REGISTRA_AUDIT_KEY is set but empty"),
        (
            {"REGISTRA_AUDIT_KEY": "too-short-a-key"},
            "the audit key (REGISTRA_AUDIT_KEY) must be at least 32 characters",
        ),
        (
            {"REGISTRA_AUDIT_KEY": "k" * 40, "REGISTRA_SECRET_KEY": "k" * 40},
            "REGISTRA_AUDIT_KEY must differ from REGISTRA_SECRET_KEY",
        ),
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


def test_audit_key_is_created_once_apart_from_the_secret_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env: dict[str, str | None] = {"REGISTRA_AUDIT_KEY": None}
    assert _start(env, tmp_path).returncode == 0
    key_file = tmp_path / "audit_key"
    first = key_file.read_text()
    assert len(first) >= 40 and first != (tmp_path / "secret_key").read_text()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert _start(env, tmp_path).returncode == 0
    assert key_file.read_text() == first


def test_an_empty_or_short_audit_key_file_fails_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env: dict[str, str | None] = {"REGISTRA_AUDIT_KEY": None}
    (tmp_path / "audit_key").write_text("")
    result = _start(env, tmp_path)
    assert result.returncode != 0
    assert (
        f"{tmp_path / 'audit_key'} is empty; delete it or set REGISTRA_AUDIT_KEY" in result.stderr
    )
    (tmp_path / "audit_key").write_text("short")
    result = _start(env, tmp_path)
    assert result.returncode != 0
    assert f"the audit key ({tmp_path / 'audit_key'}) must be at least 32" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "warned"),
    [
        ({"REGISTRA_AUDIT_KEY": None, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, True),
        ({"REGISTRA_AUDIT_KEY": "k" * 40, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, False),
        ({"REGISTRA_AUDIT_KEY": None, "DATABASE_URL": None}, False),
    ],
    ids=["postgresql-generated-key", "postgresql-set-key", "sqlite-generated-key"],
)
def test_a_host_local_audit_key_with_postgresql_is_a_start_up_warning(
    overrides: dict[str, str | None], warned: bool, tmp_path: Path
) -> None:
    result = _start(overrides, tmp_path)
    assert result.returncode == 0, result.stderr
    message = f"audit chains are sealed with the key generated into {tmp_path / 'audit_key'}"
    assert (message in result.stderr) is warned
    assert ('"level":"WARNING"' in result.stderr) is warned
