"""The engine driven one closed bar at a time: the trading core of paper and live workers.

The engine and its venue read bar series as arrays indexed by bar number. A worker does not know
its bars in advance, so it lays out a *grid*: the bar open times it will trade (the replayed
history's own timestamps, or ``start + k × timeframe`` for a live feed) with price columns that
are filled as each bar closes. Nothing reads a slot before its bar has arrived, so the engine,
the simulated venue and the strategy see exactly what a backtest sees at the same bar, and a
signal strategy's target at bar ``i`` is computed from the bars up to ``i`` only (the last
``window`` of them): paper fills equal the backtest's fills on the same data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from axis.data import Bars
from axis.data.bars import timeframe_to_ms
from axis.domain.enums import MarginMode
from axis.domain.instrument import Instrument
from axis.domain.liquidation import liquidation_price
from axis.engine.engine import Engine
from axis.venues import fills as rules
from axis.venues.base import ClosedBar
from axis.venues.simulated import SimulatedVenue

#: Bars a signal strategy's targets are computed over; the indicators of the built-in
#: strategies forget their start long before this, and a decision stays well under 5 ms.
DEFAULT_SIGNAL_WINDOW = 5_000


class FeedError(RuntimeError):
    """A bar that cannot be placed on the grid: out of order, off the timeframe, or past its end."""


def empty_grid(symbol: str, timeframe: str, timestamps: np.ndarray) -> Bars:
    """Bars with the given open times and no prices yet (NaN until each bar closes)."""
    n = len(timestamps)

    def column() -> np.ndarray:
        return np.full(n, np.nan)

    return Bars(
        symbol,
        timeframe,
        np.ascontiguousarray(timestamps, dtype=np.int64),
        column(),
        column(),
        column(),
        column(),
        np.zeros(n),
    )


def live_grid(symbol: str, timeframe: str, start_ms: int, capacity: int) -> Bars:
    """A grid of ``capacity`` bars from ``start_ms`` at the timeframe, for a live feed."""
    step = timeframe_to_ms(timeframe)
    timestamps = start_ms + step * np.arange(capacity, dtype=np.int64)
    return empty_grid(symbol, timeframe, timestamps)


@dataclass(frozen=True, slots=True)
class Decision:
    """What one closed bar cost: its index and the time from receipt to the orders handed
    to the venue (risk checks included)."""

    index: int
    latency_s: float
    orders: int


class BarTrader:
    """Feeds closed bars into an :class:`Engine` built over a grid (see the module docstring).

    ``build_engine(grid)`` must create the engine over the grid it is given: the trader owns
    the grid and writes each arriving bar into it.
    """

    def __init__(
        self,
        grid: Bars,
        build_engine: Callable[[Bars], Engine],
        *,
        signal_window: int = DEFAULT_SIGNAL_WINDOW,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        if signal_window < 2:
            raise ValueError("the signal window needs at least two bars")
        self.grid = grid
        self.engine = build_engine(grid)
        self.signal_window = signal_window
        self._timer = timer
        self._step_ms = grid.timeframe_ms
        self._timestamps: list[int] = grid.timestamp.tolist()
        self.index = -1  # the last bar processed
        self._signal_strategy = self._has_signals()
        warm_up(self.engine.instrument)
        self.engine.begin()

    def _has_signals(self) -> bool:
        from axis.strategies.base import Strategy

        return type(self.engine.strategy).signals is not Strategy.signals

    @property
    def capacity(self) -> int:
        return len(self._timestamps)

    @property
    def last_bar_ms(self) -> int | None:
        return self._timestamps[self.index] if self.index >= 0 else None

    def slot(self, timestamp: int) -> int:
        """The grid index of the bar opening at ``timestamp``."""
        nxt = self.index + 1
        if nxt < self.capacity and self._timestamps[nxt] == timestamp:
            return nxt
        position = int(np.searchsorted(self.grid.timestamp, timestamp))
        if position >= self.capacity or self._timestamps[position] != timestamp:
            raise FeedError(f"bar at {timestamp} is not on this worker's grid")
        return position

    def on_closed_bar(self, bar: ClosedBar) -> Decision:
        """Trade one closed bar. A gap in a live feed is filled with flat bars at the last
        close (no volume), so time and funding move on as they do at the exchange."""
        started = self._timer()
        i = self.slot(bar.timestamp)
        if i <= self.index:
            raise FeedError(f"bar at {bar.timestamp} arrived after a later bar")
        for gap in range(self.index + 1, i):
            last = float(self.grid.close[gap - 1]) if gap > 0 else bar.open
            self._write(gap, last, last, last, last, 0.0)
            self._advance(gap)
        self._write(i, bar.open, bar.high, bar.low, bar.close, bar.volume)
        before = len(self.engine.oms.orders)
        self._advance(i)
        return Decision(i, self._timer() - started, len(self.engine.oms.orders) - before)

    def preload(self, history: Sequence[ClosedBar]) -> int:
        """Write closed bars from before the worker started into the grid without trading
        them: the strategy's indicators start warm, and the first bar traded is the next one.
        Returns how many bars were placed."""
        placed = 0
        for bar in history:
            i = self.slot(bar.timestamp)
            if i <= self.index:
                raise FeedError(f"history bar at {bar.timestamp} is out of order")
            self._write(i, bar.open, bar.high, bar.low, bar.close, bar.volume)
            for gap in range(self.index + 1, i):  # a hole in the history: flat at the last close
                last = float(self.grid.close[gap - 1]) if gap > 0 else bar.open
                self._write(gap, last, last, last, last, 0.0)
            self.index = i
            placed += 1
        venue = self.engine.venue
        if placed and isinstance(venue, SimulatedVenue):
            # Funding due on the preloaded bars was before this worker: skip past it.
            due = venue._funding_bars
            while venue._funding_pos < len(due) and due[venue._funding_pos] <= self.index:
                venue._funding_pos += 1
            venue._refresh_guards()
        return placed

    def finish(self) -> None:
        self.engine.end()

    # -- internals ----------------------------------------------------------------------------
    def _write(self, i: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        grid = self.grid
        grid.open[i], grid.high[i], grid.low[i], grid.close[i], grid.volume[i] = o, h, lo, c, v
        venue = self.engine.venue
        if isinstance(venue, SimulatedVenue):
            venue.vol[i] = v / self.engine.instrument.contract_size
            venue.guard_low[i] = min(lo, float(venue.ml[i])) if venue.ml is not grid.low else lo
            venue.guard_high[i] = max(h, float(venue.mh[i])) if venue.mh is not grid.high else h

    def _advance(self, i: int) -> None:
        engine = self.engine
        if self._signal_strategy:
            first = max(0, i + 1 - self.signal_window)
            signals = engine.strategy.signals(self._window(first, i + 1))
            if signals is None:
                raise TypeError(f"strategy {engine.strategy.name!r}: signals() returned None")
            engine.set_target(i, signals)
        engine.step(i)
        self.index = i

    def _window(self, lo: int, hi: int) -> Bars:
        g = self.grid
        return Bars(
            g.symbol,
            g.timeframe,
            g.timestamp[lo:hi],
            g.open[lo:hi],
            g.high[lo:hi],
            g.low[lo:hi],
            g.close[lo:hi],
            g.volume[lo:hi],
        )


def warm_up(instrument: Instrument) -> None:
    """Load the compiled order-path rules now, so the first decision does not pay for it
    (numba loads each function from its cache on first call: ~10 ms all told)."""
    rules.exposure_quantity(1_000.0, 100.0, 2.0, 1.0, 0.0005, 0.0005, 0.001, 3)
    rules.protective_levels(1, 100.0, 0.03, 0.1, 0.01, 2)
    rules.slipped_price(100.0, 1, 0.0005)
    rules.fee_for(1.0, 100.0, 1.0, 0.0005)
    rules.touch_time(100.0, 101.0, 99.0, 100.5, 99.5, -1, 0.0)
    rules.triggered_fill_price(100.0, 99.5, 1.0, 0.0, -1, 0.0005)
    rules.price_at(100.0, 101.0, 99.0, 100.5, 1.0)
    instrument.round_qty(1.0)  # the risk chain's lot rounding
    instrument.round_price(100.0)
    for mode in MarginMode:  # the risk chain's liquidation-distance check
        liquidation_price(instrument, 1, 1.0, 100.0, 50.0, mode)


def bar_at(bars: Bars, i: int) -> ClosedBar:
    """Bar ``i`` of a series as a :class:`ClosedBar` (what a replayed feed yields)."""
    return ClosedBar(
        bars.symbol,
        bars.timeframe,
        int(bars.timestamp[i]),
        float(bars.open[i]),
        float(bars.high[i]),
        float(bars.low[i]),
        float(bars.close[i]),
        float(bars.volume[i]),
    )
