"""The array wrappers return exactly TA-Lib's output and reject input TA-Lib would mishandle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import talib

import axis
from axis.indicators import (
    MAX_PERIOD,
    adx,
    atr,
    bollinger,
    ema,
    macd,
    minus_di,
    plus_di,
    rsi,
    sma,
)

FloatArray = npt.NDArray[np.float64]

PACKAGED_CANDLES = Path(axis.__file__).parent / "data" / "sample" / "BTC_USDT-5m.csv.gz"
SHARED_CANDLES = Path("/work/shared/data/market/BTC_USDT-5m.csv.gz")


@pytest.fixture(scope="module")
def hlc() -> tuple[FloatArray, FloatArray, FloatArray]:
    path = PACKAGED_CANDLES if PACKAGED_CANDLES.exists() else SHARED_CANDLES
    if not path.exists():
        pytest.fail(f"sample candles missing: neither {PACKAGED_CANDLES} nor {SHARED_CANDLES}")
    frame = pd.read_csv(path)
    return (
        frame["high"].to_numpy(np.float64),
        frame["low"].to_numpy(np.float64),
        frame["close"].to_numpy(np.float64),
    )


def test_close_indicators_are_talib(hlc: tuple[FloatArray, FloatArray, FloatArray]) -> None:
    close = hlc[2]
    np.testing.assert_array_equal(sma(close, 20), talib.SMA(close, 20))
    np.testing.assert_array_equal(ema(close, 20), talib.EMA(close, 20))
    np.testing.assert_array_equal(rsi(close), talib.RSI(close, 14))
    for got, expected in zip(macd(close), talib.MACD(close, 12, 26, 9), strict=True):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(bollinger(close), talib.BBANDS(close, 20, 2.0, 2.0), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_candle_indicators_are_talib(hlc: tuple[FloatArray, FloatArray, FloatArray]) -> None:
    np.testing.assert_array_equal(atr(*hlc), talib.ATR(*hlc, 14))
    np.testing.assert_array_equal(adx(*hlc), talib.ADX(*hlc, 14))
    np.testing.assert_array_equal(plus_di(*hlc), talib.PLUS_DI(*hlc, 14))
    np.testing.assert_array_equal(minus_di(*hlc), talib.MINUS_DI(*hlc, 14))


def test_warm_up_is_nan_with_talib_lookbacks(
    hlc: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    high, low, close = (column[:200] for column in hlc)
    first_values = {
        "sma": (sma(close, 20), 19),
        "ema": (ema(close, 20), 19),
        "rsi": (rsi(close, 14), 14),
        "atr": (atr(high, low, close, 14), 14),
        "adx": (adx(high, low, close, 14), 27),
        "plus_di": (plus_di(high, low, close, 14), 14),
        "macd": (macd(close, 12, 26, 9)[0], 33),
        "bollinger": (bollinger(close, 20)[0], 19),
    }
    for name, (values, first) in first_values.items():
        assert np.isnan(values[:first]).all(), name
        assert not np.isnan(values[first:]).any(), name


def test_outputs_are_float64_arrays_of_input_length() -> None:
    close = np.linspace(100.0, 110.0, 60)
    for values in (sma(close, 5), rsi(close), *macd(close), *bollinger(close)):
        assert values.dtype == np.float64
        assert values.shape == close.shape


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a.tolist(),
        lambda a: a.astype(np.int64),
        lambda a: a.astype(np.float32),
        lambda a: pd.Series(a),
        lambda a: np.repeat(a, 2)[::2],  # a strided, non-contiguous view
    ],
    ids=["list", "int64", "float32", "series", "strided"],
)
def test_any_numeric_series_is_converted(convert: Callable[[FloatArray], object]) -> None:
    close = np.arange(100.0, 160.0)
    expected = talib.SMA(close, 10)
    np.testing.assert_array_equal(sma(convert(close), 10), expected)  # type: ignore[arg-type]


def test_leading_nans_are_allowed() -> None:
    close = np.concatenate(([np.nan] * 5, np.arange(1.0, 41.0)))
    values = ema(close, 10)
    np.testing.assert_array_equal(values, talib.EMA(close, 10))
    assert np.isnan(values[:14]).all()
    assert not np.isnan(values[14:]).any()


def test_nan_inside_the_series_is_rejected() -> None:
    close = np.arange(1.0, 41.0)
    close[17] = np.nan
    with pytest.raises(ValueError, match="close has a NaN at index 17"):
        sma(close, 5)


def test_infinite_price_is_rejected() -> None:
    high = np.full(30, 2.0)
    high[3] = np.inf
    with pytest.raises(ValueError, match="high contains an infinite value"):
        atr(high, np.ones(30), np.ones(30))


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="same length, got 30, 29, 30"):
        adx(np.ones(30), np.ones(29), np.ones(30))


def test_two_dimensional_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        rsi(np.ones((10, 2)))


def test_non_numeric_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="numeric series"):
        sma(["a", "b", "c"], 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: sma(c, 0), "period must be between 1 and"),
        (lambda c: ema(c, MAX_PERIOD + 1), "period must be between 1 and"),
        (lambda c: rsi(c, 1), "period must be between 2 and"),
        (lambda c: atr(c, c, c, 0), "period must be between 1 and"),
        (lambda c: adx(c, c, c, 1), "period must be between 2 and"),
        (lambda c: plus_di(c, c, c, 1), "period must be between 2 and"),
        (lambda c: minus_di(c, c, c, -2), "period must be between 2 and"),
        (lambda c: macd(c, 1, 26, 9), "fast must be between 2 and"),
        (lambda c: macd(c, 12, 26, 0), "signal must be between 1 and"),
        (lambda c: macd(c, 26, 12, 9), r"fast \(26\) must not exceed slow \(12\)"),
        (lambda c: bollinger(c, 1), "period must be between 2 and"),
        (lambda c: bollinger(c, 20, -2.0), "nbdev must be finite and non-negative"),
    ],
)
def test_bad_parameters_raise_value_error(call: Callable[[FloatArray], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(np.arange(1.0, 100.0))


def test_non_integer_period_raises_type_error() -> None:
    with pytest.raises(TypeError, match="period must be an integer"):
        sma(np.arange(1.0, 100.0), 14.5)  # type: ignore[arg-type]


def test_short_series_is_all_nan() -> None:
    assert np.isnan(sma([1.0, 2.0], 5)).all()
    assert sma([], 5).size == 0
