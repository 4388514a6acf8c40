"""RSI mean reversion: buy when RSI is oversold, exit when it returns to the middle; on a
perpetual it can also sell overbought readings short."""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field, model_validator

from axis.data import Bars
from axis.indicators import rsi
from axis.strategies.base import Signals, Strategy, StrategyParams


class RsiReversion(Strategy):
    name = "rsi_reversion"

    class Params(StrategyParams):
        period: int = Field(14, ge=2)
        oversold: float = Field(30.0, gt=0, lt=100)
        overbought: float = Field(70.0, gt=0, lt=100)
        exit_level: float = Field(50.0, gt=0, lt=100, description="RSI that closes the trade")
        allow_short: bool = False
        exposure: float = Field(1.0, gt=0, le=1)
        stop_loss: float | None = Field(None, gt=0, lt=1)

        @model_validator(mode="after")
        def _levels_ordered(self) -> RsiReversion.Params:
            if not self.oversold < self.exit_level < self.overbought:
                raise ValueError("need oversold < exit_level < overbought")
            return self

    params: Params

    def signals(self, bars: Bars) -> Signals:
        p = self.params
        value = rsi(bars.close, p.period)
        target = reversion_targets(value, p.oversold, p.overbought, p.exit_level, p.allow_short)
        return Signals(target * p.exposure, stop_loss=p.stop_loss)


@numba.njit(cache=True)
def reversion_targets(
    value: np.ndarray, oversold: float, overbought: float, exit_level: float, allow_short: bool
) -> np.ndarray:
    """Target exposure at each change of intent (NaN elsewhere): enter long below
    ``oversold``, short above ``overbought``, and leave either once RSI crosses the exit level.
    A loop, because whether a reading exits depends on which trade is open."""
    target = np.full(len(value), np.nan)
    intent = 0
    for i in range(len(value)):
        v = value[i]
        if v != v:
            continue
        if intent <= 0 and v < oversold:
            intent = 1
        elif intent >= 0 and allow_short and v > overbought:
            intent = -1
        elif (intent == 1 and v > exit_level) or (intent == -1 and v < exit_level):
            intent = 0
        else:
            continue
        target[i] = intent
    return target
