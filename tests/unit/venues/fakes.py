"""A scripted in-memory LiveVenue for tests: it keeps orders, positions and balances, fills
market orders at a set price, and can be told to fail, hang, be slow or come back.

Time is a :class:`FakeClock` shared with whatever measures latency (the failover's breakers):
a slow venue advances the clock by its delay instead of sleeping, so tests stay instant.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field

from axis.domain.catalog import instrument_for
from axis.domain.enums import Exchange, LiquiditySide, OrderType
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order
from axis.venues.base import BalanceReport, ClosedBar, PositionReport, VenueListener


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class VenueDown(ConnectionError):
    """What a failing fake raises (ccxt would raise a NetworkError subclass)."""


@dataclass
class _Position:
    quantity: float = 0.0  # signed contracts
    entry_price: float = 0.0


@dataclass
class ScriptedVenue:
    """A LiveVenue double. Modes: ``fail()`` (every call raises, orders are rejected as
    unreachable), ``hang()`` (every call waits until cancelled: a timeout), ``slow(s)`` (calls
    answer after ``s`` seconds of the clock), ``trading_down()`` (queries answer, orders are
    rejected as unavailable), ``recover()``."""

    name: str
    clock: FakeClock
    exchange: Exchange = Exchange.BINANCE
    prices: dict[str, float] = field(default_factory=lambda: {"BTC/USDT:USDT": 60_000.0})
    contract_size: float = 1.0
    cash: float = 10_000.0
    listener: VenueListener | None = None
    orders: dict[str, Order] = field(default_factory=dict)
    positions: dict[str, _Position] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    leverage: dict[str, float] = field(default_factory=dict)
    margin_mode: dict[str, str] = field(default_factory=dict)
    mode: str = "up"  # up | down | hang | slow | trading_down
    delay_s: float = 0.0
    _trade_seq: int = 0

    # -- the script ---------------------------------------------------------------------------
    def fail(self) -> None:
        self.mode = "down"

    def hang(self) -> None:
        self.mode = "hang"

    def slow(self, seconds: float) -> None:
        self.mode, self.delay_s = "slow", seconds

    def trading_down(self) -> None:
        self.mode = "trading_down"

    def recover(self) -> None:
        self.mode, self.delay_s = "up", 0.0

    def hold(self, symbol: str, quantity: float, price: float | None = None) -> None:
        """Put a position on the book directly (as if filled earlier)."""
        self.positions[symbol] = _Position(quantity, price or self.prices[symbol])

    def net(self, symbol: str) -> float:
        return self.positions.get(symbol, _Position()).quantity

    # -- plumbing -----------------------------------------------------------------------------
    async def _answer(self, call: str) -> None:
        self.calls.append(call)
        if self.mode == "down":
            raise VenueDown(f"{self.name}: connection refused")
        if self.mode == "hang":
            await asyncio.Event().wait()
        if self.mode == "slow":
            self.clock.advance(self.delay_s)

    # -- LiveVenue ----------------------------------------------------------------------------
    async def connect(self, listener: VenueListener) -> None:
        await self._answer("connect")
        self.listener = listener

    async def close(self) -> None:
        self.calls.append("close")

    def healthy(self) -> bool:
        return self.mode not in ("down", "hang")

    def submit(self, order: Order) -> None:
        self.calls.append(f"submit:{order.client_order_id}")
        assert self.listener is not None, "submit before connect"
        self.orders[order.client_order_id] = order
        if self.mode in ("down", "hang"):
            order.reject("NetworkError: exchange unreachable")
            self.listener.on_order_update(order)
            return
        if self.mode == "trading_down":
            order.reject("ExchangeNotAvailable: trading suspended")
            self.listener.on_order_update(order)
            return
        position = self.positions.setdefault(order.symbol, _Position())
        signed = order.side.sign * order.quantity
        if order.reduce_only and (position.quantity == 0 or position.quantity * signed > 0):
            order.reject("reduce-only order would open a position")
            self.listener.on_order_update(order)
            return
        order.submit()
        self.listener.on_order_update(order)
        if order.type is not OrderType.MARKET:
            return  # rests until cancelled
        quantity = (
            min(order.quantity, abs(position.quantity)) if order.reduce_only else order.quantity
        )
        price = self.prices[order.symbol]
        self._trade_seq += 1
        fill = Fill(
            order.client_order_id,
            order.symbol,
            order.side,
            quantity,
            price,
            fee=quantity * price * self.contract_size * 0.0004,
            liquidity=LiquiditySide.TAKER,
            timestamp=int(self.clock.now * 1000),
            trade_id=f"{self.name}-t{self._trade_seq}",
        )
        order.apply_fill(quantity, price, fill.fee)
        if order.is_open:  # a reduce-only order larger than the position: the rest lapses
            order.cancel()
        new = position.quantity + order.side.sign * quantity
        if position.quantity * new <= 0 or abs(new) > abs(position.quantity):
            position.entry_price = price if abs(new) > 0 else 0.0
        position.quantity = 0.0 if abs(new) < 1e-12 else new
        self.listener.on_order_update(order)
        self.listener.on_fill(order, fill)

    def cancel(self, client_order_id: str) -> None:
        self.calls.append(f"cancel:{client_order_id}")
        order = self.orders.get(client_order_id)
        if order is not None and order.is_open and self.listener is not None:
            order.cancel()
            self.listener.on_order_update(order)

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    async def instrument(self, symbol: str) -> Instrument:
        await self._answer("instrument")
        return dataclasses.replace(
            instrument_for(symbol, self.exchange), contract_size=self.contract_size
        )

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        await self._answer("fetch_order")
        return self.orders.get(client_order_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        await self._answer("fetch_open_orders")
        return [o for o in self.open_orders() if symbol is None or o.symbol == symbol]

    async def fetch_positions(self) -> list[PositionReport]:
        await self._answer("fetch_positions")
        return [
            PositionReport(symbol, p.quantity, p.entry_price, 1.0, "isolated")
            for symbol, p in self.positions.items()
            if p.quantity != 0
        ]

    async def fetch_balances(self) -> list[BalanceReport]:
        await self._answer("fetch_balances")
        return [BalanceReport("USDT", self.cash, self.cash, 0.0)]

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]:
        await self._answer("fetch_ohlcv")
        price = self.prices[symbol]
        start = since_ms or 0
        return [ClosedBar(symbol, timeframe, start, price, price, price, price, 1.0)]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        await self._answer("fetch_my_trades")
        return []

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        await self._answer("set_leverage")
        self.leverage[symbol] = leverage

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        await self._answer("set_margin_mode")
        self.margin_mode[symbol] = mode


@dataclass
class RecordingListener:
    """A VenueListener that keeps everything it hears."""

    updates: list[tuple[str, str]] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    def on_order_update(self, order: Order) -> None:
        self.updates.append((order.client_order_id, order.status.value))

    def on_fill(self, order: Order, fill: Fill) -> None:
        self.fills.append(fill)

    def on_funding(self, event: object) -> None:
        return None

    def on_liquidation(self, event: object) -> None:
        return None
