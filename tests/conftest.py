"""Fixtures shared by every test; the cast itself is built in ``tests/cast.py``."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.cast import Cast, build_cast


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate-limit counters live in the cache; each test starts with fresh buckets.
    cache.clear()


@pytest.fixture
def cast(db: None) -> Cast:
    return build_cast()
