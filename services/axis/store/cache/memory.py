"""The in-process cache and bus: the embedded default, and the fallback while Redis is down.

Same semantics as the Redis backend, for the threads of one process: TTLs on a monotonic
clock, fixed-window counters, owner-token locks, streams with ids ``<ms>-<seq>`` and consumer
groups with pending entries until acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from axis.store.cache.base import StreamEvent


def _id_key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(slots=True)
class _Group:
    last_delivered: str = "0-0"
    pending: dict[str, str] = field(default_factory=dict)  # id → consumer


class MemoryCache:
    backend = "memory"

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, stream_maxlen: int = 100_000
    ) -> None:
        self._clock = clock
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._streams: dict[str, deque[StreamEvent]] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._last_id = (0, 0)
        self._maxlen = stream_maxlen

    # -- cache --------------------------------------------------------------------------------
    def ping(self) -> None:
        return None

    def _live(self, key: str, now: float) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= now:
            del self._data[key]
            return None
        return value

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key, self._clock())

    def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        with self._lock:
            now = self._clock()
            value = self._live(key, now)
            if value is None:
                return None, None
            expires = self._data[key][1]
            return value, (None if expires is None else expires - now)

    def get_many_with_ttl(self, keys: Sequence[str]) -> tuple[list[bytes | None], float | None]:
        first, ttl = self.get_with_ttl(keys[0])
        return [first, *self.get_many(keys[1:])], ttl

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            now = self._clock()
            return [self._live(k, now) for k in keys]

    def set(self, key: str, value: bytes | str, ttl_s: float | None = None) -> None:
        data = value.encode() if isinstance(value, str) else bytes(value)
        with self._lock:
            expires = self._clock() + ttl_s if ttl_s is not None else None
            self._data[key] = (data, expires)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def ttl(self, key: str) -> float | None:
        with self._lock:
            now = self._clock()
            if self._live(key, now) is None:
                return None
            expires = self._data[key][1]
            return None if expires is None else expires - now

    def hit_window(self, key: str, window_s: int) -> tuple[int, float]:
        with self._lock:
            now = self._clock()
            current = self._live(key, now)
            if current is None:
                self._data[key] = (b"1", now + window_s)
                return 1, float(window_s)
            count = int(current) + 1
            expires = self._data[key][1]
            self._data[key] = (str(count).encode(), expires)
            return count, (expires - now) if expires is not None else float(window_s)

    def acquire_lock(self, key: str, token: str, ttl_s: float) -> bool:
        with self._lock:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            self._data[key] = (token.encode(), now + ttl_s)
            return True

    def release_lock(self, key: str, token: str) -> bool:
        with self._lock:
            if self._live(key, self._clock()) != token.encode():
                return False
            del self._data[key]
            return True

    def lock_owner(self, key: str) -> str | None:
        value = self.get(key)
        return value.decode() if value is not None else None

    # -- bus ----------------------------------------------------------------------------------
    def _next_id(self) -> str:
        ms = int(time.time() * 1000)
        last_ms, last_seq = self._last_id
        self._last_id = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return f"{self._last_id[0]}-{self._last_id[1]}"

    def publish(self, stream: str, fields: Mapping[str, str]) -> str:
        with self._changed:
            event = StreamEvent(stream, self._next_id(), {k: str(v) for k, v in fields.items()})
            queue = self._streams.setdefault(stream, deque(maxlen=self._maxlen))
            queue.append(event)
            self._changed.notify_all()
            return event.id

    def _after(self, stream: str, after: str, count: int) -> list[StreamEvent]:
        bound = _id_key(after)
        out = [e for e in self._streams.get(stream, ()) if _id_key(e.id) > bound]
        return out[:count]

    def _wait(self, ready: Callable[[], list[StreamEvent]], block_ms: int | None) -> list:
        with self._changed:
            found = ready()
            if found or not block_ms:
                return found
            deadline = time.monotonic() + block_ms / 1000
            while not found:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
                found = ready()
            return found

    def read(
        self, stream: str, after: str = "0", count: int = 100, block_ms: int | None = None
    ) -> list[StreamEvent]:
        if after == "$":
            with self._lock:
                queue = self._streams.get(stream)
                after = queue[-1].id if queue else "0-0"
        return self._wait(lambda: self._after(stream, after, count), block_ms)

    def ensure_group(self, stream: str, group: str) -> None:
        with self._lock:
            self._streams.setdefault(stream, deque(maxlen=self._maxlen))
            self._groups.setdefault((stream, group), _Group())

    def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int | None = None,
    ) -> list[StreamEvent]:
        self.ensure_group(stream, group)
        state = self._groups[(stream, group)]

        def deliver() -> list[StreamEvent]:
            events = self._after(stream, state.last_delivered, count)
            for event in events:
                state.pending[event.id] = consumer
            if events:
                state.last_delivered = events[-1].id
            return events

        return self._wait(deliver, block_ms)

    def ack(self, stream: str, group: str, *ids: str) -> int:
        with self._lock:
            state = self._groups.get((stream, group))
            if state is None:
                return 0
            return sum(state.pending.pop(i, None) is not None for i in ids)

    def pending(self, stream: str, group: str) -> dict[str, str]:
        with self._lock:
            state = self._groups.get((stream, group))
            return dict(state.pending) if state else {}

    def length(self, stream: str) -> int:
        with self._lock:
            return len(self._streams.get(stream, ()))
