"""Fixed-window rate limits in the shared cache (Redis in production), so every server process
counts against the same buckets: per token 600 reads/min, per organization 3000 requests/min,
and for the token endpoint, which counts against nothing else, its own: requests per address
(30/min) and grants per client id (10/min)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache


@dataclass(frozen=True)
class Bucket:
    """The state of one bucket after this request was counted."""

    name: str  # "token-read" | "org" | "grant-client" | "grant-address"
    limit: int
    count: int
    reset: int  # unix seconds when the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def _incr(cache_key: str, timeout: int) -> int:
    cache.add(cache_key, 0, timeout=timeout)
    try:
        return cache.incr(cache_key)
    except ValueError:  # the key expired between add and incr
        cache.add(cache_key, 1, timeout=timeout)
        return 1


# Per counter: create it at 0 with the window's timeout unless it exists, then add one.
_COUNT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'NX', 'EX', ARGV[1])
  counts[i] = redis.call('INCR', key)
end
return counts
"""
_scripts: dict[Any, Any] = {}  # connection pool -> registered script


def _incr_all(cache_keys: list[str], timeout: int) -> list[int]:
    """Add one to each counter, creating it at 0 with ``timeout`` first.

    On Redis this is one round trip for all counters: a Lua script (``SET NX EX`` then
    ``INCR`` per key) run with ``EVALSHA``, registered once per connection pool. Through the
    cache API it would be three round trips per counter (``add``, and ``incr``'s ``EXISTS`` +
    ``INCR``), and a new redis-py client per request. Same keys and values, so ``cache.get``
    still reads them.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return [_incr(k, timeout) for k in cache_keys]
    names = [backend.make_and_validate_key(k) for k in cache_keys]
    client = get_redis_connection("default")  # on django-redis's one pool of the process
    script = _scripts.get(client.connection_pool)
    if script is None:
        script = _scripts[client.connection_pool] = client.register_script(_COUNT_SCRIPT)
    return [int(n) for n in script(keys=names, args=[timeout])]


def count_request(*, token_key: str, organization_id: str | None, is_read: bool) -> list[Bucket]:
    """Count one request against its buckets; returns them (token bucket first)."""
    # (bucket name, counter key, limit)
    hits = []
    if is_read:
        hits.append(("token-read", f"t:{token_key}", settings.REGISTRA_RATE_LIMIT_TOKEN_READS))
    if organization_id is not None:
        hits.append(("org", f"o:{organization_id}", settings.REGISTRA_RATE_LIMIT_ORG_REQUESTS))
    return _count(hits)


def count_grant_address(address: str) -> list[Bucket]:
    """Count one request to the token endpoint against its bucket per client address (every
    request there, even one whose body names no client)."""
    limit = settings.REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS
    return _count([("grant-address", f"ga:{address}", limit)])


def count_grant_client(client_id: str) -> list[Bucket]:
    """Count one token grant against the token endpoint's bucket per client id."""
    # Hashed: a client id is caller input, a cache key must stay short and plain.
    limit = settings.REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT
    return _count([("grant-client", f"gc:{_digest(client_id)}", limit)])


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _count(hits: list[tuple[str, str, int]]) -> list[Bucket]:
    window = settings.REGISTRA_RATE_LIMIT_WINDOW_SECONDS
    start = int(time.time()) // window * window
    counts = _incr_all([f"rl:{key}:{start}" for _, key, _ in hits], window + 5)
    return [
        Bucket(name=name, limit=limit, count=count, reset=start + window)
        for (name, _, limit), count in zip(hits, counts, strict=True)
    ]


def nearest_exhaustion(buckets: list[Bucket]) -> Bucket:
    """The bucket with the fewest requests left (an exceeded one first)."""
    return min(buckets, key=lambda b: (not b.exceeded, b.remaining))
