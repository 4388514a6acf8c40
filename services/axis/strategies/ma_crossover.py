"""Moving-average crossover: long when the fast average crosses above the slow one, flat when
it crosses below. Spot, long only."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from axis.data import Bars
from axis.indicators import sma
from axis.strategies.base import Signals, Strategy, StrategyParams


def crossover_targets(fast: np.ndarray, slow: np.ndarray, short: bool = False) -> np.ndarray:
    """Target exposure on the bars where ``fast`` crosses ``slow``, NaN elsewhere: +1 on a
    cross above, 0 (or -1 with ``short``) on a cross below. Warm-up bars never cross."""
    above = fast > slow
    below = fast < slow
    prev_above = np.r_[False, above[:-1]]
    prev_below = np.r_[False, below[:-1]]
    warm = np.r_[False, ~np.isnan(fast[:-1]) & ~np.isnan(slow[:-1])]
    target = np.full(len(fast), np.nan)
    target[above & ~prev_above & warm] = 1.0
    target[below & ~prev_below & warm] = -1.0 if short else 0.0
    return target


class MaCrossover(Strategy):
    name = "ma_crossover"

    class Params(StrategyParams):
        fast: int = Field(20, ge=2, description="fast SMA period (bars)")
        slow: int = Field(50, ge=3, description="slow SMA period (bars)")
        exposure: float = Field(1.0, gt=0, le=1, description="share of equity per entry")

        @model_validator(mode="after")
        def _fast_below_slow(self) -> MaCrossover.Params:
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
            return self

    params: Params

    def signals(self, bars: Bars) -> Signals:
        p = self.params
        target = crossover_targets(sma(bars.close, p.fast), sma(bars.close, p.slow))
        return Signals(target * p.exposure)
