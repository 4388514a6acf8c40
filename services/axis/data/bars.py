"""OHLCV bars and funding rates as columns of numpy arrays, the form every engine consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from axis.data.errors import DataError

_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS

#: Candle timeframes in ccxt notation and their length in milliseconds. ``1ms`` holds tick bars:
#: the trades of one millisecond as one bar (see :func:`axis.data.trade_bars`).
TIMEFRAMES: dict[str, int] = {
    "1ms": 1,
    "1m": _MINUTE_MS,
    "3m": 3 * _MINUTE_MS,
    "5m": 5 * _MINUTE_MS,
    "15m": 15 * _MINUTE_MS,
    "30m": 30 * _MINUTE_MS,
    "1h": _HOUR_MS,
    "2h": 2 * _HOUR_MS,
    "4h": 4 * _HOUR_MS,
    "6h": 6 * _HOUR_MS,
    "8h": 8 * _HOUR_MS,
    "12h": 12 * _HOUR_MS,
    "1d": _DAY_MS,
    "1w": 7 * _DAY_MS,
}

#: Timeframe of tick bars: one bar per millisecond that printed at least one trade.
TICK_TIMEFRAME = "1ms"

OHLCV_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")


def timeframe_to_ms(tf: str) -> int:
    """Length of one candle of timeframe ``tf`` ("5m", "1h", ...) in milliseconds."""
    try:
        return TIMEFRAMES[tf]
    except (KeyError, TypeError):
        known = ", ".join(TIMEFRAMES)
        raise DataError(f"unknown timeframe {tf!r}; use one of {known}") from None


def timeframe_from_ms(ms: int) -> str | None:
    """The timeframe whose candles are ``ms`` long, or None when no standard one is."""
    for name, length in TIMEFRAMES.items():
        if length == ms:
            return name
    return None


@dataclass(frozen=True, slots=True)
class Bars:
    """Candles of one market at one timeframe.

    ``timestamp`` is the bar's open time (int64 epoch ms, strictly increasing); prices and volume
    are float64. Mark-price series carry zero volume. Time gaps (no candle reported) are allowed;
    see :func:`axis.data.gaps`. Tick bars (timeframe ``1ms``, built from trades) are mostly gaps:
    only the milliseconds with a trade have a bar.
    """

    symbol: str
    timeframe: str
    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        timeframe_to_ms(self.timeframe)  # fail early on a timeframe nothing downstream can use
        n = len(self.timestamp)
        for name in OHLCV_COLUMNS[1:]:
            if len(getattr(self, name)) != n:
                raise DataError(
                    f"{self.symbol} {self.timeframe}: column {name!r} has "
                    f"{len(getattr(self, name))} values but there are {n} timestamps"
                )

    def __len__(self) -> int:
        return len(self.timestamp)

    @property
    def timeframe_ms(self) -> int:
        """Length of one bar in milliseconds."""
        return timeframe_to_ms(self.timeframe)

    @property
    def start_ms(self) -> int | None:
        """Open time of the first bar, or None for an empty series."""
        return int(self.timestamp[0]) if len(self) else None

    @property
    def end_ms(self) -> int | None:
        """Close time of the last bar (exclusive end of the series), or None when empty."""
        return int(self.timestamp[-1]) + self.timeframe_ms if len(self) else None

    def between(self, start_ms: int | None, end_ms: int | None) -> Bars:
        """Bars opening in ``[start_ms, end_ms)``; None leaves that side open.

        The result shares memory with this series (numpy views), so slicing is free.
        """
        lo = 0 if start_ms is None else int(np.searchsorted(self.timestamp, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.timestamp, end_ms, "left"))
        hi = max(hi, lo)
        return Bars(
            self.symbol,
            self.timeframe,
            self.timestamp[lo:hi],
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
        )

    def to_frame(self) -> pd.DataFrame:
        """The bars as a DataFrame with the file format's columns (timestamp in epoch ms)."""
        return pd.DataFrame({name: getattr(self, name) for name in OHLCV_COLUMNS})


@dataclass(frozen=True, slots=True)
class FundingRates:
    """Funding rates of a perpetual: ``rate`` is paid per funding interval at ``timestamp``.

    A positive rate means longs pay shorts.
    """

    symbol: str
    timestamp: np.ndarray
    rate: np.ndarray

    def __post_init__(self) -> None:
        if len(self.rate) != len(self.timestamp):
            raise DataError(
                f"{self.symbol} funding: {len(self.rate)} rates but "
                f"{len(self.timestamp)} timestamps"
            )

    def __len__(self) -> int:
        return len(self.timestamp)

    def between(self, start_ms: int | None, end_ms: int | None) -> FundingRates:
        """Funding events in ``[start_ms, end_ms)``; None leaves that side open."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.timestamp, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.timestamp, end_ms, "left"))
        hi = max(hi, lo)
        return FundingRates(self.symbol, self.timestamp[lo:hi], self.rate[lo:hi])
