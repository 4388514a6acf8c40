"""PaperExchange: an in-memory exchange account behind the LiveVenue protocol.

Each market is a :class:`~axis.venues.simulated.SimulatedVenue` over a bar series; the account
remembers every order and fill so the queries answer like an exchange's REST API (order by
client id, open orders, positions, balances, my trades). The market moves only when told
(:meth:`PaperExchange.step`), which makes it a deterministic counterpart of a real exchange for
the gateway's contract tests, its benchmark and local demos. It also offers the optional
health hooks a real exchange venue has (exchange clock, rate-limit state) and a way to make
the next call of a method fail, for fault tests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from axis.data import Bars
from axis.domain.enums import MarginMode
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order
from axis.venues.base import (
    BalanceReport,
    ClosedBar,
    FundingEvent,
    FundingRate,
    LiquidationEvent,
    PositionReport,
    Ticker,
    VenueListener,
)
from axis.venues.errors import BadSymbol, ExchangeFailure, NotSupported
from axis.venues.simulated import FUNDING_INTERVAL_MS, SimulatedVenue


class _Relay:
    """The simulated markets' listener: records, then forwards to the connected listener."""

    def __init__(self, account: PaperExchange) -> None:
        self.account = account

    def on_order_update(self, order: Order) -> None:
        self.account.orders[order.client_order_id] = order
        if self.account.listener is not None:
            self.account.listener.on_order_update(order)

    def on_fill(self, order: Order, fill: Fill) -> None:
        self.account.orders[order.client_order_id] = order
        self.account.fills.append(fill)
        if self.account.listener is not None:
            self.account.listener.on_fill(order, fill)

    def on_funding(self, event: FundingEvent) -> None:
        if self.account.listener is not None:
            self.account.listener.on_funding(event)

    def on_liquidation(self, event: LiquidationEvent) -> None:
        if self.account.listener is not None:
            self.account.listener.on_liquidation(event)


