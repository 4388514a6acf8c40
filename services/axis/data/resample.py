"""Aggregate candles to a coarser timeframe on UTC-aligned buckets, the way exchanges do.

Each bucket's candle is: open of its first bar, highest high, lowest low, close of its last bar,
summed volume. Buckets open at multiples of the timeframe since the Unix epoch (UTC midnight for
``1d``); weekly buckets open on Monday 00:00 UTC, as on Binance, OKX and Bybit.

Completeness rule:

* Interior buckets are kept even when some of their source bars are missing: a gap in an exchange
  history almost always means "no trades reported", and the bars that exist are the bucket's
  true prices. Buckets with no source bar at all produce no candle (the gap carries over).
* The first and last buckets are dropped when the source does not cover them from their open to
  their close (``keep_partial=False``, the default): a series starting at 16:45 has no honest 16:00
  hourly candle, and the last bucket of a live feed is still forming. Pass ``keep_partial=True``
  to keep them.
"""

from __future__ import annotations

import numpy as np

from axis.data.bars import Bars, timeframe_to_ms
from axis.data.errors import DataError

__all__ = ["bucket_open", "resample"]

# 1970-01-01 was a Thursday; exchanges open weekly candles on Mondays (1970-01-05 was one).
_WEEK_ANCHOR_MS = 4 * 86_400_000


def bucket_open(timestamp: np.ndarray, timeframe: str) -> np.ndarray:
    """Open time of the ``timeframe`` bucket containing each epoch-ms timestamp."""
    tf_ms = timeframe_to_ms(timeframe)
    anchor = _WEEK_ANCHOR_MS if timeframe == "1w" else 0
    ts = np.asarray(timestamp, dtype=np.int64)
    return ts - (ts - anchor) % tf_ms


def resample(bars: Bars, timeframe: str, *, keep_partial: bool = False) -> Bars:
    """Aggregate ``bars`` to ``timeframe`` (a whole multiple of the source timeframe).

    See the module docstring for which buckets are kept. Returns ``bars`` itself when the
    timeframe is unchanged.
    """
    src_ms = bars.timeframe_ms
    dst_ms = timeframe_to_ms(timeframe)
    if dst_ms == src_ms:
        return bars
    if dst_ms < src_ms or dst_ms % src_ms:
        raise DataError(
            f"cannot resample {bars.symbol} {bars.timeframe} bars to {timeframe}: "
            f"the target must be a whole multiple of {bars.timeframe}"
        )
    ts = bars.timestamp
    if len(ts) == 0:
        return _empty(bars, timeframe)
    # A source bar that is off its own grid would straddle two target buckets.
    misaligned = np.flatnonzero(ts % src_ms)
    if len(misaligned):
        raise DataError(
            f"cannot resample {bars.symbol} {bars.timeframe} bars: timestamp "
            f"{int(ts[misaligned[0]])} is not on the {bars.timeframe} grid"
        )

    bucket = bucket_open(ts, timeframe)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    lasts = np.r_[starts[1:], len(ts)] - 1
    out_ts = bucket[starts]
    out_open = bars.open[starts]
    out_high = np.maximum.reduceat(bars.high, starts)
    out_low = np.minimum.reduceat(bars.low, starts)
    out_close = bars.close[lasts]
    out_volume = np.add.reduceat(bars.volume, starts)

    lo, hi = 0, len(starts)
    if not keep_partial:
        if ts[0] != out_ts[0]:
            lo = 1
        if ts[-1] + src_ms != out_ts[-1] + dst_ms:
            hi -= 1
        hi = max(hi, lo)
    return Bars(
        bars.symbol,
        timeframe,
        np.ascontiguousarray(out_ts[lo:hi]),
        np.ascontiguousarray(out_open[lo:hi]),
        np.ascontiguousarray(out_high[lo:hi]),
        np.ascontiguousarray(out_low[lo:hi]),
        np.ascontiguousarray(out_close[lo:hi]),
        np.ascontiguousarray(out_volume[lo:hi]),
    )


def _empty(bars: Bars, timeframe: str) -> Bars:
    f = np.empty(0, dtype=np.float64)
    return Bars(
        bars.symbol,
        timeframe,
        np.empty(0, dtype=np.int64),
        f,
        f.copy(),
        f.copy(),
        f.copy(),
        f.copy(),
    )
