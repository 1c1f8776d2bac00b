"""Fixtures shared by every test; the cast itself is built in ``tests/cast.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings
from django_redis.cache import RedisCache

from tests.cast import Cast, build_cast


def pytest_configure(config: pytest.Config) -> None:
    # The suite's tests share one test database inside transactions; reads on a second alias
    # would neither see their rows nor be allowed. tests/test_replica.py starts its own replica.
    if os.environ.get("DATABASE_REPLICA_URL"):
        raise pytest.UsageError(
            "unset DATABASE_REPLICA_URL to run the tests: tests/test_replica.py starts its own"
            " primary and replica"
        )


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate-limit counters live in the cache; each test starts with fresh buckets. On Redis only
    # this suite's keys go (its KEY_PREFIX): cache.clear() would flush the whole database, and
    # with it the counters of any server or suite sharing it.
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    backend.delete_pattern("*")  # "<KEY_PREFIX>:<version>:*"


@pytest.fixture(autouse=True)
def _fast_password_hashes() -> Iterator[None]:
    # Member passwords are PBKDF2 hashes in production (about 0.3 s each); a fast hasher first
    # keeps that out of every test's cast. PBKDF2 stays listed, so legacy client-secret hashes
    # (PBKDF2 before decision 0004) verify as in production.
    hashers = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    with override_settings(PASSWORD_HASHERS=hashers):
        yield


@pytest.fixture
def cast(db: None) -> Cast:
    return build_cast()


@pytest.fixture(autouse=True)
def evidence_dir(tmp_path: Path) -> Iterator[Path]:
    """The file storage (evidence files, uploads waiting for the import worker) in the test's
    own folder, never the checkout's ``var/``."""
    location = tmp_path / "evidence"
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, MEDIA_ROOT=location):
        yield location
