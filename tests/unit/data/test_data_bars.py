"""The Bars container: timeframes and time slicing."""

from __future__ import annotations

import numpy as np
import pytest

from axis.data import TIMEFRAMES, Bars, DataError, FundingRates, sample_bars, timeframe_to_ms


def make_bars(n: int = 10, tf: str = "5m") -> Bars:
    step = timeframe_to_ms(tf)
    close = np.linspace(100.0, 110.0, n)
    return Bars(
        "BTC/USDT",
        tf,
        1_672_677_900_000 + np.arange(n, dtype=np.int64) * step,
        close,
        close + 1,
        close - 1,
        close,
        np.ones(n),
    )


@pytest.mark.parametrize(
    ("tf", "ms"),
    [
        ("1ms", 1),
        ("1m", 60_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("8h", 28_800_000),
        ("1w", 604_800_000),
    ],
)
def test_timeframe_to_ms(tf: str, ms: int) -> None:
    assert timeframe_to_ms(tf) == ms


def test_all_timeframes_listed() -> None:
    assert list(TIMEFRAMES) == [
        "1ms",
        "1m",
        "3m",
        "5m",
        "15m",
        "30m",
        "1h",
        "2h",
        "4h",
        "6h",
        "8h",
        "12h",
        "1d",
        "1w",
    ]


@pytest.mark.parametrize("tf", ["7m", "1M", "", "5"])
def test_unknown_timeframe_is_a_clear_error(tf: str) -> None:
    with pytest.raises(DataError, match=f"unknown timeframe '{tf}'; use one of 1ms, 1m, 3m, 5m"):
        timeframe_to_ms(tf)


def test_len_and_timeframe_ms() -> None:
    bars = make_bars(7, "1h")
    assert len(bars) == 7
    assert bars.timeframe_ms == 3_600_000
    assert bars.start_ms == bars.timestamp[0]
    assert bars.end_ms == bars.timestamp[-1] + 3_600_000


def test_between_is_inclusive_start_exclusive_end() -> None:
    bars = make_bars(10)
    ts = bars.timestamp
    part = bars.between(int(ts[2]), int(ts[5]))
    np.testing.assert_array_equal(part.timestamp, ts[2:5])
    np.testing.assert_array_equal(part.close, bars.close[2:5])
    assert (part.symbol, part.timeframe) == (bars.symbol, bars.timeframe)


def test_between_open_ends_and_off_grid_bounds() -> None:
    bars = make_bars(10)
    ts = bars.timestamp
    assert len(bars.between(None, None)) == 10
    assert len(bars.between(int(ts[7]), None)) == 3
    assert len(bars.between(None, int(ts[3]))) == 3
    # Bounds between bar opens: start rounds up to the next bar, end excludes the bar after it.
    np.testing.assert_array_equal(bars.between(int(ts[2]) + 1, int(ts[5]) + 1).timestamp, ts[3:6])
    assert len(bars.between(int(ts[5]), int(ts[2]))) == 0
    assert len(bars.between(int(ts[-1]) + 1, None)) == 0


def test_between_shares_memory_and_stays_contiguous() -> None:
    bars = sample_bars("BTC/USDT", "5m")
    part = bars.between(int(bars.timestamp[100]), int(bars.timestamp[200]))
    assert np.shares_memory(part.close, bars.close)
    assert part.close.flags["C_CONTIGUOUS"]
    assert len(part) == 100


def test_mismatched_lengths_rejected() -> None:
    bars = make_bars(5)
    with pytest.raises(DataError, match="column 'close' has 4 values but there are 5"):
        Bars(
            "X/Y", "5m", bars.timestamp, bars.open, bars.high, bars.low, bars.close[:4], bars.volume
        )
    with pytest.raises(DataError, match="unknown timeframe"):
        Bars("X/Y", "2m", bars.timestamp, bars.open, bars.high, bars.low, bars.close, bars.volume)


def test_funding_rates_between() -> None:
    funding = FundingRates("XRP/USDT:USDT", np.array([10, 20, 30], dtype=np.int64), np.ones(3))
    assert len(funding) == 3
    np.testing.assert_array_equal(funding.between(15, 30).timestamp, [20])
    with pytest.raises(DataError, match="2 rates but 3 timestamps"):
        FundingRates("X", funding.timestamp, np.ones(2))
