"""What the gateway knows about its exchange: reachable, clock skew, rate-limit headroom and
the last error, refreshed by a periodic probe and by every failed call.

A venue may offer more than the :class:`~axis.venues.base.LiveVenue` protocol asks: the
exchange's clock (:class:`ClockProbe`) and its rate limiter's state (:class:`RateLimitState`).
Without them the gateway reports the venue's own ``healthy()`` and full headroom.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from axis.gateway import metrics
from axis.gateway.faults import Scrub, error_kind
from axis.observability.logging import get_logger
from axis.venues.base import LiveVenue

log = get_logger("axis.gateway")


@runtime_checkable
class ClockProbe(Protocol):
    async def server_time_ms(self) -> int: ...


@runtime_checkable
class RateLimitState(Protocol):
    def rate_limit_headroom(self) -> float: ...
    def rate_limit_waits(self) -> int: ...


@dataclass(slots=True)
class ExchangeHealth:
    """The gateway's ``/status`` body, kept current."""

    exchange: str
    connector: str
    reachable: bool = False
    clock_skew_ms: float | None = None
    rate_limit_headroom: float = 1.0
    last_error: str | None = None
    connected: bool = False
    _waits_seen: int = 0

    def status(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "connector": self.connector,
            "reachable": self.reachable,
            "clockSkewMs": self.clock_skew_ms,
            "rateLimitHeadroom": self.rate_limit_headroom,
            "lastError": self.last_error,
        }

    @property
    def ready(self) -> bool:
        return self.connected and self.reachable

    def record_error(self, exc: BaseException, scrub: Scrub) -> None:
        kind = error_kind(exc)
        metrics.errors_total.labels(self.connector, kind).inc()
        text = str(exc) if kind != "internal" else type(exc).__name__
        self.last_error = scrub(f"{kind}: {text}")

    async def probe(self, venue: LiveVenue, scrub: Scrub) -> None:
        """One health check: the exchange's clock when the venue can read it, else the
        venue's own view; then the rate limiter's state."""
        if isinstance(venue, ClockProbe):
            sent = time.time() * 1000.0
            try:
                server = await venue.server_time_ms()
            except Exception as exc:  # any failure means unreachable; the kind is recorded
                self.reachable = False
                self.record_error(exc, scrub)
            else:
                received = time.time() * 1000.0
                self.reachable = True
                # The server read its clock about half-way through the round trip.
                self.clock_skew_ms = round(server - (sent + received) / 2.0, 1)
        else:
            self.reachable = venue.healthy()
        if isinstance(venue, RateLimitState):
            self.rate_limit_headroom = min(max(float(venue.rate_limit_headroom()), 0.0), 1.0)
            waits = int(venue.rate_limit_waits())
            if waits > self._waits_seen:
                metrics.rate_limit_waits_total.labels(self.connector).inc(waits - self._waits_seen)
            self._waits_seen = waits
        metrics.rate_limit_headroom.labels(self.connector).set(self.rate_limit_headroom)

    async def run(self, venue: LiveVenue, scrub: Scrub, interval_s: float) -> None:
        while True:
            try:
                await self.probe(venue, scrub)
            except Exception as exc:  # a broken probe must not end the loop
                self.record_error(exc, scrub)
                log.warning("gateway probe failed", error=self.last_error)
            await asyncio.sleep(interval_s)
