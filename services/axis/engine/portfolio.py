"""Portfolio accounting: wallet, positions, equity, margin and exposure.

The engine's portfolio mirrors the venue from fills and funding. For bar-driven runs it also
keeps the equity curve, filled lazily: between events nothing but the marks move, so equity over
a stretch of idle bars is one numpy expression, computed when someone asks (an order's risk
check, a strategy, the end of the run). Idle bars cost nothing in the loop.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from axis.domain.enums import MarginMode, OrderSide
from axis.domain.instrument import Instrument
from axis.domain.position import FillEffect, Position

DAY_MS = 86_400_000


@numba.njit(cache=True)
def _mark_open(
    equity: np.ndarray,
    exposure: np.ndarray,
    close: np.ndarray,
    start: int,
    stop: int,
    entry: float,
    scale: float,
    wallet: float,
) -> float:
    """Equity of an open position over bars ``start:stop`` (``(close - entry) * scale +
    wallet``), and its maximum (NaN if any value is, like ``ndarray.max``). Compiled: the
    segments are short (the bars since the last order), and as numpy expressions their
    per-call overhead is most of an order's cost."""
    top = -math.inf
    for j in range(start, stop):
        value = (close[j] - entry) * scale + wallet
        equity[j] = value
        exposure[j] = True
        if value > top or value != value:
            top = value
    return top


class Portfolio:
    """A single-currency (settle currency) margin account with one position per symbol."""

    def __init__(self, initial_balance: float) -> None:
        self.initial_balance = initial_balance
        self.wallet = initial_balance
        self.positions: dict[str, Position] = {}
        self.fees_paid = 0.0
        self.funding_paid = 0.0
        self.realized_pnl = 0.0
        self._marks: dict[str, float] = {}

    # -- positions ----------------------------------------------------------------------------
    def open_account(
        self, instrument: Instrument, leverage: float, margin_mode: MarginMode
    ) -> Position:
        position = Position(instrument, margin_mode, leverage)
        self.positions[instrument.symbol] = position
        return position

    def position(self, symbol: str) -> Position:
        return self.positions[symbol]

    def apply_fill(
        self, symbol: str, side: OrderSide, quantity: float, price: float, fee: float, ts: int
    ) -> FillEffect:
        position = self.positions[symbol]
        was_flat = position.is_flat
        effect = position.apply_fill(side, quantity, price, fee)
        if was_flat and not position.is_flat:
            position.opened_at = ts
        self.wallet += effect.realized_pnl - fee
        self.realized_pnl += effect.realized_pnl
        self.fees_paid += fee
        self._marks[symbol] = price
        return effect

    def apply_funding(self, symbol: str, amount: float) -> None:
        position = self.positions[symbol]
        position.funding_paid -= amount
        if position.margin_mode is MarginMode.ISOLATED:
            position.margin += amount
        self.wallet += amount
        self.funding_paid -= amount

    # -- valuation ----------------------------------------------------------------------------
    def set_mark(self, symbol: str, price: float) -> None:
        self._marks[symbol] = price

    def mark(self, symbol: str) -> float:
        return self._marks.get(symbol, math.nan)

    def equity(self) -> float:
        upnl = 0.0
        for symbol, position in self.positions.items():
            if not position.is_flat:
                upnl += position.unrealized_pnl(self._marks[symbol])
        return self.wallet + upnl

    def used_margin(self) -> float:
        return sum(p.margin for p in self.positions.values())

    def total_notional(self) -> float:
        return sum(p.notional(self._marks[s]) for s, p in self.positions.items() if not p.is_flat)


class EquityCurve:
    """Equity at every bar close of one symbol's bar series, filled lazily from the portfolio.

    ``mark_to(i)`` values bars up to ``i`` with the positions as they are now, so the engine
    calls it for ``i - 1`` *before* changing anything during bar ``i``.
    """

    def __init__(
        self, portfolio: Portfolio, symbol: str, timestamps: np.ndarray, close: np.ndarray
    ):
        self.portfolio = portfolio
        self.symbol = symbol
        self.close = close
        n = len(close)
        self.equity = np.full(n, portfolio.initial_balance, dtype=np.float64)
        self.exposure = np.zeros(n, dtype=bool)
        self.marked = -1
        self.peak = portfolio.initial_balance
        self.timestamps = timestamps
        self._day: int | None = None  # the UTC day (epoch days) _day_first is for
        self._day_first = 0

    def mark_to(self, i: int) -> None:
        start = self.marked + 1
        if i < start:
            return
        position = self.portfolio.positions[self.symbol]
        wallet = self.portfolio.wallet
        stop = i + 1
        segment = self.equity[start:stop]
        if position.quantity == 0.0:
            segment.fill(wallet)
            top = wallet
        else:
            scale = position.sign * position.base_qty
            top = _mark_open(
                self.equity,
                self.exposure,
                self.close,
                start,
                stop,
                position.avg_entry,
                scale,
                wallet,
            )
        if top > self.peak:
            self.peak = top
        self.marked = i

    def before_change(self, i: int) -> None:
        """Value bars before ``i`` with the state that held through them; bar ``i`` itself
        will be valued after the change."""
        self.mark_to(i - 1)
        self.marked = min(self.marked, i - 1)

    def day_first(self, i: int) -> int:
        """Index of the first bar of bar ``i``'s UTC day. Looked up when an order asks for it
        (bar timestamps strictly increase), not laid out for every bar up front: a per-bar
        table cost more than all of a long run's lookups together."""
        day = int(self.timestamps.item(i)) // DAY_MS
        if day != self._day:
            self._day = day
            self._day_first = int(self.timestamps.searchsorted(day * DAY_MS, side="left"))
        return self._day_first

    def day_start_equity(self, i: int) -> float:
        first = self.day_first(i)
        return float(self.equity.item(first - 1)) if first > 0 else self.portfolio.initial_balance
