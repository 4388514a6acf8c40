"""A live worker trading through the real gateway stack on loopback: GatewayVenue → the
gateway app → a paper exchange account. The order is stored, sent, acknowledged and filled over
HTTP and the event stream; reconciliation then finds nothing to explain, and a restarted worker
adopts the position without sending anything."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI

from axis.config.specs import TradingStrategySpec
from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.domain.orders import OrderStatus
from axis.gateway import create_gateway_app
from axis.gateway.paper import PaperExchange
from axis.risk.limits import TradingState
from axis.strategies import registry
from axis.strategies.base import BarView, Strategy
from axis.venues.gateway import GatewayVenue
from axis.worker.build import WorkerOptions, build_worker
from axis.worker.clocks import SteppedClock
from axis.worker.feed import ReplayFeed
from axis.worker.runtime import Worker
from axis.worker.trader import bar_at

SYMBOL = "BTC/USDT:USDT"
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
STEP = 300_000


class BuyTenthIfFlat(Strategy):
    name = "test_buy_tenth_if_flat"

    def on_bar(self, bar: BarView) -> None:
        if bar.index >= 2 and self.position == 0 and self.engine.oms.open_count() == 0:
            self.buy(0.1, tag="entry")


def flat_bars(n: int = 12) -> Bars:
    close = np.full(n, 60_000.0)
    ts = T0 + STEP * np.arange(n, dtype=np.int64)
    return Bars(SYMBOL, "5m", ts, close, close, close, close, np.full(n, 1_000.0))


class _Server:
    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], port: int) -> None:
        self.server, self.task, self.port = server, task, port

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def _serve_with_lifespan(app: FastAPI) -> _Server:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started, timeout=10)
    return _Server(server, task, int(sock.getsockname()[1]))


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def test_live_worker_through_gateway_and_paper_exchange(tmp_path: Path) -> None:
    registry.BUILTIN[BuyTenthIfFlat.name] = BuyTenthIfFlat
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": BuyTenthIfFlat.name,
            "mode": "live",
            "symbols": [SYMBOL],
            "connectors": ["paper-main"],
            "leverage": 1,
        }
    )
    options = WorkerOptions(name="gw-e2e", database_url=f"sqlite:///{tmp_path / 'w.db'}")
    bars = flat_bars()

    def worker(url: str) -> Worker:
        return build_worker(
            spec,
            options,
            live_venue=GatewayVenue(url, name="paper-main"),
            feed=ReplayFeed(bars),
            clock=SteppedClock(T0),
            start_ms=T0 + STEP,
            instrument=instrument_for(SYMBOL),
        )

    async def scenario() -> None:
        exchange = PaperExchange.flat({SYMBOL: 60_000.0}, start_ms=T0)
        app = create_gateway_app(exchange, connector="paper-main", exchange="binance")
        server = await _serve_with_lifespan(app)  # the gateway connects its venue at startup
        url = f"http://127.0.0.1:{server.port}"
        try:
            first = worker(url)
            await first._start()
            for i in range(3):
                exchange.step()
                first.on_bar(bar_at(bars, i))
            [order] = first.engine.oms.orders.values()
            await until(lambda: order.status is OrderStatus.SUBMITTED)
            exchange.step()  # the next bar: the market order fills at the exchange
            await until(lambda: first.engine.position_qty() == 0.1)
            assert first.store.all_orders()[0].status is OrderStatus.FILLED
            await first.reconcile_job(T0)
            assert first.last_reconcile is not None
            assert first.last_reconcile.discrepancies == []
            assert first.engine.trading_state is TradingState.ACTIVE
            await first.live.close()  # type: ignore[union-attr]

            second = worker(url)  # a restart: the book comes from the journal and the venue
            await second._start()
            assert second.last_reconcile is not None
            assert second.last_reconcile.positions_adopted == [SYMBOL]
            assert second.engine.position_qty() == 0.1
            for i in range(3, 6):
                exchange.step()
                second.on_bar(bar_at(bars, i))
            await asyncio.sleep(0.2)
            assert list(exchange.orders) == [order.client_order_id]  # nothing sent again
            await second.live.close()  # type: ignore[union-attr]
        finally:
            await server.stop()
            registry.BUILTIN.pop(BuyTenthIfFlat.name, None)

    asyncio.run(scenario())