class PaperExchange:
    """One simulated account over several markets, each with its own wallet."""

    def __init__(
        self,
        markets: Mapping[str, tuple[Instrument, Bars]],
        *,
        initial_balance: float = 10_000.0,
        name: str = "paper",
        clock_skew_ms: float = 0.0,
    ) -> None:
        self.name = name
        self.listener: VenueListener | None = None
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.clock_skew_ms = clock_skew_ms
        self.headroom = 1.0
        self.waits = 0
        self._failures: dict[str, tuple[Exception, int]] = {}
        relay = _Relay(self)
        self.markets = {
            symbol: SimulatedVenue(instrument, bars, relay, initial_balance=initial_balance)
            for symbol, (instrument, bars) in markets.items()
        }
        self._bar = -1

    @classmethod
    def flat(
        cls, prices: Mapping[str, float], bars: int = 1_000, start_ms: int = 1_700_000_000_000
    ) -> PaperExchange:
        """An account on markets that do not move (5m bars at a constant price): resting
        orders away from the price never fill, which is what a latency benchmark wants."""
        from axis.domain.catalog import instrument_for

        ts = start_ms + np.arange(bars, dtype=np.int64) * 300_000
        markets = {}
        for symbol, price in prices.items():
            series = np.full(bars, float(price))
            volume = np.full(bars, 1_000.0)
            markets[symbol] = (
                instrument_for(symbol),
                Bars(symbol, "5m", ts, series, series, series, series, volume),
            )
        return cls(markets)

    # -- the market ---------------------------------------------------------------------------
    def step(self) -> int:
        """Trade the next bar on every market; returns its index."""
        self._bar += 1
        for market in self.markets.values():
            if self._bar < len(market.ts):
                market.process_bar(self._bar)
        return self._bar

    def fail_next(self, method: str, error: Exception, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error`` (an exchange outage, a
        refusal); ``times=0`` ends it."""
        if times > 0:
            self._failures[method] = (error, times)
        else:
            self._failures.pop(method, None)

    def _check(self, method: str) -> None:
        failure = self._failures.get(method)
        if failure is None:
            return
        error, times = failure
        if times > 1:
            self._failures[method] = (error, times - 1)
        else:
            del self._failures[method]
        raise error

    def _market(self, symbol: str) -> SimulatedVenue:
        market = self.markets.get(symbol)
        if market is None:
            raise BadSymbol(f"unknown symbol {symbol}")
        return market

    # -- the LiveVenue protocol ---------------------------------------------------------------
    async def connect(self, listener: VenueListener) -> None:
        self._check("connect")
        self.listener = listener

    async def close(self) -> None:
        self.listener = None

    def healthy(self) -> bool:
        return self.listener is not None

    def submit(self, order: Order) -> None:
        self._check("submit")
        market = self.markets.get(order.symbol)
        if market is None:  # an exchange refuses the order; the caller hears it as an update
            order.reject(f"unknown symbol {order.symbol}")
            self.orders[order.client_order_id] = order
            if self.listener is not None:
                self.listener.on_order_update(order)
            return
        market.submit(order)

    def cancel(self, client_order_id: str) -> None:
        self._check("cancel")
        order = self.orders.get(client_order_id)
        if order is not None and order.is_open:
            self.markets[order.symbol].cancel(client_order_id)

    def open_orders(self) -> list[Order]:
        return [order for market in self.markets.values() for order in market.open_orders()]

    async def instrument(self, symbol: str) -> Instrument:
        self._check("instrument")
        return self._market(symbol).instrument

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        self._check("fetch_order")
        order = self.orders.get(client_order_id)
        return order if order is not None and order.symbol == symbol else None

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        self._check("fetch_open_orders")
        return [o for o in self.open_orders() if symbol is None or o.symbol == symbol]

    async def fetch_positions(self) -> list[PositionReport]:
        self._check("fetch_positions")
        reports = []
        for symbol, market in self.markets.items():
            position = market.position
            if position.is_flat:
                continue
            mark = float(market.c[max(self._bar, 0)])
            liquidation = market.liquidation_price
            reports.append(
                PositionReport(
                    symbol,
                    position.quantity,
                    position.avg_entry,
                    position.leverage,
                    position.margin_mode.value,
                    None if liquidation != liquidation else float(liquidation),
                    position.unrealized_pnl(mark),
                    mark,
                )
            )
        return reports

    async def fetch_balances(self) -> list[BalanceReport]:
        self._check("fetch_balances")
        totals: dict[str, list[float]] = {}
        for market in self.markets.values():
            entry = totals.setdefault(market.instrument.settle, [0.0, 0.0])
            entry[0] += market.wallet
            entry[1] += market.position.margin
        return [
            BalanceReport(currency, total, total - used, used)
            for currency, (total, used) in sorted(totals.items())
        ]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        self._check("fetch_my_trades")
        return [
            f
            for f in self.fills
            if f.symbol == symbol and (since_ms is None or f.timestamp >= since_ms)
        ]

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        self._check("set_leverage")
        market = self._market(symbol)
        if not market.position.is_flat:  # as exchanges refuse it
            raise ExchangeFailure("leverage can only change while the position is flat")
        market.set_leverage(leverage)

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        self._check("set_margin_mode")
        market = self._market(symbol)
        if not market.position.is_flat:
            raise ExchangeFailure("margin mode can only change while the position is flat")
        market.position.margin_mode = MarginMode(mode)

    # -- market data --------------------------------------------------------------------------
    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]:
        """The bars traded so far (the one being traded is closed once ``step`` returns)."""
        self._check("fetch_ohlcv")
        market = self._market(symbol)
        if timeframe != "5m":
            raise NotSupported(f"the paper exchange has 5m candles, not {timeframe}")
        bars = [
            ClosedBar(
                symbol,
                timeframe,
                int(market.ts[i]),
                float(market.o[i]),
                float(market.h[i]),
                float(market.lo[i]),
                float(market.c[i]),
                float(market.vol[i] * market.instrument.contract_size),
            )
            for i in range(min(self._bar + 1, len(market.ts)))
        ]
        bars = [
            b
            for b in bars
            if (since_ms is None or b.timestamp >= since_ms)
            and (closed_before_ms is None or b.timestamp + 300_000 <= closed_before_ms)
        ]
        return bars[:limit] if limit else bars

    async def fetch_ticker(self, symbol: str) -> Ticker:
        self._check("fetch_ticker")
        market = self._market(symbol)
        i = max(self._bar, 0)
        last = float(market.c[i])
        return Ticker(symbol, int(market.ts[i]) + 300_000, last, last, last, last, last)

    async def fetch_funding_rate(self, symbol: str) -> FundingRate:
        self._check("fetch_funding_rate")
        market = self._market(symbol)
        if not market.instrument.is_perpetual:
            raise NotSupported(f"{symbol} is spot: no funding")
        i = max(self._bar, 0)
        now = int(market.ts[i])
        next_time = (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        rate = market.settings.funding_rate
        return FundingRate(symbol, next_time, rate, float(market.c[i]), next_time)

    # -- the optional health hooks of an exchange venue ---------------------------------------
    async def server_time_ms(self) -> int:
        self._check("server_time_ms")
        return int(time.time() * 1000 + self.clock_skew_ms)

    def rate_limit_headroom(self) -> float:
        return self.headroom

    def rate_limit_waits(self) -> int:
        return self.waits
