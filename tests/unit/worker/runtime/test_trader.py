"""BarTrader: closed bars onto the grid in order, gaps filled flat, and a signal strategy's
target at each bar computed from that bar and the ones before it only."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.engine.engine import Engine
from axis.risk.limits import RiskLimits
from axis.strategies.base import Signals, Strategy
from axis.venues.base import ClosedBar
from axis.worker.trader import BarTrader, FeedError, live_grid

SYMBOL = "BTC/USDT:USDT"
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
STEP = 300_000


class Watcher(Strategy):
    """Holds flat; records the window each signals() call saw."""

    name = "watcher"

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[tuple[int, int]] = []  # (bars seen, last open time)

    def signals(self, bars: Bars) -> Signals:
        self.windows.append((len(bars), int(bars.timestamp[-1])))
        return Signals(np.zeros(len(bars)))


def bar(i: int, close: float = 100.0) -> ClosedBar:
    return ClosedBar(SYMBOL, "5m", T0 + i * STEP, close, close + 1, close - 1, close, 10.0)


def trader(strategy: Strategy, window: int = 5_000, capacity: int = 64) -> BarTrader:
    def build(grid: Bars) -> Engine:
        return Engine(
            strategy,
            instrument_for(SYMBOL),
            grid,
            initial_balance=1_000.0,
            leverage=1.0,
            limits=RiskLimits(),
        )

    return BarTrader(live_grid(SYMBOL, "5m", T0, capacity), build, signal_window=window)


def test_bars_land_on_their_slots_and_a_gap_is_filled_flat() -> None:
    t = trader(Watcher())
    t.on_closed_bar(bar(0, 100.0))
    t.on_closed_bar(bar(1, 101.0))
    decision = t.on_closed_bar(bar(4, 105.0))
    assert decision.index == 4
    assert t.index == 4
    assert t.last_bar_ms == T0 + 4 * STEP
    grid = t.grid
    assert grid.close[:5].tolist() == [100.0, 101.0, 101.0, 101.0, 105.0]
    assert grid.volume[2:4].tolist() == [0.0, 0.0]  # the flat bars carry no volume
    assert grid.high[2] == grid.low[2] == 101.0
    assert np.isnan(grid.close[5])  # nothing is written ahead of time


def test_a_late_or_foreign_bar_is_refused() -> None:
    t = trader(Watcher())
    t.on_closed_bar(bar(0))
    t.on_closed_bar(bar(2))
    with pytest.raises(FeedError, match="after a later bar"):
        t.on_closed_bar(bar(1))
    with pytest.raises(FeedError, match="not on this worker's grid"):
        t.on_closed_bar(ClosedBar(SYMBOL, "5m", T0 + 3 * STEP + 1, 1, 1, 1, 1, 1))
    with pytest.raises(FeedError, match="not on this worker's grid"):
        t.on_closed_bar(bar(64))  # past the grid's end


def test_signals_see_the_bars_up_to_now_and_at_most_the_window() -> None:
    strategy = Watcher()
    t = trader(strategy, window=4)
    for i in range(8):
        t.on_closed_bar(bar(i, 100.0 + i))
    assert strategy.windows == [(min(i + 1, 4), T0 + i * STEP) for i in range(8)]
    assert strategy._targets[:8] == [0.0] * 8


def test_the_signal_window_needs_two_bars() -> None:
    with pytest.raises(ValueError, match="at least two bars"):
        trader(Watcher(), window=1)


def test_preloaded_history_warms_the_signals_without_trading() -> None:
    strategy = Watcher()
    t = trader(strategy)
    assert t.preload([bar(i, 100.0 + i) for i in range(5)]) == 5
    assert t.index == 4
    assert strategy.windows == []  # nothing decided on history
    assert t.engine.oms.orders == {}
    t.on_closed_bar(bar(5, 105.0))
    assert strategy.windows == [(6, T0 + 5 * STEP)]  # the first decision sees the history
    with pytest.raises(FeedError, match="out of order"):
        t.preload([bar(3)])


def test_preloaded_funding_is_not_settled_again() -> None:
    """A paper worker on live data: the funding times inside the preloaded history belong to
    the past; the next one settles on its own bar."""
    t = trader(Watcher(), capacity=300)  # 25 hours of 5m bars: funding at 0h, 8h, 16h, 24h
    venue = t.engine.venue
    assert venue._funding_bars[:2] == [0, 96]
    first_funding = venue._funding_bars[0]
    t.preload([bar(i) for i in range(first_funding + 2)])
    assert venue._funding_pos == 1
    assert venue.next_index == venue._funding_bars[1]
