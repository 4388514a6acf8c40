"""Exchange downloads, tested offline: ccxt's fetch_ohlcv is replaced by a recorded-shape fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pytest

from axis.data import DataError, download_ohlcv, load_bars, sample_bars

HOUR = 3_600_000
START = 1_672_531_200_000  # 2023-01-01 00:00 UTC
N_HISTORY = 2_500


class FakeExchange:
    """Serves a fixed 1h history the way Binance pages it: bars from `since`, at most `limit`."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows
        self.calls: list[tuple[int | None, int | None]] = []

    def fetch_ohlcv(
        self,
        exchange: Any,
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[list[Any]]:
        assert symbol == "BTC/USDT"
        assert timeframe == "1h"
        self.calls.append((since, limit))
        since = since or 0
        page = [row for row in self.rows if row[0] >= since]
        return [list(row) for row in page[: limit or 500]]


def history() -> list[list[Any]]:
    source = sample_bars("BTC/USDT", "5m")
    return [
        [
            START + i * HOUR,
            source.open[i],
            source.high[i],
            source.low[i],
            source.close[i],
            source.volume[i],
        ]
        for i in range(N_HISTORY)
    ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeExchange:
    exchange = FakeExchange(history())
    monkeypatch.setattr(
        ccxt.binance,
        "fetch_ohlcv",
        lambda self, *args, **kwargs: exchange.fetch_ohlcv(self, *args, **kwargs),
    )
    # "Now" is 30 minutes into the last recorded hour: that candle is still forming.
    now = START + (N_HISTORY - 1) * HOUR + 30 * 60_000
    monkeypatch.setattr(ccxt.binance, "milliseconds", lambda self: now)
    return exchange


def raise_on_fetch(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def fetch(self: Any, *args: Any, **kwargs: Any) -> list[list[Any]]:
        raise error

    monkeypatch.setattr(ccxt.binance, "fetch_ohlcv", fetch)


def test_pages_through_the_range(fake: FakeExchange, tmp_path: Path) -> None:
    start, end = START + 10 * HOUR, START + 2_210 * HOUR
    out = download_ohlcv(
        "binance", "BTC/USDT", "1h", start, end, tmp_path / "BTC_USDT-1h.csv.gz", progress=True
    )
    bars = load_bars(out)
    assert (bars.symbol, bars.timeframe, len(bars)) == ("BTC/USDT", "1h", 2_200)
    np.testing.assert_array_equal(bars.timestamp, START + np.arange(10, 2_210) * HOUR)
    np.testing.assert_array_equal(bars.close, [row[4] for row in fake.rows[10:2_210]])
    assert [since for since, _ in fake.calls] == [start, start + 1_000 * HOUR, start + 2_000 * HOUR]
    assert all(limit == 1_000 for _, limit in fake.calls)
    assert not list(tmp_path.glob(".partial-*"))


def test_defaults_skip_the_forming_candle(fake: FakeExchange, tmp_path: Path) -> None:
    out = download_ohlcv(
        "binance", "BTC/USDT", "1h", None, None, tmp_path, progress=False, limit=700
    )
    assert out == tmp_path / "BTC_USDT-1h.csv.gz"  # conventional name inside a directory
    bars = load_bars(out)
    assert len(bars) == 700  # start=None means `limit` bars before the end
    assert bars.timestamp[-1] == START + (N_HISTORY - 2) * HOUR


def test_end_of_history_stops_paging(fake: FakeExchange, tmp_path: Path) -> None:
    out = download_ohlcv("binance", "BTC/USDT", "1h", START - 50 * HOUR, None, tmp_path / "a.csv")
    assert len(load_bars(out, timeframe="1h")) == N_HISTORY - 1
    assert len(fake.calls) == 3


def test_malformed_exchange_data_does_not_clobber_a_good_file(
    fake: FakeExchange, tmp_path: Path
) -> None:
    target = tmp_path / "BTC_USDT-1h.csv.gz"
    download_ohlcv("binance", "BTC/USDT", "1h", START, START + 10 * HOUR, target, progress=False)
    good = target.read_bytes()
    fake.rows[5][2] = fake.rows[5][3] / 2  # high below low
    with pytest.raises(DataError, match=r"binance sent malformed candles: .*high .* < low"):
        download_ohlcv("binance", "BTC/USDT", "1h", START, START + 10 * HOUR, target)
    assert target.read_bytes() == good
    assert not list(tmp_path.glob(".partial-*"))


def test_empty_answer(fake: FakeExchange, tmp_path: Path) -> None:
    fake.rows = []
    with pytest.raises(DataError, match="binance returned no BTC/USDT 1h candles"):
        download_ohlcv("binance", "BTC/USDT", "1h", START, START + HOUR, tmp_path / "x.csv.gz")


@pytest.mark.parametrize(
    "error",
    [
        ccxt.NetworkError("binance GET https://api.binance.com/api/v3/exchangeInfo"),
        ccxt.RequestTimeout("binance GET https://api.binance.com/api/v3/klines timed out"),
        ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"),
    ],
    ids=["network", "timeout", "not-available"],
)
def test_no_network_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception
) -> None:
    raise_on_fetch(monkeypatch, error)
    with pytest.raises(DataError) as info:
        download_ohlcv("binance", "BTC/USDT", "1h", START, START + HOUR, tmp_path / "x.csv.gz")
    message = str(info.value)
    assert message.startswith("cannot reach binance (no network access): binance")
    assert "\n" not in message
    assert not (tmp_path / "x.csv.gz").exists()


def test_dns_failure_names_the_root_cause(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fetch(self: Any, *args: Any, **kwargs: Any) -> list[list[Any]]:
        try:
            raise OSError(-2, "Name or service not known")
        except OSError as exc:
            raise ccxt.NetworkError("binance GET https://api.binance.com/api/v3/klines") from exc

    monkeypatch.setattr(ccxt.binance, "fetch_ohlcv", fetch)
    with pytest.raises(DataError, match=r"no network access\).*Name or service not known"):
        download_ohlcv("binance", "BTC/USDT", "1h", START, START + HOUR, tmp_path / "x.csv.gz")


def test_rate_limit_and_unknown_market(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    raise_on_fetch(monkeypatch, ccxt.RateLimitExceeded("429 Too Many Requests"))
    with pytest.raises(DataError, match="binance rate-limited the download"):
        download_ohlcv("binance", "BTC/USDT", "1h", START, START + HOUR, tmp_path / "x.csv.gz")
    raise_on_fetch(monkeypatch, ccxt.BadSymbol("binance does not have market symbol FOO/BAR"))
    with pytest.raises(DataError, match="binance has no market 'FOO/BAR'"):
        download_ohlcv("binance", "FOO/BAR", "1h", START, START + HOUR, tmp_path / "x.csv.gz")


def test_unknown_exchange_suggests_close_ids(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown exchange 'binanse'.*did you mean binance"):
        download_ohlcv("binanse", "BTC/USDT", "1h", None, None, tmp_path / "x.csv.gz")


def test_unsupported_timeframe(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="kraken has no 3m candles"):
        download_ohlcv("kraken", "BTC/USD", "3m", None, None, tmp_path / "x.csv.gz")
    with pytest.raises(DataError, match="unknown timeframe '2w'"):
        download_ohlcv("kraken", "BTC/USD", "2w", None, None, tmp_path / "x.csv.gz")


def test_bad_range_and_output(fake: FakeExchange, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty download range"):
        download_ohlcv("binance", "BTC/USDT", "1h", START + HOUR, START, tmp_path / "x.csv.gz")
    with pytest.raises(DataError, match="unknown output format"):
        download_ohlcv("binance", "BTC/USDT", "1h", START, START + HOUR, tmp_path / "x.json")


def test_real_exchange_with_short_timeout(tmp_path: Path) -> None:
    """Real network call: succeeds online, and offline (CI, sandboxes) fails with one clear line."""
    try:
        out = download_ohlcv(
            "binance", "BTC/USDT", "1h", None, None, tmp_path, progress=False, limit=5, timeout_s=3
        )
    except DataError as exc:
        message = str(exc)
        assert "binance" in message
        assert "\n" not in message
        assert "Traceback" not in message
    else:
        assert len(load_bars(out)) == 5
