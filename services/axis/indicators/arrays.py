"""Whole-series indicators for backtests: validated wrappers over TA-Lib.

Every function takes price series (anything array-like), converts them to contiguous float64
arrays and returns float64 arrays of the same length, NaN where the indicator is still warming
up. The streaming classes in :mod:`axis.indicators.streaming` reproduce these values bar by bar.

Validation is deliberately strict because TA-Lib fails quietly on bad input: a NaN inside a
series (rather than in its leading warm-up run) turns every later value into NaN, and a
reversed MACD pair is silently swapped.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import talib

from axis.indicators.streaming import _check_nbdev, _check_period

__all__ = [
    "FloatArray",
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

FloatArray: TypeAlias = npt.NDArray[np.float64]


def _series(name: str, values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as a contiguous 1-D float64 array, rejecting gaps and infinities."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric series: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        if np.isinf(arr).any():
            raise ValueError(f"{name} contains an infinite value")
        # A leading NaN run is fine (e.g. an indicator of an indicator); TA-Lib skips it.
        # A NaN after the first valid price would make every later value NaN.
        first_valid = int(np.argmax(finite)) if finite.any() else arr.size
        gaps = np.flatnonzero(~finite[first_valid:])
        if gaps.size:
            raise ValueError(f"{name} has a NaN at index {first_valid + int(gaps[0])}")
    return arr


def _candles(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    h = _series("high", high)
    lo = _series("low", low)
    c = _series("close", close)
    if not h.size == lo.size == c.size:
        raise ValueError(
            f"high, low and close must have the same length, got {h.size}, {lo.size}, {c.size}"
        )
    return h, lo, c


def sma(close: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average; first value at index ``period - 1``."""
    return talib.SMA(_series("close", close), timeperiod=_check_period("period", period, 1))


def ema(close: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average seeded with the SMA of the first ``period`` closes."""
    return talib.EMA(_series("close", close), timeperiod=_check_period("period", period, 1))


def rsi(close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's RSI, 0..100; first value at index ``period``."""
    return talib.RSI(_series("close", close), timeperiod=_check_period("period", period, 2))


def atr(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Wilder's Average True Range; first value at index ``period``."""
    h, lo, c = _candles(high, low, close)
    return talib.ATR(h, lo, c, timeperiod=_check_period("period", period, 1))


def adx(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Wilder's Average Directional Index, 0..100; first value at index ``2 * period - 1``."""
    h, lo, c = _candles(high, low, close)
    return talib.ADX(h, lo, c, timeperiod=_check_period("period", period, 2))


def plus_di(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """+DI, the upward directional indicator, 0..100; first value at index ``period``."""
    h, lo, c = _candles(high, low, close)
    # Period 1 is refused: TA-Lib then returns a ratio instead of a percentage.
    return talib.PLUS_DI(h, lo, c, timeperiod=_check_period("period", period, 2))


def minus_di(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """-DI, the downward directional indicator, 0..100; first value at index ``period``."""
    h, lo, c = _candles(high, low, close)
    return talib.MINUS_DI(h, lo, c, timeperiod=_check_period("period", period, 2))


def macd(
    close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram; all first defined at index ``slow + signal - 2``.

    TA-Lib seeds the fast EMA on the same bar as the slow one, so the MACD line differs from
    ``ema(close, fast) - ema(close, slow)`` during the first few hundred bars.
    """
    fast = _check_period("fast", fast, 2)
    slow = _check_period("slow", slow, 2)
    signal = _check_period("signal", signal, 1)
    if fast > slow:
        raise ValueError(f"fast ({fast}) must not exceed slow ({slow})")
    return talib.MACD(
        _series("close", close), fastperiod=fast, slowperiod=slow, signalperiod=signal
    )


def bollinger(
    close: npt.ArrayLike, period: int = 20, nbdev: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands ``(upper, middle, lower)``: SMA ± ``nbdev`` population std deviations."""
    width = _check_nbdev(nbdev)
    return talib.BBANDS(
        _series("close", close),
        timeperiod=_check_period("period", period, 2),
        nbdevup=width,
        nbdevdn=width,
    )
