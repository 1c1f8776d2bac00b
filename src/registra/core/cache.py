"""A Redis connection pool shared by every cache object of the process.

Django keeps its cache objects per async context, so under ASGI each request builds a new
``RedisCache`` and, with redis-py's own pool class, opens a new TCP connection to Redis (and
sends its handshake) before the first rate-limit count. Named as the cache's ``pool_class``,
this class hands every one of them the same pool per server URL and options.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    """``from_url`` returns one pool per (URL, options) for the life of the process."""

    _shared_pools: ClassVar[dict[tuple[str, str], ConnectionPool]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        key = (url, repr(sorted(kwargs.items(), key=lambda kv: kv[0])))
        with cls._shared_lock:
            pool = cls._shared_pools.get(key)
            if pool is None:
                pool = cls._shared_pools[key] = super().from_url(url, **kwargs)
        return pool
