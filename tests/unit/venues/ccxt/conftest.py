"""Fixtures for venue tests on recorded exchange payloads.

``venue`` is the venue under test, connected to a ``listener``; ``recorded`` is the ccxt
exchange behind it with its scripted HTTP layer. The venue-level tests only use these fixtures,
so the same tests can run through another LiveVenue (the gateway's client) by overriding
``venue`` with one that reaches the same ``recorded`` exchange.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorded import EXCHANGES, RecordedExchange, recorded_exchange

from axis.domain.orders import Fill, Order, OrderStatus
from axis.venues.base import FundingEvent, LiquidationEvent
from axis.venues.ccxt_venue import CcxtVenue, RetryPolicy
from axis.venues.ratelimit import RateLimiter

# What each exchange answers to the one-way position-mode check that connect() makes.
ONE_WAY_REPLY: dict[str, Any] = {
    "binance": {"dualSidePosition": False},
    "okx": {"code": "0", "msg": "", "data": [{"posMode": "net_mode"}]},
    "gate": [],  # no mode endpoint: the positions (none) are looked at
    "bybit": {"retCode": 0, "retMsg": "OK", "result": {"list": [], "category": "linear"}},
}


class RecordingListener:
    """A VenueListener that keeps what it heard: (client id, status) per update, and fills."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, OrderStatus]] = []
        self.fills: list[Fill] = []
        self.funding: list[FundingEvent] = []
        self.liquidations: list[LiquidationEvent] = []

    def on_order_update(self, order: Order) -> None:
        self.updates.append((order.client_order_id, order.status))

    def on_fill(self, order: Order, fill: Fill) -> None:
        self.fills.append(fill)

    def on_funding(self, event: FundingEvent) -> None:
        self.funding.append(event)

    def on_liquidation(self, event: LiquidationEvent) -> None:
        self.liquidations.append(event)


class SleepLog:
    """Virtual time for a venue: records backoff sleeps and advances a clock instead of
    sleeping; the venue's rate limiter runs on the same clock."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds


def make_venue(recorded: RecordedExchange, sleep: SleepLog | None = None) -> CcxtVenue:
    """The in-process venue on a recorded exchange: an ample private limiter and quick
    retries, both on virtual time."""
    time = sleep or SleepLog()
    return CcxtVenue(
        recorded.exchange,
        limiter=RateLimiter(rate=1e6, capacity=1e6, clock=time.clock, sleep=time),
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05),
        resolve_attempts=3,
        sleep=time,
    )


@pytest.fixture(params=EXCHANGES)
def exchange_id(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def recorded(exchange_id: str) -> RecordedExchange:
    return recorded_exchange(exchange_id)


@pytest.fixture
def listener() -> RecordingListener:
    return RecordingListener()


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest_asyncio.fixture
async def venue(
    recorded: RecordedExchange, listener: RecordingListener, sleeps: SleepLog
) -> AsyncIterator[CcxtVenue]:
    venue = make_venue(recorded, sleeps)
    recorded.http.serve(ONE_WAY_REPLY[recorded.exchange_id])
    await venue.connect(listener)
    recorded.http.requests.clear()
    yield venue
    await venue.close()
