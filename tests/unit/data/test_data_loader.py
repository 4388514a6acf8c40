"""Loading candle and funding files: the happy paths and every malformed input a user can give."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from axis.data import (
    Bars,
    DataError,
    data_file_name,
    gaps,
    load_bars,
    load_funding,
    parse_file_name,
    sample_bars,
    write_bars,
)

HEADER = "timestamp,open,high,low,close,volume\n"
T0 = 1_672_677_900_000  # 2023-01-02 16:45 UTC, on the 5m grid
STEP = 300_000


def good_rows(n: int = 4) -> list[str]:
    return [f"{T0 + i * STEP},100.0,101.0,99.0,100.5,12.5\n" for i in range(n)]


def write_csv(tmp_path: Path, rows: list[str], name: str = "BTC_USDT-5m.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows))
    return path


def replace_row(index: int, row: str) -> list[str]:
    rows = good_rows()
    rows[index] = row
    return rows


def assert_one_line_error(path: Path, *fragments: str) -> str:
    with pytest.raises(DataError) as info:
        load_bars(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --------------------------------------------------------------------------- happy paths


def test_loads_csv_with_name_inferred_symbol_and_timeframe(tmp_path: Path) -> None:
    bars = load_bars(write_csv(tmp_path, good_rows()))
    assert (bars.symbol, bars.timeframe, len(bars)) == ("BTC/USDT", "5m", 4)
    assert bars.timestamp.dtype == np.int64
    for column in ("open", "high", "low", "close", "volume"):
        array = getattr(bars, column)
        assert array.dtype == np.float64
        assert array.flags["C_CONTIGUOUS"]
        assert array.flags["WRITEABLE"]  # a private copy, not a read-only pandas view
    np.testing.assert_array_equal(bars.close, [100.5] * 4)


def test_perpetual_name_gives_ccxt_symbol(tmp_path: Path) -> None:
    path = write_csv(tmp_path, good_rows(), "XRP_USDT_USDT-5m-futures.csv")
    assert load_bars(path).symbol == "XRP/USDT:USDT"


def test_explicit_symbol_and_timeframe_win(tmp_path: Path) -> None:
    path = write_csv(tmp_path, good_rows(), "BTC_USDT-5m.csv")
    bars = load_bars(path, symbol="ETH/USDT", timeframe="1m")
    assert (bars.symbol, bars.timeframe) == ("ETH/USDT", "1m")


def test_unconventional_name_infers_timeframe_from_spacing(tmp_path: Path) -> None:
    rows = [f"{T0 + i * 3_600_000},1,2,0.5,1.5,3\n" for i in range(5)]
    rows.pop(2)  # a gap must not confuse the median
    bars = load_bars(write_csv(tmp_path, rows, "my export.csv"))
    assert (bars.symbol, bars.timeframe) == ("my export", "1h")


def test_gzip_detected_by_content_and_header_case_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ETH_BTC-5m.csv.gz"
    text = "Timestamp, Open,HIGH,low,close,volume,trades\n" + "".join(good_rows())
    path.write_bytes(gzip.compress(text.encode()))
    bars = load_bars(path)
    assert len(bars) == 4
    assert bars.symbol == "ETH/BTC"


def test_missing_volume_loads_as_zeros(tmp_path: Path) -> None:
    path = tmp_path / "XRP_USDT_USDT-1h-mark.csv"
    path.write_text(
        "timestamp,open,high,low,close\n"
        + "".join(f"{T0 - T0 % 3_600_000 + i * 3_600_000},1,2,0.5,1.5\n" for i in range(3))
    )
    bars = load_bars(path)
    np.testing.assert_array_equal(bars.volume, np.zeros(3))


def test_whole_float_timestamps_accepted(tmp_path: Path) -> None:
    rows = [f"{T0 + i * STEP}.0,1,2,0.5,1.5,3\n" for i in range(3)]
    bars = load_bars(write_csv(tmp_path, rows))
    assert bars.timestamp.dtype == np.int64
    assert bars.timestamp[0] == T0


def test_parquet_round_trip(tmp_path: Path) -> None:
    source = sample_bars("BTC/USDT", "5m")
    path = write_bars(source, tmp_path / "BTC_USDT-5m.parquet")
    loaded = load_bars(path)
    assert (loaded.symbol, loaded.timeframe) == ("BTC/USDT", "5m")
    for column in ("timestamp", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(loaded, column), getattr(source, column))


def test_csv_gz_round_trip_is_exact_and_reproducible(tmp_path: Path) -> None:
    source = sample_bars("ETH/BTC", "5m")
    first = write_bars(source, tmp_path / "a" / "ETH_BTC-5m.csv.gz")
    second = write_bars(source, tmp_path / "b" / "ETH_BTC-5m.csv.gz")
    assert first.read_bytes() == second.read_bytes()
    loaded = load_bars(first)
    np.testing.assert_array_equal(loaded.close, source.close)
    np.testing.assert_array_equal(loaded.volume, source.volume)
    assert gzip.decompress(first.read_bytes()).startswith(HEADER.encode())


def test_parquet_with_datetime_index(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"open": [1.0, 1.1], "high": [1.2, 1.2], "low": [0.9, 1.0], "close": [1.1, 1.15]},
        index=pd.DatetimeIndex(
            pd.to_datetime([T0, T0 + STEP], unit="ms", utc=True), name="timestamp"
        ),
    )
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    bars = load_bars(path, "BTC/USDT")
    np.testing.assert_array_equal(bars.timestamp, [T0, T0 + STEP])
    assert bars.timeframe == "5m"


def test_unknown_output_format(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown output format"):
        write_bars(sample_bars("BTC/USDT", "5m"), tmp_path / "x.txt")


def test_gaps_reported_not_rejected(tmp_path: Path) -> None:
    rows = good_rows(6)
    del rows[2:4]
    bars = load_bars(write_csv(tmp_path, rows))
    assert gaps(bars) == [(T0 + 2 * STEP, T0 + 4 * STEP)]
    assert gaps(sample_bars("BTC/USDT", "5m")) == []
    assert len(gaps(sample_bars("ADA/BTC", "5m"))) > 0


@pytest.mark.slow
def test_million_rows_load_fast(tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(1)
    close = np.round(20_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n))), 2)
    bars = Bars(
        "BTC/USDT",
        "1m",
        T0 + np.arange(n, dtype=np.int64) * 60_000,
        close,
        close + 1.0,
        close - 1.0,
        close,
        np.round(rng.uniform(0, 10, n), 3),
    )
    path = write_bars(bars, tmp_path / "BTC_USDT-1m.csv")
    started = time.perf_counter()
    loaded = load_bars(path)
    elapsed = time.perf_counter() - started
    assert len(loaded) == n
    assert elapsed < 5.0, f"1M rows took {elapsed:.2f}s"


# --------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(tmp_path / "nope.csv", "file not found")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert_one_line_error(tmp_path, "is a directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.csv"
    path.write_bytes(b"")
    assert_one_line_error(path, "file is empty")


def test_empty_gzip(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.csv.gz"
    path.write_bytes(gzip.compress(b""))
    assert_one_line_error(path, "file is empty")


def test_header_without_rows(tmp_path: Path) -> None:
    assert_one_line_error(write_csv(tmp_path, []), "no data rows")


def test_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.csv"
    path.write_text("timestamp,open,high,low,volume\n1672677900000,1,2,0.5,3\n")
    assert_one_line_error(path, "missing column close", "found columns: timestamp, open")


def test_missing_header_row(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.csv"
    path.write_text("".join(good_rows()))
    assert_one_line_error(path, "no header row")


def test_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.csv"
    path.write_bytes(bytes(range(256)) * 8)
    assert_one_line_error(path, "not a readable CSV or Parquet file")


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "".join(good_rows(500))).encode())[:200])
    assert_one_line_error(path, "not a readable")


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-5m.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 64)
    assert_one_line_error(path, "unreadable Parquet file")


def test_ragged_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(2, f"{T0 + 2 * STEP},1,2,0.5,1.5,3,99\n"))
    assert_one_line_error(path, "malformed CSV", "line 4")


def test_unsorted_timestamps(tmp_path: Path) -> None:
    rows = good_rows()
    rows[1], rows[2] = rows[2], rows[1]
    assert_one_line_error(write_csv(tmp_path, rows), "not sorted", "line 4", str(T0 + STEP))


def test_duplicate_timestamps(tmp_path: Path) -> None:
    rows = good_rows()
    rows[2] = rows[1]
    assert_one_line_error(
        write_csv(tmp_path, rows), "duplicate timestamp", str(T0 + STEP), "line 4"
    )


def test_nan_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(1, f"{T0 + STEP},100,101,99,NaN,12\n"))
    assert_one_line_error(path, "NaN", "column 'close'", "line 3")


def test_empty_cell(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(2, f"{T0 + 2 * STEP},100,101,,100.5,12\n"))
    assert_one_line_error(path, "empty", "column 'low'", "line 4")


def test_empty_timestamp_cell(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(1, ",100,101,99,100.5,12\n"))
    assert_one_line_error(path, "empty cell in column 'timestamp'", "line 3")


def test_text_in_number_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(1, f"{T0 + STEP},100,abc,99,100.5,12\n"))
    assert_one_line_error(path, "non-numeric value 'abc'", "column 'high'", "line 3")


def test_date_text_in_timestamp_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(0, "2023-01-02 16:45:00,100,101,99,100.5,12\n"))
    assert_one_line_error(path, "non-numeric value '2023-01-02 16:45:00'", "line 2")


def test_infinite_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(3, f"{T0 + 3 * STEP},100,inf,99,100.5,12\n"))
    assert_one_line_error(path, "infinite value", "line 5")


def test_high_below_low(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(2, f"{T0 + 2 * STEP},100,98,99,98.5,12\n"))
    message = assert_one_line_error(path, "high 98.0 < low 99.0", "line 4")
    assert f"timestamp {T0 + 2 * STEP}" in message


def test_high_below_open_or_close(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(1, f"{T0 + STEP},102,101,99,100,12\n"))
    assert_one_line_error(path, "high 101.0 below max(open, close) = 102.0", "line 3")


def test_low_above_open_or_close(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(1, f"{T0 + STEP},100,101,99.5,99,12\n"))
    assert_one_line_error(path, "low 99.5 above min(open, close) = 99.0", "line 3")


@pytest.mark.parametrize("row", ["-100,101,99,100.5", "100,101,0,100.5"])
def test_non_positive_price(tmp_path: Path, row: str) -> None:
    path = write_csv(tmp_path, replace_row(2, f"{T0 + 2 * STEP},{row},12\n"))
    assert_one_line_error(path, "non-positive price", "line 4")


def test_negative_volume(tmp_path: Path) -> None:
    path = write_csv(tmp_path, replace_row(3, f"{T0 + 3 * STEP},100,101,99,100.5,-1\n"))
    assert_one_line_error(path, "negative volume -1.0", "line 5")


def test_timestamps_in_seconds(tmp_path: Path) -> None:
    rows = [f"{T0 // 1000 + i * 300},1,2,0.5,1.5,3\n" for i in range(4)]
    assert_one_line_error(write_csv(tmp_path, rows), "look like seconds")
    assert_one_line_error(write_csv(tmp_path, rows, "export.csv"), "look like seconds")


def test_timestamps_in_microseconds(tmp_path: Path) -> None:
    rows = [f"{(T0 + i * STEP) * 1000},1,2,0.5,1.5,3\n" for i in range(4)]
    assert_one_line_error(write_csv(tmp_path, rows), "not epoch milliseconds")


def test_bars_closer_than_timeframe(tmp_path: Path) -> None:
    path = write_csv(tmp_path, good_rows(), "BTC_USDT-1h.csv")
    assert_one_line_error(path, "shorter than the 1h timeframe", "line 3")


def test_unknown_timeframe_argument(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown timeframe '7m'"):
        load_bars(write_csv(tmp_path, good_rows()), timeframe="7m")


def test_single_bar_needs_a_timeframe(tmp_path: Path) -> None:
    assert_one_line_error(write_csv(tmp_path, good_rows(1), "one.csv"), "single bar")
    assert len(load_bars(write_csv(tmp_path, good_rows(1), "one.csv"), timeframe="5m")) == 1


# --------------------------------------------------------------------------- funding


def test_load_funding(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT_USDT-8h-funding_rate.csv"
    path.write_text("timestamp,funding_rate\n1637193600017,0.0001\n1637222400007,-0.00025\n")
    funding = load_funding(path)
    assert funding.symbol == "BTC/USDT:USDT"
    np.testing.assert_array_equal(funding.rate, [0.0001, -0.00025])
    assert funding.timestamp.dtype == np.int64
    assert len(funding) == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("timestamp,rate\n1637193600017,0.0001\n", "missing column funding_rate"),
        ("timestamp,funding_rate\n1637193600017,nan\n", "NaN"),
        ("timestamp,funding_rate\n1637193600017,x\n", "non-numeric value 'x'"),
        ("timestamp,funding_rate\n1637193600017,0.1\n1637193600017,0.1\n", "duplicate"),
        ("timestamp,funding_rate\n1637222400007,0.1\n1637193600017,0.1\n", "not sorted"),
    ],
)
def test_bad_funding(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "BTC_USDT_USDT-8h-funding_rate.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=fragment.replace("(", r"\(")) as info:
        load_funding(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- file names


def test_file_name_convention() -> None:
    info = parse_file_name("XRP_USDT_USDT-8h-funding_rate.csv.gz")
    assert info is not None
    assert (info.symbol, info.timeframe, info.kind) == ("XRP/USDT:USDT", "8h", "funding")
    spot = parse_file_name(Path("/x/BTC_USDT-5m.parquet"))
    assert spot is not None
    assert (spot.symbol, spot.kind) == ("BTC/USDT", "candles")
    assert parse_file_name("notes.csv") is None
    assert parse_file_name("BTC_USDT-5m-trades.csv.gz") is None
    assert data_file_name("BTC/USDT", "5m") == "BTC_USDT-5m.csv.gz"
    assert data_file_name("XRP/USDT:USDT", "5m") == "XRP_USDT_USDT-5m-futures.csv.gz"
    assert data_file_name("XRP/USDT:USDT", "1h", "mark") == "XRP_USDT_USDT-1h-mark.csv.gz"
    for name in ("BTC_USDT-5m.csv.gz", "XRP_USDT_USDT-5m-futures.csv.gz"):
        parsed = parse_file_name(name)
        assert parsed is not None
        assert data_file_name(parsed.symbol, parsed.timeframe, parsed.kind) == name
