"""What every request handler reaches: settings, database, cache/bus, security, job runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from axis.config.settings import AxisSettings
from axis.observability.alerts import Alert, add_sink, remove_sink
from axis.observability.logging import get_logger
from axis.security import Security, build_security
from axis.store.cache import ResilientCache, keys, open_cache
from axis.store.db import Database

log = get_logger("axis.api")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (the cache format and most response bodies)."""
    return json.dumps(value, separators=(",", ":"), default=str).encode()


@dataclass(slots=True)
class ApiContext:
    settings: AxisSettings
    db: Database
    cache: ResilientCache
    security: Security
    clock: Callable[[], float] = time.time
    _alert_sink: Callable[[Alert], None] | None = field(default=None, repr=False)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def publish(self, stream: str, event: Mapping[str, Any]) -> None:
        """Best effort: an event the bus cannot take is logged, never fails the request."""
        try:
            self.cache.publish(stream, {k: _field(v) for k, v in event.items()})
        except Exception as exc:  # the outbox already covers a Redis outage
            log.error("publish_failed", stream=stream, error=str(exc))

    def forget_user(self, user_id: int) -> None:
        self.cache.delete(*keys.user_keys(user_id))

    def close(self) -> None:
        if self._alert_sink is not None:
            remove_sink(self._alert_sink)
        self.db.dispose()
        primary = self.cache.primary
        close = getattr(primary, "close", None)
        if callable(close):
            close()


def _field(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def build_context(settings: AxisSettings, *, migrate: bool = True) -> ApiContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, settings.database_pool_size)
    if migrate:
        db.upgrade()
    cache = open_cache(settings.redis_url, settings.cache_prefix, settings.stream_maxlen)
    security = build_security(settings)
    context = ApiContext(settings, db, cache, security)

    def to_stream(alert: Alert) -> None:
        # An alert about the cache being down goes to the in-process outbox (replayed later).
        cache.publish(keys.STREAM_ALERTS, alert.to_event())

    context._alert_sink = to_stream
    add_sink(to_stream)
    return context
