"""Fixtures of the gateway tests: a paper exchange account, a gateway serving it on a loopback
port (real uvicorn, real websocket), and a listener that records what a venue reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from fastapi import FastAPI

from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.domain.orders import Fill, Order
from axis.gateway import create_gateway_app, wire
from axis.gateway.paper import PaperExchange
from axis.gateway.server import InProcessServer
from axis.venues.base import FundingEvent, LiquidationEvent, LiveVenue
from axis.venues.gateway import GatewayVenue

PERP = "BTC/USDT:USDT"
ALT = "ETH/USDT:USDT"
EIGHT_HOURS = 8 * 3_600_000
BAR_MS = 300_000
# Bars start 10 bars before a funding time, so a position opened early pays funding at bar 10.
START_MS = 1_700_006_400_000 - 10 * BAR_MS


def make_bars(symbol: str, base: float, n: int = 60) -> Bars:
    """A deterministic path: a gentle rise with a dip, every bar 0.4% high-low."""
    steps = np.sin(np.arange(n) / 5.0) * 0.002 + 0.0005
    close = base * np.cumprod(1.0 + steps)
    open_ = np.concatenate(([base], close[:-1]))
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    ts = START_MS + np.arange(n, dtype=np.int64) * BAR_MS
    return Bars(symbol, "5m", ts, open_, high, low, close, np.full(n, 1_000.0))


def paper_exchange(**kwargs: Any) -> PaperExchange:
    return PaperExchange(
        {
            PERP: (instrument_for(PERP), make_bars(PERP, 40_000.0)),
            ALT: (instrument_for(ALT), make_bars(ALT, 2_000.0)),
        },
        initial_balance=10_000.0,
        **kwargs,
    )


@dataclass
class Recorder:
    """A VenueListener that keeps a snapshot of each event as it arrives."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)  # the objects the venue handed over
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, event: tuple[Any, ...]) -> None:
        self.events.append(event)
        self._changed.set()

    def on_order_update(self, order: Order) -> None:
        self.orders.append(order)
        self._record(("order", wire.encode_order(order)))

    def on_fill(self, order: Order, fill: Fill) -> None:
        self.orders.append(order)
        self._record(("fill", wire.encode_order(order), wire.encode_fill(fill)))

    def on_funding(self, event: FundingEvent) -> None:
        self._record(("funding", wire.encode_funding(event)))

    def on_liquidation(self, event: LiquidationEvent) -> None:
        self._record(("liquidation", wire.encode_liquidation(event)))

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[Any, ...]]:
        """Wait until ``count`` events have arrived; return them all."""
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events

    async def settle(self, quiet_s: float = 0.05) -> list[tuple[Any, ...]]:
        """Wait until no event has arrived for ``quiet_s``."""
        while True:
            before = len(self.events)
            await asyncio.sleep(quiet_s)
            if len(self.events) == before:
                return self.events


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[FastAPI], Any]]:
    """Start apps on loopback ports; all are stopped at the end of the test."""
    servers: list[InProcessServer] = []

    async def start(app: FastAPI) -> InProcessServer:
        server = InProcessServer(app)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.stop()


@dataclass
class Harness:
    """What a contract test drives: the venue under test, the market behind it, the listener."""

    venue: LiveVenue
    exchange: PaperExchange
    recorder: Recorder
    via: str


async def open_harness(
    via: str, serve: Callable[[FastAPI], Any], exchange: PaperExchange | None = None
) -> Harness:
    exchange = exchange or paper_exchange()
    recorder = Recorder()
    if via == "direct":
        await exchange.connect(recorder)
        return Harness(exchange, exchange, recorder, via)
    app = create_gateway_app(exchange, connector="paper-main", exchange="binance")
    server = await serve(app)
    venue = GatewayVenue(server.url, name="paper-main")
    await venue.connect(recorder)
    return Harness(venue, exchange, recorder, via)


@pytest_asyncio.fixture(params=["direct", "gateway"])
async def harness(
    request: pytest.FixtureRequest, serve: Callable[[FastAPI], Any]
) -> AsyncIterator[Harness]:
    h = await open_harness(request.param, serve)
    yield h
    await h.venue.close()
