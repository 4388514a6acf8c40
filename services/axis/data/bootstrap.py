"""Long synthetic price histories built from real bars by a moving-block bootstrap.

Benchmarks and stress tests need more bars than the recorded samples hold, and a market invented
from a random walk lacks the volatility clustering, fat tails and candle shapes of a real one.
Resampling blocks of consecutive real bars keeps those properties inside each block.
"""

from __future__ import annotations

import numpy as np

from axis.data.bars import Bars
from axis.data.errors import DataError

__all__ = ["block_bootstrap"]


def block_bootstrap(
    bars: Bars,
    n_bars: int,
    block_size: int = 288,
    seed: int = 0,
    *,
    detrend: bool = False,
) -> Bars:
    """A synthetic series of ``n_bars`` candles made of blocks of real ones.

    How it is built:

    * Bar ``k`` of the source (``k ≥ 1``) is described by its close-to-close log return, the log
      of its open, high and low relative to its own close, and its volume.
    * Blocks of ``block_size`` consecutive bars (288 bars of 5m = one day) are drawn uniformly with
      replacement (circular block bootstrap: a block may wrap from the last bar to the first);
      their descriptors are concatenated and cut to length.
    * The first output bar is the first real bar. Closes chain from its close by the drawn log
      returns; open, high and low follow from each close and the drawn shape, so every candle has
      a real candle's shape and ``high ≥ max(open, close) ≥ min(open, close) ≥ low`` holds.
    * Timestamps continue from the first real bar at the source timeframe, without gaps. A return
      that spanned a gap in the source is reused as a single bar's return.

    The source's drift compounds: a series 100 times longer than a rallying source rallies 100
    times as far in log terms. ``detrend=True`` subtracts the mean log return so long series stay
    in a realistic price range (volatility and shapes are unchanged).

    Deterministic for a given ``seed``.
    """
    n_src = len(bars)
    if n_src < 2:
        raise DataError(f"{bars.symbol} {bars.timeframe}: need at least 2 bars to bootstrap")
    if n_bars < 1:
        raise DataError(f"n_bars must be at least 1, got {n_bars}")
    if block_size < 1:
        raise DataError(f"block_size must be at least 1, got {block_size}")

    log_close = np.log(bars.close)
    returns = np.diff(log_close)  # returns[k - 1] belongs to source bar k
    if detrend:
        returns = returns - returns.mean()
    # Shapes relative to the bar's own close, so a candle keeps its form at any price level.
    open_rel = np.log(bars.open[1:]) - log_close[1:]
    high_rel = np.log(bars.high[1:]) - log_close[1:]
    low_rel = np.log(bars.low[1:]) - log_close[1:]
    volume_src = bars.volume[1:]

    n_desc = n_src - 1
    block = min(block_size, n_desc)
    need = n_bars - 1
    n_blocks = -(-need // block)
    rng = np.random.default_rng(seed)
    # Circular blocks (wrapping past the last bar to the first) give every source bar the same
    # chance to be drawn; plain moving blocks under-sample both ends and bias mean and volatility.
    starts = rng.integers(0, n_desc, size=n_blocks)
    idx = ((starts[:, None] + np.arange(block)) % n_desc).ravel()[:need]

    close = np.empty(n_bars, dtype=np.float64)
    close[0] = bars.close[0]
    close[1:] = bars.close[0] * np.exp(np.cumsum(returns[idx]))
    open_ = np.empty_like(close)
    high = np.empty_like(close)
    low = np.empty_like(close)
    volume = np.empty_like(close)
    open_[0], high[0], low[0], volume[0] = bars.open[0], bars.high[0], bars.low[0], bars.volume[0]
    open_[1:] = close[1:] * np.exp(open_rel[idx])
    high[1:] = close[1:] * np.exp(high_rel[idx])
    low[1:] = close[1:] * np.exp(low_rel[idx])
    volume[1:] = volume_src[idx]
    # exp/log round trips can cost an ulp; clamp so the candle invariant holds exactly.
    np.maximum(high, np.maximum(open_, close), out=high)
    np.minimum(low, np.minimum(open_, close), out=low)

    timestamp = bars.timestamp[0] + np.arange(n_bars, dtype=np.int64) * bars.timeframe_ms
    return Bars(bars.symbol, bars.timeframe, timestamp, open_, high, low, close, volume)
