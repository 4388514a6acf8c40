"""Redis with a way down: reads fall back to the database, everything else to the process.

While the primary cache (Redis) fails:

- reads report ``error`` and return nothing, so :func:`read_through` loads from the database;
- counters (rate limits), locks and streams use the in-process backend, so limits still hold
  per process and events still reach this process's consumers; events are kept in an outbox
  and appended to Redis when it is back;
- keys written or deleted meanwhile are remembered and deleted from Redis on recovery, so no
  stale value survives the outage;
- one critical alert is raised when the outage starts and a warning when it ends.

After a failure the primary is not tried again for ``retry_after_s`` (a circuit breaker), so
requests do not each wait for a connection timeout.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from axis.observability.alerts import raise_alert
from axis.observability.logging import get_logger
from axis.observability.metrics import cache_requests_total
from axis.store.cache.base import Cache, CacheUnavailable, EventBus, StreamEvent
from axis.store.cache.memory import MemoryCache

T = TypeVar("T")
log = get_logger("axis.cache")

HIT, MISS, ERROR = "hit", "miss", "error"


class ResilientCache:
    def __init__(
        self,
        primary: Any,
        fallback: MemoryCache | None = None,
        retry_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        outbox_size: int = 10_000,
    ) -> None:
        self.primary: Cache = primary
        self.primary_bus: EventBus = primary
        self.fallback = fallback or MemoryCache()
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_try = 0.0
        self._dirty: set[str] = set()
        self._outbox: deque[tuple[str, dict[str, str]]] = deque(maxlen=outbox_size)
        self.outages = 0

    @property
    def backend(self) -> str:
        return self.primary.backend

    @property
    def healthy(self) -> bool:
        return self._down_since is None

    # -- circuit breaker ----------------------------------------------------------------------
    def _usable(self) -> bool:
        with self._lock:
            return self._down_since is None or self._clock() >= self._next_try

    def _failed(self, exc: CacheUnavailable) -> None:
        with self._lock:
            now = self._clock()
            first = self._down_since is None
            if first:
                self._down_since = now
                self.outages += 1
            self._next_try = now + self.retry_after_s
        if first:
            raise_alert(
                "cache_down",
                "Redis cache unreachable: reads fall back to the database, limits and locks "
                "to this process",
                error=str(exc),
            )

    def _succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            down_for = self._clock() - self._down_since
            self._down_since = None
            dirty, self._dirty = self._dirty, set()
            outbox = list(self._outbox)
            self._outbox.clear()
        try:
            if dirty:
                self.primary.delete(*dirty)
            for stream, fields in outbox:
                self.primary_bus.publish(stream, fields)
        except CacheUnavailable as exc:
            with self._lock:
                self._dirty |= dirty
                self._outbox.extend(outbox)
            self._failed(exc)
            return
        raise_alert(
            "cache_recovered",
            "Redis cache reachable again",
            severity="warning",
            down_for_s=round(down_for, 3),
            replayed_events=len(outbox),
        )

    def _run(self, primary: Callable[[], T], fallback: Callable[[], T]) -> T:
        if self._usable():
            try:
                result = primary()
            except CacheUnavailable as exc:
                self._failed(exc)
            else:
                self._succeeded()
                return result
        return fallback()

    # -- reads --------------------------------------------------------------------------------
    def lookup(self, key: str) -> tuple[bytes | None, str]:
        """The value and how the read went: ``hit``, ``miss`` or ``error`` (cache down)."""
        value, _ttl, result = self.lookup_ttl(key)
        return value, result

    def lookup_ttl(self, key: str) -> tuple[bytes | None, float | None, str]:
        """Like :meth:`lookup`, with the value's remaining TTL (one round trip)."""
        if not self._usable():
            return None, None, ERROR
        try:
            value, ttl = self.primary.get_with_ttl(key)
        except CacheUnavailable as exc:
            self._failed(exc)
            return None, None, ERROR
        self._succeeded()
        return value, ttl, (HIT if value is not None else MISS)

    def lookup_many(self, keys: Sequence[str]) -> tuple[list[bytes | None], float | None, str]:
        """Several values, the first one's TTL, and how the read went (one round trip)."""
        if not self._usable():
            return [None] * len(keys), None, ERROR
        try:
            values, ttl = self.primary.get_many_with_ttl(keys)
        except CacheUnavailable as exc:
            self._failed(exc)
            return [None] * len(keys), None, ERROR
        self._succeeded()
        return values, ttl, (HIT if values[0] is not None else MISS)

    def ping(self) -> None:
        self.primary.ping()
        self._succeeded()

    def get(self, key: str) -> bytes | None:
        return self.lookup(key)[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._run(lambda: self.primary.get_many(keys), lambda: [None] * len(keys))

    def ttl(self, key: str) -> float | None:
        return self._run(lambda: self.primary.ttl(key), lambda: None)

    # -- writes -------------------------------------------------------------------------------
    def _remember(self, *keys: str) -> None:
        with self._lock:
            self._dirty.update(keys)

    def set(self, key: str, value: bytes | str, ttl_s: float | None = None) -> None:
        self._run(lambda: self.primary.set(key, value, ttl_s), lambda: self._remember(key))

    def delete(self, *keys: str) -> None:
        self._run(lambda: self.primary.delete(*keys), lambda: self._remember(*keys))

    # -- limits and locks ---------------------------------------------------------------------
    def hit_window(self, key: str, window_s: int) -> tuple[int, float]:
        return self._run(
            lambda: self.primary.hit_window(key, window_s),
            lambda: self.fallback.hit_window(key, window_s),
        )

    def acquire_lock(self, key: str, token: str, ttl_s: float) -> bool:
        return self._run(
            lambda: self.primary.acquire_lock(key, token, ttl_s),
            lambda: self.fallback.acquire_lock(key, token, ttl_s),
        )

    def release_lock(self, key: str, token: str) -> bool:
        released = self.fallback.release_lock(key, token)
        return self._run(
            lambda: self.primary.release_lock(key, token) or released, lambda: released
        )

    def lock_owner(self, key: str) -> str | None:
        return self._run(
            lambda: self.primary.lock_owner(key), lambda: self.fallback.lock_owner(key)
        )

    # -- bus ----------------------------------------------------------------------------------
    def publish(self, stream: str, fields: Mapping[str, str]) -> str:
        data = {k: str(v) for k, v in fields.items()}

        def offline() -> str:
            with self._lock:
                self._outbox.append((stream, data))
            return self.fallback.publish(stream, data)

        return self._run(lambda: self.primary_bus.publish(stream, data), offline)

    def read(
        self, stream: str, after: str = "0", count: int = 100, block_ms: int | None = None
    ) -> list[StreamEvent]:
        return self._run(
            lambda: self.primary_bus.read(stream, after, count, block_ms),
            lambda: self.fallback.read(stream, after, count, block_ms),
        )

    def ensure_group(self, stream: str, group: str) -> None:
        self._run(
            lambda: self.primary_bus.ensure_group(stream, group),
            lambda: self.fallback.ensure_group(stream, group),
        )

    def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int | None = None,
    ) -> list[StreamEvent]:
        return self._run(
            lambda: self.primary_bus.read_group(stream, group, consumer, count, block_ms),
            lambda: self.fallback.read_group(stream, group, consumer, count, block_ms),
        )

    def ack(self, stream: str, group: str, *ids: str) -> int:
        return self._run(
            lambda: self.primary_bus.ack(stream, group, *ids),
            lambda: self.fallback.ack(stream, group, *ids),
        )

    def length(self, stream: str) -> int:
        return self._run(
            lambda: self.primary_bus.length(stream), lambda: self.fallback.length(stream)
        )


def read_through(
    cache: ResilientCache,
    key: str,
    kind: str,
    load: Callable[[], bytes | None],
    ttl_s: float | None,
) -> tuple[bytes | None, str]:
    """The cached value, else ``load()`` (the database) stored with ``ttl_s``.

    Returns the value and ``hit``/``miss``/``error``; counted in ``cache_requests_total``.
    """
    value, result = cache.lookup(key)
    cache_requests_total.labels(kind=kind, result=result).inc()
    if value is not None:
        return value, result
    value = load()
    if value is not None:
        cache.set(key, value, ttl_s)
    return value, result
