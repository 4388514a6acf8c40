"""The Strategy interface: what a newcomer writes to trade with AXIS.

A strategy is a class with typed parameters and a few hooks::

    class MyStrategy(Strategy):
        name = "my_strategy"

        class Params(StrategyParams):
            fast: int = 20

        def on_bar(self, bar: BarView) -> None:
            if bar.close > self.data.close[bar.index - 1]:
                self.target_exposure(1.0)

Signal strategies may instead implement :meth:`signals`, a vectorised precompute over whole
arrays returning a target exposure per bar. The engine then runs them either through the fast
vectorised path or bar by bar through the default :meth:`on_bar`; both take the same order path
(risk chain, order manager, venue rules) and give the same trades.

Every order goes through the risk chain. Exposure is a fraction of equity times the strategy's
leverage: ``target_exposure(1.0)`` at 5x leverage means a position worth five times equity.
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from axis.domain.enums import MarketType, OrderSide, OrderType, TimeInForce

if TYPE_CHECKING:
    from axis.data import Bars
    from axis.domain.orders import Fill, Order
    from axis.engine.engine import Engine


class StrategyParams(BaseModel):
    """Base for a strategy's parameters: typed, validated, unknown names rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Signals:
    """Vectorised output of a signal strategy.

    ``target`` holds the target exposure decided at each bar's close (+1 long at full size,
    -1 short, 0 flat, NaN keep what you have). Protective orders are placed for every entry:
    ``stop_loss`` and ``take_profit`` are distances from the entry price as fractions, and
    ``take_profit_fraction`` is the share of the position the take-profit closes.
    """

    target: np.ndarray
    stop_loss: float | None = None
    take_profit: float | None = None
    take_profit_fraction: float = 1.0


class BarView:
    """The bar the strategy is looking at. One object is reused for every bar; a price series
    becomes a list the first time a strategy reads that field, so untouched fields cost
    nothing and touched ones cost a list lookup."""

    __slots__ = ("_bars", "_lists", "index")

    def __init__(self, bars: Bars) -> None:
        self.index = -1
        self._bars = bars
        self._lists: dict[str, list[Any]] = {}

    def _series(self, name: str) -> list[Any]:
        values = self._lists.get(name)
        if values is None:
            values = self._lists[name] = getattr(self._bars, name).tolist()
        return values

    @property
    def timestamp(self) -> int:
        return self._series("timestamp")[self.index]

    @property
    def open(self) -> float:
        return self._series("open")[self.index]

    @property
    def high(self) -> float:
        return self._series("high")[self.index]

    @property
    def low(self) -> float:
        return self._series("low")[self.index]

    @property
    def close(self) -> float:
        return self._series("close")[self.index]

    @property
    def volume(self) -> float:
        return self._series("volume")[self.index]


class Strategy:
    """Base class of every strategy. Override the hooks you need; all are optional."""

    name: ClassVar[str] = ""
    market_type: ClassVar[MarketType] = MarketType.SPOT
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._engine: Engine | None = None
        self._targets: MutableSequence[float] = []
        self._last_target = math.nan
        self._signals: Signals | None = None

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> Strategy:
        return cls(cls.Params(**values))

    # -- hooks --------------------------------------------------------------------------------
    def signals(self, bars: Bars) -> Signals | None:
        """Vectorised precompute: target exposure per bar from whole arrays, or None for an
        event-driven strategy. Must only use data up to each bar (no look-ahead)."""
        return None

    def on_start(self) -> None:
        """Called once before the first bar, after data and signals are loaded."""

    def on_bar(self, bar: BarView) -> None:
        """Called at each bar's close. The default follows the precomputed signals."""
        target = self._targets[bar.index]
        if target == target and target != self._last_target:  # not NaN, and changed
            self._last_target = target
            signals = self._signals
            assert signals is not None
            self.target_exposure(
                target,
                stop_loss=signals.stop_loss,
                take_profit=signals.take_profit,
                take_profit_fraction=signals.take_profit_fraction,
            )

    def on_fill(self, fill: Fill) -> None:
        """Called for every execution of one of this strategy's orders."""

    def on_order_update(self, order: Order) -> None:
        """Called when one of this strategy's orders changes state (incl. risk rejections)."""

    def on_timer(self, name: str, timestamp: int) -> None:
        """Called for timers registered with :meth:`schedule`."""

    def on_stop(self) -> None:
        """Called once after the last bar."""

    # -- what a strategy can see ---------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError(f"strategy {self.name!r} is not attached to an engine")
        return self._engine

    @property
    def data(self) -> Bars:
        return self.engine.bars

    @property
    def position(self) -> float:
        """Signed position in contracts: positive long, negative short."""
        return self.engine.position_qty()

    @property
    def equity(self) -> float:
        return self.engine.current_equity()

    # -- what a strategy can do ----------------------------------------------------------------
    def target_exposure(
        self,
        exposure: float,
        *,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        take_profit_fraction: float = 1.0,
    ) -> Order | None:
        """Move the position to ``exposure`` × equity × leverage with one market order."""
        return self.engine.target_exposure(
            exposure,
            stop_loss=stop_loss,
            take_profit=take_profit,
            take_profit_fraction=take_profit_fraction,
        )

    def buy(self, quantity: float, **kwargs: Any) -> Order | None:
        return self.engine.place_order(OrderSide.BUY, quantity, **kwargs)

    def sell(self, quantity: float, **kwargs: Any) -> Order | None:
        return self.engine.place_order(OrderSide.SELL, quantity, **kwargs)

    def close_position(self, tag: str = "exit") -> Order | None:
        return self.engine.close_position(tag)

    def cancel(self, client_order_id: str) -> None:
        self.engine.cancel(client_order_id)

    def schedule(self, name: str, every_ms: int) -> None:
        self.engine.schedule(name, every_ms)


__all__ = [
    "BarView",
    "OrderType",
    "Signals",
    "Strategy",
    "StrategyParams",
    "TimeInForce",
]
