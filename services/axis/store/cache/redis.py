"""The Redis cache and bus (redis-py, one connection pool per process).

Every Redis error becomes :class:`CacheUnavailable`, so the resilient wrapper and the callers
handle one exception. Timeouts are short: a cache that answers slowly is treated as down and
the database serves the read instead. All keys get the configured prefix, which is how tests
and several deployments share one server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis
from redis.exceptions import RedisError, ResponseError

from axis.store.cache.base import CacheUnavailable, StreamEvent

T = TypeVar("T")

# Release only our own lock: compare the owner token and delete in one step.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCache:
    backend = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "",
        timeout_s: float = 0.25,
        stream_maxlen: int = 100_000,
        max_connections: int = 64,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.stream_maxlen = stream_maxlen
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            max_connections=max_connections,
            health_check_interval=30,
        )
        self._release = self.client.register_script(_RELEASE)

    def _k(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except RedisError as exc:
            raise CacheUnavailable(f"redis {self.url}: {exc}") from exc

    # -- cache --------------------------------------------------------------------------------
    def ping(self) -> None:
        self._call(self.client.ping)

    def get(self, key: str) -> bytes | None:
        value = self._call(lambda: self.client.get(self._k(key)))
        return None if value is None else _bytes(value)

    def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        """The value and its remaining TTL in seconds, in one round trip."""

        def both() -> tuple[bytes | None, float | None]:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(self._k(key))
            pipe.pttl(self._k(key))
            value, pttl = pipe.execute()
            ttl = int(pttl) / 1000 if value is not None and int(pttl) >= 0 else None
            return (None if value is None else _bytes(value)), ttl

        return self._call(both)

    def get_many_with_ttl(self, keys: Sequence[str]) -> tuple[list[bytes | None], float | None]:
        """Several values and the remaining TTL of the first, in one round trip."""

        def fetch() -> tuple[list[bytes | None], float | None]:
            pipe = self.client.pipeline(transaction=False)
            pipe.mget([self._k(k) for k in keys])
            pipe.pttl(self._k(keys[0]))
            values, pttl = pipe.execute()
            ttl = int(pttl) / 1000 if values[0] is not None and int(pttl) >= 0 else None
            return [None if v is None else _bytes(v) for v in values], ttl

        return self._call(fetch)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        values = self._call(lambda: self.client.mget([self._k(k) for k in keys]))
        return [None if v is None else _bytes(v) for v in values]

    def set(self, key: str, value: bytes | str, ttl_s: float | None = None) -> None:
        px = max(int(ttl_s * 1000), 1) if ttl_s is not None else None
        self._call(lambda: self.client.set(self._k(key), value, px=px))

    def delete(self, *keys: str) -> None:
        if keys:
            self._call(lambda: self.client.delete(*[self._k(k) for k in keys]))

    def ttl(self, key: str) -> float | None:
        ms = int(self._call(lambda: self.client.pttl(self._k(key))))
        return ms / 1000 if ms >= 0 else None

    def hit_window(self, key: str, window_s: int) -> tuple[int, float]:
        name = self._k(key)

        def hit() -> tuple[int, float]:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, window_s, nx=True)
            pipe.pttl(name)
            count, _, pttl = pipe.execute()
            return int(count), (int(pttl) / 1000 if int(pttl) > 0 else float(window_s))

        return self._call(hit)

    def acquire_lock(self, key: str, token: str, ttl_s: float) -> bool:
        px = max(int(ttl_s * 1000), 1)
        return bool(self._call(lambda: self.client.set(self._k(key), token, nx=True, px=px)))

    def release_lock(self, key: str, token: str) -> bool:
        return bool(self._call(lambda: self._release(keys=[self._k(key)], args=[token])))

    def lock_owner(self, key: str) -> str | None:
        value = self.get(key)
        return value.decode() if value is not None else None

    def delete_prefix(self) -> int:
        """Delete every key under this cache's prefix (tests; ``axis cache flush``)."""
        if not self.prefix:
            raise ValueError("refusing to delete every key of the server: no prefix set")

        def sweep() -> int:
            removed = 0
            for name in self.client.scan_iter(match=f"{self.prefix}*", count=500):
                removed += int(self.client.delete(name))
            return removed

        return self._call(sweep)

    # -- bus ----------------------------------------------------------------------------------
    def publish(self, stream: str, fields: Mapping[str, str]) -> str:
        data: dict[Any, Any] = {k: str(v) for k, v in fields.items()}
        event_id = self._call(
            lambda: self.client.xadd(
                self._k(stream), data, maxlen=self.stream_maxlen, approximate=True
            )
        )
        return _text(event_id)

    def _events(self, stream: str, raw: Any) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for _name, entries in raw or []:
            for event_id, fields in entries:
                decoded = {_text(k): _text(v) for k, v in (fields or {}).items()}
                out.append(StreamEvent(stream, _text(event_id), decoded))
        return out

    def read(
        self, stream: str, after: str = "0", count: int = 100, block_ms: int | None = None
    ) -> list[StreamEvent]:
        raw = self._call(
            lambda: self.client.xread({self._k(stream): after}, count=count, block=block_ms)
        )
        return self._events(stream, raw)

    def ensure_group(self, stream: str, group: str) -> None:
        def create() -> None:
            try:
                self.client.xgroup_create(self._k(stream), group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        self._call(create)

    def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int | None = None,
    ) -> list[StreamEvent]:
        self.ensure_group(stream, group)
        raw = self._call(
            lambda: self.client.xreadgroup(
                group, consumer, {self._k(stream): ">"}, count=count, block=block_ms
            )
        )
        return self._events(stream, raw)

    def ack(self, stream: str, group: str, *ids: str) -> int:
        if not ids:
            return 0
        return int(self._call(lambda: self.client.xack(self._k(stream), group, *ids)))

    def pending(self, stream: str, group: str) -> dict[str, str]:
        rows = self._call(
            lambda: self.client.xpending_range(self._k(stream), group, "-", "+", 10_000)
        )
        return {_text(r["message_id"]): _text(r["consumer"]) for r in rows}

    def length(self, stream: str) -> int:
        return int(self._call(lambda: self.client.xlen(self._k(stream))))

    def close(self) -> None:
        self.client.close()
