"""Resampling candles to coarser timeframes, checked against pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from axis.data import Bars, DataError, load_bars, resample, sample_bars, timeframe_to_ms

# The 1m data set lives beside the repository in the workspace, not in the package.
ALT_BTC_1M = Path(__file__).resolve().parents[3].parent / "shared/data/market/ALT_BTC-1m.csv.gz"


def pandas_resample(bars: Bars, timeframe: str, keep_partial: bool) -> pd.DataFrame:
    """Reference aggregation with pandas, applying the same edge rule as axis.data.resample."""
    frame = bars.to_frame()
    frame.index = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    dst_ms = timeframe_to_ms(timeframe)
    origin = pd.Timestamp("1970-01-05", tz="UTC") if timeframe == "1w" else "epoch"
    out = frame.resample(pd.Timedelta(milliseconds=dst_ms), origin=origin).agg(
        {
            "open": "first",
            "high": "max",
            "low": "min",
            "close": "last",
            "volume": "sum",
            "timestamp": "count",
        }
    )
    out = out[out["timestamp"] > 0]  # buckets with no source bar produce no candle
    out["timestamp"] = out.index.map(lambda t: int(t.timestamp() * 1000))
    if not keep_partial:
        src_ms = bars.timeframe_ms
        if bars.timestamp[0] != out["timestamp"].iloc[0]:
            out = out.iloc[1:]
        if bars.timestamp[-1] + src_ms != out["timestamp"].iloc[-1] + dst_ms:
            out = out.iloc[:-1]
    return out.reset_index(drop=True)


def assert_matches_pandas(bars: Bars, timeframe: str, keep_partial: bool = False) -> Bars:
    ours = resample(bars, timeframe, keep_partial=keep_partial)
    ref = pandas_resample(bars, timeframe, keep_partial)
    assert ours.timeframe == timeframe
    assert ours.symbol == bars.symbol
    np.testing.assert_array_equal(ours.timestamp, ref["timestamp"].to_numpy())
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(ours, column), ref[column].to_numpy(), column)
    np.testing.assert_allclose(ours.volume, ref["volume"].to_numpy(), rtol=1e-12)
    return ours


@pytest.mark.skipif(not ALT_BTC_1M.exists(), reason="workspace 1m data set not present")
@pytest.mark.parametrize("timeframe", ["3m", "5m", "15m", "1h", "4h", "1d"])
@pytest.mark.parametrize("keep_partial", [False, True])
def test_alt_btc_1m_matches_pandas(timeframe: str, keep_partial: bool) -> None:
    bars = load_bars(ALT_BTC_1M)
    assert bars.timeframe == "1m"
    out = assert_matches_pandas(bars, timeframe, keep_partial)
    assert len(out) > 0


@pytest.mark.parametrize("timeframe", ["15m", "1h", "4h", "8h", "1d", "1w"])
def test_bundled_btc_5m_matches_pandas(timeframe: str) -> None:
    assert_matches_pandas(sample_bars("BTC/USDT", "5m"), timeframe)


def test_bundled_alt_with_gaps_matches_pandas() -> None:
    assert_matches_pandas(sample_bars("ADA/BTC", "5m"), "1h", keep_partial=True)


def test_partial_edge_buckets_are_dropped() -> None:
    bars = sample_bars("BTC/USDT", "5m")  # 16:45 → 21:15 (last open): both hours are partial
    hourly = resample(bars, "1h")
    assert hourly.timestamp[0] == 1_672_678_800_000  # 17:00, not 16:00
    assert hourly.end_ms is not None
    assert bars.end_ms is not None
    assert hourly.end_ms <= bars.end_ms
    assert hourly.timestamp[-1] % 3_600_000 == 0
    kept = resample(bars, "1h", keep_partial=True)
    assert len(kept) == len(hourly) + 2
    assert kept.timestamp[0] == 1_672_675_200_000  # 16:00
    assert kept.open[0] == bars.open[0]


def test_interior_gap_buckets_are_kept() -> None:
    bars = sample_bars("ADA/BTC", "5m")
    hourly = resample(bars, "1h", keep_partial=True)
    assert int(hourly.volume.sum()) == int(bars.volume.sum())


def test_weekly_buckets_open_on_monday() -> None:
    # Monday 2023-01-02 16:45 → Thursday 02-09: the first and last weeks are partial.
    weekly = resample(sample_bars("BTC/USDT", "5m"), "1w")
    assert len(weekly) == 4
    days = pd.to_datetime(weekly.timestamp, unit="ms", utc=True)
    assert all(day.weekday() == 0 and day.hour == 0 for day in days)


def test_candles_stay_consistent() -> None:
    four_hour = resample(sample_bars("ETH/BTC", "5m"), "4h")
    assert np.all(four_hour.high >= np.maximum(four_hour.open, four_hour.close))
    assert np.all(four_hour.low <= np.minimum(four_hour.open, four_hour.close))


def test_same_timeframe_returns_input() -> None:
    bars = sample_bars("BTC/USDT", "5m")
    assert resample(bars, "5m") is bars


@pytest.mark.parametrize(("source", "target"), [("5m", "3m"), ("5m", "1m"), ("8h", "12h")])
def test_target_must_be_a_whole_multiple(source: str, target: str) -> None:
    n = 4
    step = timeframe_to_ms(source)
    bars = Bars("X/Y", source, np.arange(n, dtype=np.int64) * step, *(np.ones(n) for _ in range(5)))
    with pytest.raises(DataError, match=f"must be a whole multiple of {source}"):
        resample(bars, target)


def test_off_grid_source_rejected() -> None:
    n = 4
    ts = 1_000 + np.arange(n, dtype=np.int64) * 300_000
    bars = Bars("X/Y", "5m", ts, *(np.ones(n) for _ in range(5)))
    with pytest.raises(DataError, match="not on the 5m grid"):
        resample(bars, "1h")


def test_short_series_inside_one_partial_bucket_is_empty() -> None:
    bars = sample_bars("BTC/USDT", "5m").between(None, 1_672_678_800_000)  # 16:45 - 17:00
    assert len(bars) == 3
    assert len(resample(bars, "1h")) == 0
    assert len(resample(bars, "1h", keep_partial=True)) == 1
