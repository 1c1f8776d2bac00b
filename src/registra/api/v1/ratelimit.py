"""Fixed-window rate limits in the shared cache (Redis in production), so every server process
counts against the same buckets: per token 600 reads/min, per organization 3000 requests/min."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Bucket:
    """The state of one bucket after this request was counted."""

    name: str  # "token-read" | "org"
    limit: int
    count: int
    reset: int  # unix seconds when the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def _hit(name: str, key: str, limit: int, window: int, now: float) -> Bucket:
    start = int(now) // window * window
    cache_key = f"rl:{key}:{start}"
    cache.add(cache_key, 0, timeout=window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # the key expired between add and incr
        cache.add(cache_key, 1, timeout=window + 5)
        count = 1
    return Bucket(name=name, limit=limit, count=count, reset=start + window)


def count_request(*, token_key: str, organization_id: str | None, is_read: bool) -> list[Bucket]:
    """Count one request against its buckets; returns them (token bucket first)."""
    window = settings.REGISTRA_RATE_LIMIT_WINDOW_SECONDS
    now = time.time()
    token_limit = settings.REGISTRA_RATE_LIMIT_TOKEN_READS
    buckets = []
    if is_read:
        buckets.append(_hit("token-read", f"t:{token_key}", token_limit, window, now))
    if organization_id is not None:
        org_limit = settings.REGISTRA_RATE_LIMIT_ORG_REQUESTS
        buckets.append(_hit("org", f"o:{organization_id}", org_limit, window, now))
    return buckets


def nearest_exhaustion(buckets: list[Bucket]) -> Bucket:
    """The bucket with the fewest requests left (an exceeded one first)."""
    return min(buckets, key=lambda b: (not b.exceeded, b.remaining))
