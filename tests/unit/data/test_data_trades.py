"""Public trades: loading the tape, 1 ms tick bars, replay through the bar-based backtester."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from axis.data import (
    SAMPLE_DIR,
    TICK_TIMEFRAME,
    Bars,
    DataError,
    Trades,
    data_file_name,
    gaps,
    load_bars,
    load_trades,
    parse_file_name,
    resample,
    sample_bars,
    sample_trades,
    trade_bars,
    write_bars,
)

TRADES_FILE = SAMPLE_DIR / "XRP_ETH-trades.csv.gz"
HEADER = "timestamp,id,side,price,amount\n"
T0 = 1_570_752_011_620  # first print of the bundled XRP/ETH tape


def write_trades(tmp_path: Path, rows: list[str], name: str = "XRP_ETH-trades.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows))
    return path


def good_rows() -> list[str]:
    return [
        f"{T0},1,buy,10.0,1\n",
        f"{T0 + 1},2,sell,10.5,2\n",
        f"{T0 + 2},3,buy,11.0,3\n",
        f"{T0 + 3},4,sell,10.8,4\n",
    ]


def replace_row(index: int, row: str) -> list[str]:
    rows = good_rows()
    rows[index] = row
    return rows


def bars_equal(a: Bars, b: Bars) -> None:
    assert (a.symbol, a.timeframe) == (b.symbol, b.timeframe)
    for column in ("timestamp", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column), err_msg=column)


# --------------------------------------------------------------------------- bundled tape


def test_bundled_trades_load() -> None:
    trades = sample_trades("xrp/eth")
    assert trades.symbol == "XRP/ETH"
    assert len(trades) == 12_477
    assert trades.timestamp.dtype == np.int64
    assert trades.price.dtype == trades.amount.dtype == np.float64
    assert trades.side.dtype == np.int8
    assert set(np.unique(trades.side).tolist()) == {-1, 1}
    assert int((trades.side == 1).sum()) == 6_524  # taker buys
    assert int((trades.side == -1).sum()) == 5_953  # taker sells
    assert np.all(np.diff(trades.timestamp) >= 0)
    assert np.all(trades.price > 0)
    assert np.all(trades.amount > 0)
    assert trades.timestamp[0] == T0


def test_bundled_tick_bars_are_one_per_distinct_millisecond() -> None:
    trades = sample_trades("XRP/ETH")
    bars = trade_bars(trades)
    distinct = len(np.unique(trades.timestamp))
    assert distinct == 9_987  # 12,477 prints, many sharing a millisecond
    assert (bars.symbol, bars.timeframe, len(bars)) == ("XRP/ETH", TICK_TIMEFRAME, distinct)
    assert np.all(np.diff(bars.timestamp) > 0)
    assert bars.volume.sum() == pytest.approx(trades.amount.sum(), rel=1e-12)
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))


def test_load_bars_recognises_a_trades_file() -> None:
    bars = load_bars(TRADES_FILE)
    bars_equal(bars, trade_bars(load_trades(TRADES_FILE)))
    assert bars.symbol == "XRP/ETH"  # from the file name
    assert load_bars(TRADES_FILE, symbol="XRP/WETH").symbol == "XRP/WETH"
    bars_equal(load_bars(TRADES_FILE, timeframe="1ms"), bars)


def test_load_bars_resamples_trades_to_a_given_timeframe() -> None:
    minutes = load_bars(TRADES_FILE, timeframe="1m")
    bars_equal(minutes, resample(trade_bars(sample_trades("XRP/ETH")), "1m"))
    with pytest.raises(DataError, match=r"XRP_ETH-trades\.csv\.gz: unknown timeframe '7m'"):
        load_bars(TRADES_FILE, timeframe="7m")


def test_sample_catalog_points_to_sample_trades() -> None:
    with pytest.raises(DataError, match=r"trade_bars\(sample_trades\('XRP/ETH'\)\)"):
        sample_bars("XRP/ETH", "1ms")
    with pytest.raises(DataError, match=r"no bundled trades sample for BTC/USDT.*XRP/ETH"):
        sample_trades("BTC/USDT")


def test_trades_file_name_convention() -> None:
    info = parse_file_name("XRP_ETH-trades.csv.gz")
    assert info is not None
    assert (info.symbol, info.timeframe, info.kind) == ("XRP/ETH", "1ms", "trades")
    assert data_file_name("XRP/ETH", "1ms", "trades") == "XRP_ETH-trades.csv.gz"
    ticks = parse_file_name("XRP_ETH-1ms.csv.gz")  # tick bars written back with write_bars
    assert ticks is not None
    assert (ticks.symbol, ticks.timeframe, ticks.kind) == ("XRP/ETH", "1ms", "candles")


def test_tick_bars_round_trip_through_a_bar_file(tmp_path: Path) -> None:
    bars = trade_bars(sample_trades("XRP/ETH"))
    path = write_bars(bars, tmp_path / data_file_name("XRP/ETH", "1ms"))
    # The loader's spacing check accepts 1 ms bars, however sparse.
    bars_equal(load_bars(path), bars)


# --------------------------------------------------------------------------- aggregation


def test_same_millisecond_trades_become_one_bar(tmp_path: Path) -> None:
    path = write_trades(
        tmp_path,
        [
            f"{T0},1,buy,10.0,1\n",
            f"{T0},2,SELL,12.0,2\n",
            f"{T0},3, Buy ,9.0,3\n",
            f"{T0},4,sell,11.0,4\n",
            f"{T0 + 1},5,buy,11.5,0.5\n",
            f"{T0 + 5},6,sell,11.2,1.5\n",
            f"{T0 + 5},7,sell,11.3,2.5\n",
        ],
    )
    trades = load_trades(path)
    assert trades.symbol == "XRP/ETH"
    np.testing.assert_array_equal(trades.side, [1, -1, 1, -1, 1, -1, -1])
    bars = trade_bars(trades)
    assert (bars.timeframe, len(bars)) == ("1ms", 3)
    np.testing.assert_array_equal(bars.timestamp, [T0, T0 + 1, T0 + 5])
    np.testing.assert_array_equal(bars.open, [10.0, 11.5, 11.2])  # first print
    np.testing.assert_array_equal(bars.high, [12.0, 11.5, 11.3])
    np.testing.assert_array_equal(bars.low, [9.0, 11.5, 11.2])
    np.testing.assert_array_equal(bars.close, [11.0, 11.5, 11.3])  # last print
    np.testing.assert_array_equal(bars.volume, [10.0, 0.5, 4.0])
    assert gaps(bars) == [(T0 + 2, T0 + 5)]
    bars_equal(load_bars(path), bars)


def test_trades_without_id_and_with_other_names(tmp_path: Path) -> None:
    path = tmp_path / "tape.csv"
    path.write_text(f"Timestamp, Price ,Amount,Side\n{T0},10,1,buy\n{T0 + 7},11,2,sell\n")
    trades = load_trades(path)
    assert trades.symbol == "tape"  # name outside the convention: the stem
    assert load_trades(path, symbol="ETH/BTC").symbol == "ETH/BTC"
    np.testing.assert_array_equal(trades.price, [10.0, 11.0])
    assert len(load_bars(path)) == 2


def test_parquet_trades_load(tmp_path: Path) -> None:
    path = tmp_path / "XRP_ETH-trades.parquet"
    frame = pd.read_csv(TRADES_FILE)
    frame.to_parquet(path)
    trades = load_trades(path)
    reference = sample_trades("XRP/ETH")
    np.testing.assert_array_equal(trades.timestamp, reference.timestamp)
    np.testing.assert_array_equal(trades.side, reference.side)
    bars_equal(load_bars(path), trade_bars(reference))


def test_between_and_empty_tape() -> None:
    trades = sample_trades("XRP/ETH")
    part = trades.between(T0, T0 + 60_000)
    assert len(part) > 0
    assert np.all(part.timestamp < T0 + 60_000)
    empty = trades.between(T0, T0)
    assert len(empty) == 0
    bars = trade_bars(empty)
    assert (len(bars), bars.timeframe) == (0, "1ms")


def test_trade_bars_rejects_an_unsorted_tape() -> None:
    trades = Trades(
        "XRP/ETH",
        np.array([T0 + 1, T0], dtype=np.int64),
        np.array([1.0, 1.0]),
        np.array([1.0, 1.0]),
        np.array([1, -1], dtype=np.int8),
    )
    with pytest.raises(DataError, match=r"XRP/ETH trades: timestamps not sorted"):
        trade_bars(trades)
    with pytest.raises(DataError, match="column 'side' has 1 values but there are 2 timestamps"):
        Trades("XRP/ETH", trades.timestamp, trades.price, trades.amount, trades.side[:1])


# --------------------------------------------------------------------------- bad input


def assert_one_line_error(path: Path, *fragments: str) -> None:
    # Through load_trades and through load_bars, which recognises the trades file.
    for load in (load_trades, load_bars):
        with pytest.raises(DataError) as info:
            load(path)
        message = str(info.value)
        assert "\n" not in message
        assert str(path) in message, message
        for fragment in fragments:
            assert fragment in message, message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "XRP_ETH-trades.csv.gz"
    for load in (load_trades, load_bars):
        with pytest.raises(DataError, match=r"XRP_ETH-trades\.csv\.gz: file not found"):
            load(path)


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("timestamp,id,side,price\n", "missing column amount"),
        ("timestamp,id,price,amount\n", "missing column side"),
        ("id,side,price,amount\n", "missing column timestamp"),
    ],
)
def test_missing_columns(tmp_path: Path, header: str, fragment: str) -> None:
    path = tmp_path / "XRP_ETH-trades.csv"
    path.write_text(header + "1570752011620,1,buy,10.0\n")
    assert_one_line_error(path, fragment)


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        (f"{T0 + 2},3,buy,abc,3\n", ("non-numeric value 'abc' in column 'price'", "line 4")),
        (f"{T0 + 2},3,buy,NaN,3\n", ("NaN", "column 'price'", "line 4")),
        (f"{T0 + 2},3,buy,11.0,\n", ("column 'amount'", "line 4")),
        (f"{T0 + 2},3,buy,11.0,inf\n", ("infinite value in column 'amount'", "line 4")),
        (f"x{T0},3,buy,11.0,3\n", ("column 'timestamp'", "line 4")),
        (f"{T0 + 2},3,buy,0,3\n", ("non-positive price 0.0 at line 4", f"timestamp {T0 + 2}")),
        (f"{T0 + 2},3,buy,11.0,-3\n", ("non-positive amount -3.0 at line 4",)),
        (f"{T0 + 2},3,buy,11.0,0\n", ("non-positive amount 0.0 at line 4",)),
        (f"{T0 + 2},3,hold,11.0,3\n", ("unknown side 'hold' at line 4", "use buy or sell")),
        (f"{T0 + 2},3,,11.0,3\n", ("empty or NaN value in column 'side' at line 4",)),
        (f"{T0 + 2},3,1,11.0,3\n", ("unknown side '1' at line 4",)),
        (f"{T0 - 5},3,buy,11.0,3\n", ("timestamps not sorted", "line 4", "line 3")),
        (f"{T0 * 1000},3,buy,11.0,3\n", ("not epoch milliseconds", "micro- or nanoseconds")),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path: Path, row: str, fragments: tuple[str]) -> None:
    assert_one_line_error(write_trades(tmp_path, replace_row(2, row)), *fragments)


def test_equal_timestamps_are_fine(tmp_path: Path) -> None:
    rows = [f"{T0},{i},buy,10.0,1\n" for i in range(5)]
    trades = load_trades(write_trades(tmp_path, rows))
    assert len(trades) == 5
    assert len(trade_bars(trades)) == 1


def test_header_only_and_empty_file(tmp_path: Path) -> None:
    assert_one_line_error(write_trades(tmp_path, []), "has a header but no data rows")
    empty = tmp_path / "XRP_ETH-trades.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="file is empty"):
        load_trades(empty)


# --------------------------------------------------------------------------- vs 1m candles


def test_tick_bars_resampled_to_1m_match_the_exchange_candles() -> None:
    """The exchange's XRP/ETH 1m candles are exactly its trades aggregated per minute.

    Checked on the bundled files: every minute with a print has a candle and vice versa (2,469
    of the 3,560 minutes in the period; quiet minutes have neither), and open, high, low, close
    AND volume agree bit for bit: volume is in base units (XRP), the trades' summed amount. So
    there is no mismatch to document beyond resample's default of dropping the first and last
    minutes, which the tape covers only in part (first print 11.6 s into its minute; the last
    minute is cut short), as it would for a forming candle.
    """
    candles = sample_bars("XRP/ETH", "1m")
    ticks = trade_bars(sample_trades("XRP/ETH"))
    assert len(candles) == 2_469
    span = (int(candles.timestamp[-1]) - int(candles.timestamp[0])) // 60_000 + 1
    assert span == 3_560

    full = resample(ticks, "1m", keep_partial=True)
    bars_equal(full, candles)

    honest = resample(ticks, "1m")
    assert len(honest) == len(candles) - 2
    bars_equal(honest, candles.between(int(candles.timestamp[1]), int(candles.timestamp[-1])))


# --------------------------------------------------------------------------- backtest on ticks


def test_backtest_replays_the_tape_and_engines_agree() -> None:
    from axis.backtest.runner import run_backtest
    from axis.config import BacktestConfig

    results = {
        engine: run_backtest(
            BacktestConfig(
                strategy="ma_crossover",
                data=TRADES_FILE,
                params={"fast": 50, "slow": 200},
                fee_model="zero",
                engine=engine,
            )
        )
        for engine in ("event", "vectorized")
    }
    event, vectorized = results["event"], results["vectorized"]
    assert len(event.trades) > 0
    assert event.trades_digest() == vectorized.trades_digest()
    ticks = trade_bars(sample_trades("XRP/ETH"))
    np.testing.assert_array_equal(event.timestamps, ticks.timestamp)  # one step per tick bar
    # Every fill happens on a millisecond that printed: the replay invents no prices in between.
    printed = set(ticks.timestamp.tolist())
    for trade in event.trades:
        assert trade.symbol == "XRP/ETH"
        assert trade.entry_time in printed
        assert trade.exit_time in printed
