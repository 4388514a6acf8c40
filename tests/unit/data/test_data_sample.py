"""The bundled real-data catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import axis.data
from axis.data import (
    SAMPLE_DIR,
    DataError,
    find_sample,
    gaps,
    list_samples,
    sample_bars,
    sample_funding,
    sample_trades,
    spot_proxy,
    trade_bars,
)

ALTS = ("ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "TRX", "XLM", "XMR", "ZEC")


def test_catalog_lists_every_bundled_file() -> None:
    infos = list_samples()
    assert {info.path.name for info in infos} == {p.name for p in SAMPLE_DIR.glob("*.csv.gz")}
    keys = {(i.symbol, i.timeframe, i.kind) for i in infos}
    assert ("BTC/USDT", "5m", "candles") in keys
    assert {(f"{alt}/BTC", "5m", "candles") for alt in ALTS} <= keys
    assert {
        ("XRP/USDT:USDT", "5m", "candles"),
        ("XRP/USDT:USDT", "1h", "candles"),
        ("XRP/USDT:USDT", "1h", "mark"),
        ("XRP/USDT:USDT", "8h", "mark"),
        ("XRP/USDT:USDT", "8h", "funding"),
        ("XRP/ETH", "1m", "candles"),
        ("XRP/ETH", "1ms", "trades"),
    } <= keys
    assert len(infos) == 18


@pytest.mark.parametrize("info", list_samples(), ids=lambda i: i.path.name)
def test_every_sample_loads_and_is_valid(info: axis.data.SampleInfo) -> None:
    if info.kind == "funding":
        funding = sample_funding(info.symbol)
        assert len(funding) == info.bars
        assert np.all(np.abs(funding.rate) < 0.01)  # fractions per 8h, not percent
        return
    if info.kind == "trades":
        # The catalog describes a trades file by the 1 ms tick bars it replays as.
        bars = trade_bars(sample_trades(info.symbol))
    else:
        bars = sample_bars(info.symbol, info.timeframe, info.kind)
    assert (bars.symbol, bars.timeframe, len(bars)) == (info.symbol, info.timeframe, info.bars)
    assert (bars.start_ms, bars.end_ms) == (info.start, info.end)
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.low > 0)
    assert np.all(bars.volume >= 0)
    assert np.all(np.diff(bars.timestamp) >= bars.timeframe_ms)


def test_flagship_btc_sample_matches_the_data_readme() -> None:
    bars = sample_bars("BTC/USDT", "5m")
    assert len(bars) == 10_999
    assert gaps(bars) == []
    assert bars.timestamp[0] == 1_672_677_900_000  # 2023-01-02 16:45 UTC
    assert 16_000 < bars.close[0] < 17_000
    assert 23_000 < bars.close.max() < 25_000


def test_symbols_are_case_insensitive() -> None:
    assert len(sample_bars("eth/btc", "5m")) == len(sample_bars("ETH/BTC", "5m"))


def test_find_sample() -> None:
    path = find_sample("XRP/USDT:USDT", "1h", "mark")
    assert path is not None
    assert path.name == "XRP_USDT_USDT-1h-mark.csv.gz"
    assert find_sample("BTC/USDT:USDT", "5m", "candles") is None
    assert find_sample("BTC/USDT", "1h", "candles") is None


def test_perpetual_does_not_fall_back_to_spot() -> None:
    with pytest.raises(DataError) as info:
        sample_bars("BTC/USDT:USDT", "5m")
    message = str(info.value)
    assert "no bundled candles sample for BTC/USDT:USDT 5m" in message
    assert "spot_proxy('BTC/USDT:USDT')" in message
    assert "BTC/USDT 5m" in message
    assert "\n" not in message
    proxy = sample_bars(spot_proxy("BTC/USDT:USDT"), "5m")
    assert proxy.symbol == "BTC/USDT"


def test_spot_proxy() -> None:
    assert spot_proxy("BTC/USDT:USDT") == "BTC/USDT"
    assert spot_proxy("XRP/USDT:USDT") == "XRP/USDT"
    assert spot_proxy("ETH/BTC") == "ETH/BTC"


def test_unknown_symbol_lists_what_is_available() -> None:
    with pytest.raises(DataError, match=r"no bundled candles sample for DOGE/USDT 5m.*BTC/USDT 5m"):
        sample_bars("DOGE/USDT", "5m")


def test_unknown_timeframe_names_the_ones_bundled() -> None:
    with pytest.raises(DataError, match=r"BTC/USDT has 5m \(derive coarser bars"):
        sample_bars("BTC/USDT", "1h")


def test_unknown_kind_and_funding_errors() -> None:
    with pytest.raises(DataError, match="unknown sample kind 'ticks'"):
        sample_bars("BTC/USDT", "5m", "ticks")
    with pytest.raises(DataError, match=r"trades are not bars; use sample_trades\(symbol\)"):
        sample_bars("XRP/ETH", "1ms", "trades")
    with pytest.raises(DataError, match="use sample_funding"):
        sample_bars("XRP/USDT:USDT", "8h", "funding")
    with pytest.raises(DataError, match=r"no bundled funding sample for BTC/USDT:USDT.*XRP"):
        sample_funding("BTC/USDT:USDT")


def test_mark_prices_have_no_volume_and_funding_is_8h() -> None:
    mark = sample_bars("XRP/USDT:USDT", "1h", "mark")
    np.testing.assert_array_equal(mark.volume, np.zeros(len(mark)))
    funding = sample_funding("XRP/USDT:USDT")
    assert len(funding) == 91
    # Exchanges stamp funding a few ms after the 8h boundary; the spacing is 8h to the second.
    assert np.all(np.abs(np.diff(funding.timestamp) - 28_800_000) < 1_000)


def test_package_does_not_reference_the_shared_folder() -> None:
    package = Path(axis.data.__file__).parent
    assert SAMPLE_DIR.is_relative_to(package)
    for source in package.glob("*.py"):
        assert "/work/shared" not in source.read_text(), source
