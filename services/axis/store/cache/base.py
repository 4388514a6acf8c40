"""The cache-and-bus interface every backend implements (Redis, in-process).

A cache holds bytes under keys with a TTL, counts fixed windows (rate limits), and keeps
locks with an expiry and an owner token. The bus is append-only streams (Redis Streams or the
in-process equivalent): ``publish`` appends an event, ``read`` reads after an id, and consumer
groups give each event to one consumer of a group until it is acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class CacheUnavailable(RuntimeError):
    """The cache server cannot be reached or answered with an error."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    stream: str
    id: str
    fields: dict[str, str]


class Cache(Protocol):
    backend: str

    def ping(self) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]: ...
    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...
    def get_many_with_ttl(self, keys: Sequence[str]) -> tuple[list[bytes | None], float | None]: ...
    def set(self, key: str, value: bytes | str, ttl_s: float | None = None) -> None: ...
    def delete(self, *keys: str) -> None: ...
    def ttl(self, key: str) -> float | None: ...
    def hit_window(self, key: str, window_s: int) -> tuple[int, float]:
        """Count one hit in a fixed window; returns the count so far and seconds left."""
        ...

    def acquire_lock(self, key: str, token: str, ttl_s: float) -> bool: ...
    def release_lock(self, key: str, token: str) -> bool: ...
    def lock_owner(self, key: str) -> str | None: ...


class EventBus(Protocol):
    backend: str

    def publish(self, stream: str, fields: Mapping[str, str]) -> str: ...
    def read(
        self, stream: str, after: str = "0", count: int = 100, block_ms: int | None = None
    ) -> list[StreamEvent]: ...
    def ensure_group(self, stream: str, group: str) -> None: ...
    def read_group(
        self,
        stream: str,
        group: str,
        consumer: str,
        count: int = 100,
        block_ms: int | None = None,
    ) -> list[StreamEvent]: ...
    def ack(self, stream: str, group: str, *ids: str) -> int: ...
    def length(self, stream: str) -> int: ...
