"""Cache and event bus: Redis (keys and TTLs of the seed, Streams) or in-process.

:func:`open_cache` gives a :class:`ResilientCache` over Redis when a URL is configured, else
over the in-process backend; either way callers see one interface.
"""

from __future__ import annotations

from axis.store.cache import keys
from axis.store.cache.base import Cache, CacheUnavailable, EventBus, StreamEvent
from axis.store.cache.memory import MemoryCache
from axis.store.cache.redis import RedisCache
from axis.store.cache.resilient import ERROR, HIT, MISS, ResilientCache, read_through


def open_cache(
    redis_url: str | None, prefix: str = "", stream_maxlen: int = 100_000
) -> ResilientCache:
    if redis_url:
        primary: RedisCache | MemoryCache = RedisCache(
            redis_url, prefix=prefix, stream_maxlen=stream_maxlen
        )
    else:
        primary = MemoryCache(stream_maxlen=stream_maxlen)
    return ResilientCache(primary)


__all__ = [
    "ERROR",
    "HIT",
    "MISS",
    "Cache",
    "CacheUnavailable",
    "EventBus",
    "MemoryCache",
    "RedisCache",
    "ResilientCache",
    "StreamEvent",
    "keys",
    "open_cache",
    "read_through",
]
