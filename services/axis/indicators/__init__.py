"""Technical indicators that agree between backtests and live trading.

``arrays`` computes whole series with TA-Lib for backtests; ``streaming`` updates one candle at a
time in O(1) for live trading and reproduces the TA-Lib values, warm-up included.
"""

from axis.indicators.arrays import (
    FloatArray,
    adx,
    atr,
    bollinger,
    ema,
    macd,
    minus_di,
    plus_di,
    rsi,
    sma,
)
from axis.indicators.streaming import (
    MAX_PERIOD,
    BollingerValue,
    MACDValue,
    StreamingADX,
    StreamingATR,
    StreamingBollinger,
    StreamingEMA,
    StreamingMACD,
    StreamingRSI,
    StreamingSMA,
)

__all__ = [
    "MAX_PERIOD",
    "BollingerValue",
    "FloatArray",
    "MACDValue",
    "StreamingADX",
    "StreamingATR",
    "StreamingBollinger",
    "StreamingEMA",
    "StreamingMACD",
    "StreamingRSI",
    "StreamingSMA",
    "adx",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "minus_di",
    "plus_di",
    "rsi",
    "sma",
]
