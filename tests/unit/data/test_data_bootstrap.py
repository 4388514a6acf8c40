"""Block bootstrap: long synthetic series made of real candles."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.data import Bars, DataError, block_bootstrap, sample_bars

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


def log_returns(bars: Bars) -> np.ndarray:
    return np.diff(np.log(bars.close))


def test_same_seed_same_series_different_seed_different() -> None:
    source = sample_bars("BTC/USDT", "5m")
    first = block_bootstrap(source, 50_000, seed=7)
    again = block_bootstrap(source, 50_000, seed=7)
    other = block_bootstrap(source, 50_000, seed=8)
    for column in COLUMNS:
        np.testing.assert_array_equal(getattr(first, column), getattr(again, column))
    assert not np.array_equal(first.close, other.close)
    np.testing.assert_array_equal(first.timestamp, other.timestamp)


def test_shape_timestamps_and_first_bar() -> None:
    source = sample_bars("ETH/BTC", "5m")  # has gaps; the synthetic series has none
    out = block_bootstrap(source, 30_000, block_size=100, seed=1)
    assert (out.symbol, out.timeframe, len(out)) == (source.symbol, source.timeframe, 30_000)
    assert out.timestamp[0] == source.timestamp[0]
    assert np.all(np.diff(out.timestamp) == source.timeframe_ms)
    for column in COLUMNS[1:]:
        array = getattr(out, column)
        assert array.dtype == np.float64
        assert array.flags["C_CONTIGUOUS"]
        assert getattr(out, column)[0] == getattr(source, column)[0]


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/BTC", "NXT/BTC", "XRP/USDT:USDT"])
def test_candles_are_consistent(symbol: str) -> None:
    out = block_bootstrap(sample_bars(symbol, "5m"), 100_000, seed=3)
    assert np.all(out.high >= np.maximum(out.open, out.close))
    assert np.all(out.low <= np.minimum(out.open, out.close))
    assert np.all(out.low > 0)
    assert np.all(np.isfinite(out.high))


@settings(max_examples=25, deadline=None)
@given(
    n_bars=st.integers(1, 5_000),
    block_size=st.integers(1, 2_000),
    seed=st.integers(0, 2**32 - 1),
    start=st.integers(0, 10_000),
)
def test_candle_invariant_holds_for_any_parameters(
    n_bars: int, block_size: int, seed: int, start: int
) -> None:
    source = sample_bars("BTC/USDT", "5m")
    source = source.between(int(source.timestamp[start]), None)
    out = block_bootstrap(source, n_bars, block_size=block_size, seed=seed)
    assert len(out) == n_bars
    assert np.all(out.high >= np.maximum(out.open, out.close))
    assert np.all(out.low <= np.minimum(out.open, out.close))


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/BTC"])
def test_return_statistics_match_the_source(symbol: str) -> None:
    source = sample_bars(symbol, "5m")
    src = log_returns(source)
    out = log_returns(block_bootstrap(source, 200_000, seed=11))
    assert abs(out.mean() - src.mean()) < 0.02 * src.std()
    assert out.std() == pytest.approx(src.std(), rel=0.05)
    # Fat tails survive: the drawn returns are real ones, so the extremes are the source's.
    assert out.max() <= src.max() + 1e-12
    assert out.min() >= src.min() - 1e-12
    assert np.percentile(np.abs(out), 99) == pytest.approx(np.percentile(np.abs(src), 99), rel=0.1)


def test_candle_shapes_and_volumes_are_real() -> None:
    source = sample_bars("BTC/USDT", "5m")
    out = block_bootstrap(source, 20_000, seed=5)
    assert set(np.unique(out.volume)) <= set(np.unique(source.volume))
    src_upper_wick = np.log(source.high / np.maximum(source.open, source.close))
    out_upper_wick = np.log(out.high / np.maximum(out.open, out.close))
    assert out_upper_wick.mean() == pytest.approx(src_upper_wick.mean(), rel=0.1)


def test_blocks_keep_consecutive_real_returns() -> None:
    source = sample_bars("BTC/USDT", "5m")
    src = log_returns(source)
    out = log_returns(block_bootstrap(source, 289, block_size=288, seed=2))
    # The first 288 returns are one block: a contiguous run of the source's returns.
    start = int(np.argmin(np.abs(src - out[0])))
    np.testing.assert_allclose(out[:50], src[start : start + 50], atol=1e-12)


def test_detrend_removes_drift() -> None:
    source = sample_bars("BTC/USDT", "5m")  # a +37% rally: +2.5e-5 log per bar
    drift = log_returns(source).mean()
    drifting = block_bootstrap(source, 500_000, seed=0)
    flat = block_bootstrap(source, 500_000, seed=0, detrend=True)
    # Same seed, same blocks: the two differ by exactly the source's mean return per bar.
    np.testing.assert_allclose(log_returns(drifting) - log_returns(flat), drift, atol=1e-12)
    growth = np.log(drifting.close[-1] / flat.close[-1])
    assert growth == pytest.approx(drift * 499_999, rel=1e-6)  # about e^12: why detrend exists
    np.testing.assert_array_equal(flat.volume, drifting.volume)


def test_million_bars_is_fast() -> None:
    source = sample_bars("BTC/USDT", "5m")
    block_bootstrap(source, 1_000, seed=0)  # warm up
    started = time.perf_counter()
    out = block_bootstrap(source, 1_000_000, seed=0)
    elapsed = time.perf_counter() - started
    assert len(out) == 1_000_000
    assert elapsed < 2.0, f"1M bars took {elapsed:.2f}s"


def test_invalid_arguments() -> None:
    source = sample_bars("BTC/USDT", "5m")
    with pytest.raises(DataError, match="at least 2 bars"):
        block_bootstrap(source.between(None, int(source.timestamp[1])), 10)
    with pytest.raises(DataError, match="n_bars must be at least 1"):
        block_bootstrap(source, 0)
    with pytest.raises(DataError, match="block_size must be at least 1"):
        block_bootstrap(source, 10, block_size=0)
