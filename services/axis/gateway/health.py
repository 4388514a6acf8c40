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
from axis.venues.errors import classify

log = get_logger("axis.gateway")


@runtime_checkable
class ClockProbe(Protocol):
    async def server_time_ms(self) -> int | None: ...  # None: this exchange has no clock call


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
    source: object | None = None  # the clock and limiter, when not the venue itself
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
        """One health check: the exchange's clock when the venue (or ``source``) can read it,
        else the venue's own view; then the rate limiter's state."""
        source = self.source or venue
        if isinstance(source, ClockProbe):
            sent = time.time() * 1000.0
            try:
                server = await source.server_time_ms()
            except Exception as exc:  # any failure means unreachable; the kind is recorded
                self.reachable = False
                self.record_error(exc, scrub)
            else:
                received = time.time() * 1000.0
                self.reachable = venue.healthy() if server is None else True
                if server is not None:
                    # The server read its clock about half-way through the round trip.
                    self.clock_skew_ms = round(server - (sent + received) / 2.0, 1)
        else:
            self.reachable = venue.healthy()
        if isinstance(source, RateLimitState):
            self.rate_limit_headroom = min(max(float(source.rate_limit_headroom()), 0.0), 1.0)
            waits = int(source.rate_limit_waits())
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


class CcxtHealth:
    """The clock and rate limiter of a ccxt exchange venue (its ``exchange``, a ccxt instance,
    and its shared ``limiter``), in the shape the gateway's probe reads."""

    def __init__(self, venue: Any) -> None:
        self.venue = venue

    async def server_time_ms(self) -> int | None:
        exchange = self.venue.exchange
        if not exchange.has.get("fetchTime"):
            return None
        try:
            return int(await exchange.fetch_time())
        except Exception as exc:  # classified as the venue would: the kind is what /status shows
            raise classify(exc) from None

    def rate_limit_headroom(self) -> float:
        return float(self.venue.limiter.headroom())

    def rate_limit_waits(self) -> int:
        return int(self.venue.limiter.waits)


def health_source(venue: object) -> object:
    """What the probe reads the exchange's clock and limiter from: the venue when it offers
    them, a ccxt venue's exchange and limiter, else the venue (reachability only)."""
    if isinstance(venue, ClockProbe | RateLimitState):
        return venue
    if hasattr(venue, "exchange") and hasattr(venue, "limiter"):
        return CcxtHealth(venue)
    return venue
