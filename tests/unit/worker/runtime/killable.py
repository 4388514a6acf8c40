"""A live worker in its own process, on an exchange kept in a JSON file, that SIGKILLs itself
at a chosen point of its first order (the test in ``test_sigkill.py`` runs it).

``python killable.py DB EXCHANGE before_send|before_ack`` trades synthetic bars until the
strategy's first order reaches the venue, and the process dies there: after the order was
stored and before it was sent, or after the exchange accepted it and before the worker heard.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from axis.config.specs import TradingStrategySpec
from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.domain.enums import LiquiditySide, OrderSide, OrderType
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order, OrderStatus
from axis.strategies import registry
from axis.strategies.base import BarView, Strategy
from axis.venues.base import BalanceReport, PositionReport, VenueListener
from axis.worker.build import WorkerOptions, build_worker
from axis.worker.clocks import SteppedClock
from axis.worker.feed import ReplayFeed
from axis.worker.runtime import Worker
from axis.worker.trader import bar_at

SYMBOL = "BTC/USDT:USDT"
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
STEP = 300_000
PRICE = 60_000.0


class BuyOneIfFlat(Strategy):
    name = "test_buy_one_if_flat"

    def on_bar(self, bar: BarView) -> None:
        if bar.index >= 2 and self.position == 0 and self.engine.oms.open_count() == 0:
            self.buy(1.0, tag="entry")


registry.BUILTIN[BuyOneIfFlat.name] = BuyOneIfFlat


def bars(n: int = 10) -> Bars:
    close = np.full(n, PRICE)
    return Bars(
        SYMBOL,
        "5m",
        T0 + STEP * np.arange(n, dtype=np.int64),
        close,
        close,
        close,
        close,
        np.ones(n),
    )


class FileExchange:
    """Orders, trades and the position in a JSON file: they survive the worker's process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"orders": {}, "position": 0.0, "submissions": 0}
        state: dict[str, Any] = json.loads(self.path.read_text())
        return state

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)  # atomic: a kill never leaves half a file

    def accept(self, order: Order) -> None:
        """A market order fills in full at PRICE."""
        state = self.load()
        state["submissions"] += 1
        if order.client_order_id in state["orders"]:
            raise ValueError(f"duplicate client order id {order.client_order_id}")
        state["orders"][order.client_order_id] = {
            "side": order.side.value,
            "quantity": order.quantity,
            "status": "filled",
        }
        state["position"] += order.quantity * order.side.sign
        self.save(state)


def _order(cid: str, row: dict[str, Any]) -> Order:
    order = Order(cid, SYMBOL, OrderSide(row["side"]), OrderType.MARKET, row["quantity"])
    order.submit()
    order.apply_fill(row["quantity"], PRICE, 0.0)
    return order


class FileVenue:
    """The LiveVenue over a :class:`FileExchange`; ``kill_at`` makes the process die mid-order."""

    name = "filex"

    def __init__(self, exchange: FileExchange, kill_at: str | None = None) -> None:
        self.exchange = exchange
        self.kill_at = kill_at
        self.listener: VenueListener | None = None

    async def connect(self, listener: VenueListener) -> None:
        self.listener = listener

    async def close(self) -> None:
        return None

    def submit(self, order: Order) -> None:
        if self.kill_at == "before_send":
            os.kill(os.getpid(), signal.SIGKILL)
        self.exchange.accept(order)
        if self.kill_at == "before_ack":
            os.kill(os.getpid(), signal.SIGKILL)
        acknowledged = replace(order, history=[])
        acknowledged.status = OrderStatus.SUBMITTED
        filled = _order(
            order.client_order_id, self.exchange.load()["orders"][order.client_order_id]
        )
        fill = Fill(
            order.client_order_id,
            SYMBOL,
            order.side,
            order.quantity,
            PRICE,
            0.0,
            LiquiditySide.TAKER,
            T0,
            f"t-{order.client_order_id}",
        )
        asyncio.get_running_loop().call_soon(self._report, acknowledged, filled, fill)

    def _report(self, acknowledged: Order, filled: Order, fill: Fill) -> None:
        assert self.listener is not None
        self.listener.on_order_update(acknowledged)
        self.listener.on_fill(filled, fill)

    def cancel(self, client_order_id: str) -> None:
        return None

    def open_orders(self) -> list[Order]:
        return []

    async def instrument(self, symbol: str) -> Instrument:
        return instrument_for(symbol)

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        row = self.exchange.load()["orders"].get(client_order_id)
        return None if row is None else _order(client_order_id, row)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        return []

    async def fetch_positions(self) -> list[PositionReport]:
        qty = self.exchange.load()["position"]
        return [PositionReport(SYMBOL, qty, PRICE, 2.0, "isolated")] if qty else []

    async def fetch_balances(self) -> list[BalanceReport]:
        return [BalanceReport("USDT", 100_000.0, 100_000.0, 0.0)]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        return [
            Fill(
                cid,
                SYMBOL,
                OrderSide(row["side"]),
                row["quantity"],
                PRICE,
                0.0,
                LiquiditySide.TAKER,
                T0,
                f"t-{cid}",
            )
            for cid, row in self.exchange.load()["orders"].items()
        ]

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        return None

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        return None

    def healthy(self) -> bool:
        return True


def worker(db: Path, venue: FileVenue) -> Worker:
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": BuyOneIfFlat.name,
            "mode": "live",
            "symbols": [SYMBOL],
            "connectors": ["filex"],
            "leverage": 2,
        }
    )
    return build_worker(
        spec,
        WorkerOptions(name="sigkill", database_url=f"sqlite:///{db}"),
        live_venue=venue,
        feed=ReplayFeed(bars()),
        clock=SteppedClock(T0),
        start_ms=T0 + STEP,
        instrument=instrument_for(SYMBOL),
    )


async def trade(w: Worker, first: int, last: int) -> None:
    await w._start()
    for i in range(first, last):
        w.on_bar(bar_at(bars(), i))
        for _ in range(5):
            await asyncio.sleep(0)


if __name__ == "__main__":
    db, exchange_file, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    asyncio.run(trade(worker(db, FileVenue(FileExchange(exchange_file), kill_at)), 0, 10))
    sys.exit(3)  # never reached: the venue kills the process at the first order
