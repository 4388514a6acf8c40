"""Trend following on a USDT perpetual, long and short, with leverage.

The seeds' BTC futures flow without the AI committee: a rule-based regime gate decides the
side, and every entry is protected by a stop-loss and a partial take-profit.

- bull trend: ADX above the threshold, +DI above -DI and price above its moving average;
- bear trend: ADX above the threshold, -DI above +DI and price below the moving average;
- consolidation: anything else — no new position; an open one stays under its stop-loss and
  take-profit (closing on every ADX dip turns 5m noise into fees).

A trend flip reverses the position. Entries avoid chasing: a long needs RSI below the
overbought level, a short RSI above the oversold level. Defaults follow the seed: stop-loss
3%, take-profit 10% closing half.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from axis.data import Bars
from axis.domain.enums import MarketType
from axis.indicators import adx, minus_di, plus_di, rsi, sma
from axis.strategies.base import Signals, Strategy, StrategyParams

BULL, BEAR, CONSOLIDATION = 1, -1, 0


def trend_regime(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    ma_period: int,
    adx_period: int,
    adx_threshold: float,
) -> np.ndarray:
    """Regime per bar: BULL, BEAR or CONSOLIDATION (warm-up bars count as consolidation)."""
    strength = adx(high, low, close, adx_period)
    up, down = plus_di(high, low, close, adx_period), minus_di(high, low, close, adx_period)
    average = sma(close, ma_period)
    trending = strength > adx_threshold
    regime = np.zeros(len(close), dtype=np.int8)
    regime[trending & (up > down) & (close > average)] = BULL
    regime[trending & (down > up) & (close < average)] = BEAR
    return regime


class TrendFutures(Strategy):
    name = "trend_futures"
    market_type = MarketType.LINEAR_PERPETUAL

    class Params(StrategyParams):
        ma_period: int = Field(50, ge=2, description="trend moving average (bars)")
        adx_period: int = Field(14, ge=2)
        adx_threshold: float = Field(25.0, gt=0, lt=100, description="ADX above = trending")
        rsi_period: int = Field(14, ge=2)
        rsi_overbought: float = Field(70.0, gt=50, lt=100)
        rsi_oversold: float = Field(30.0, gt=0, lt=50)
        exposure: float = Field(1.0, gt=0, le=1, description="share of equity as margin")
        stop_loss: float = Field(0.03, gt=0, lt=1)
        take_profit: float = Field(0.10, gt=0)
        take_profit_fraction: float = Field(0.5, gt=0, le=1)

    params: Params

    def signals(self, bars: Bars) -> Signals:
        p = self.params
        regime = trend_regime(
            bars.close, bars.high, bars.low, p.ma_period, p.adx_period, p.adx_threshold
        )
        momentum = rsi(bars.close, p.rsi_period)
        target = np.full(len(regime), np.nan)
        target[(regime == BULL) & (momentum < p.rsi_overbought)] = p.exposure
        target[(regime == BEAR) & (momentum > p.rsi_oversold)] = -p.exposure
        return Signals(
            target,
            stop_loss=p.stop_loss,
            take_profit=p.take_profit,
            take_profit_fraction=p.take_profit_fraction,
        )
