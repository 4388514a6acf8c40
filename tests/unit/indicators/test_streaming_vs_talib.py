"""Streaming indicators must reproduce TA-Lib bar for bar, warm-up included.

The reference is TA-Lib itself, run over the same candles: real BTC/USDT 5m candles for the
fixed cases and random walks (with flat stretches) for the property tests. Before warm-up both
must be NaN; afterwards values must agree to ``RTOL``.

Tolerances: SMA/EMA/ATR/RSI/ADX agree to a few ulps. MACD lines and Bollinger bands are
differences of price-sized numbers that can sit near zero, so their error is measured against
the bar's price (TA-Lib 0.8 also evaluates its EMA step with a fused multiply-add, which Python
3.11 floats cannot express: the last bit of each EMA may differ). Nothing needs TA-Lib's
"unstable period": with its default of 0 the streams match from TA-Lib's first value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import axis
from axis.indicators import (
    BollingerValue,
    MACDValue,
    StreamingADX,
    StreamingATR,
    StreamingBollinger,
    StreamingEMA,
    StreamingMACD,
    StreamingRSI,
    StreamingSMA,
)

FloatArray = npt.NDArray[np.float64]

RTOL = 1e-9
OSCILLATOR_ATOL = 1e-9  # RSI/ADX/DI live on 0..100, so an absolute floor is meaningful

PACKAGED_CANDLES = Path(axis.__file__).parent / "data" / "sample" / "BTC_USDT-5m.csv.gz"
SHARED_CANDLES = Path("/work/shared/data/market/BTC_USDT-5m.csv.gz")

PERIODS = [2, 14, 50]
MACD_PARAMS = [(12, 26, 9), (2, 3, 1), (5, 35, 5), (3, 50, 14), (12, 12, 9)]


class Candles:
    """High/low/close columns as float64 arrays."""

    def __init__(self, high: FloatArray, low: FloatArray, close: FloatArray) -> None:
        self.high = high
        self.low = low
        self.close = close

    def __repr__(self) -> str:
        # Full precision so a failing hypothesis example can be replayed exactly.
        high, low, close = self.high.tolist(), self.low.tolist(), self.close.tolist()
        return f"Candles(high={high}, low={low}, close={close})"


@pytest.fixture(scope="module")
def btc() -> Candles:
    path = PACKAGED_CANDLES if PACKAGED_CANDLES.exists() else SHARED_CANDLES
    if not path.exists():
        pytest.fail(f"sample candles missing: neither {PACKAGED_CANDLES} nor {SHARED_CANDLES}")
    frame = pd.read_csv(path)
    return Candles(
        frame["high"].to_numpy(np.float64),
        frame["low"].to_numpy(np.float64),
        frame["close"].to_numpy(np.float64),
    )


def assert_matches(
    actual: Sequence[float] | FloatArray,
    expected: FloatArray,
    *,
    price: FloatArray | None = None,
    atol: float = 0.0,
) -> None:
    """NaN exactly where TA-Lib is NaN (the warm-up), equal to ``RTOL`` everywhere else.

    With ``price``, the error is also allowed to be ``RTOL`` of that bar's price: MACD lines and
    Bollinger bands are differences of price-sized numbers and can sit near zero.
    """
    got = np.asarray(actual, dtype=np.float64)
    assert got.shape == expected.shape
    warm = ~np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(got), ~warm, err_msg="warm-up NaN pattern differs")
    if price is None:
        np.testing.assert_allclose(got[warm], expected[warm], rtol=RTOL, atol=atol)
    else:
        scale = np.abs(price[warm])
        np.testing.assert_allclose(
            got[warm] / scale, expected[warm] / scale, rtol=RTOL, atol=RTOL, err_msg="per price"
        )


def first_valid(expected: FloatArray) -> int:
    valid = np.flatnonzero(~np.isnan(expected))
    return int(valid[0]) if valid.size else len(expected)


def feed_close(stream: Callable[[float], float], closes: FloatArray) -> list[float]:
    return [stream(x) for x in closes.tolist()]


def feed_candles(stream: Callable[[float, float, float], float], bars: Candles) -> list[float]:
    return [
        stream(h, lo, c)
        for h, lo, c in zip(bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), strict=True)
    ]


def check_sma(bars: Candles, period: int) -> None:
    assert_matches(
        feed_close(StreamingSMA(period).update, bars.close), talib.SMA(bars.close, period)
    )


def check_ema(bars: Candles, period: int) -> None:
    assert_matches(
        feed_close(StreamingEMA(period).update, bars.close), talib.EMA(bars.close, period)
    )


def check_rsi(bars: Candles, period: int) -> None:
    assert_matches(
        feed_close(StreamingRSI(period).update, bars.close),
        talib.RSI(bars.close, period),
        atol=OSCILLATOR_ATOL,
    )


def check_atr(bars: Candles, period: int) -> None:
    assert_matches(
        feed_candles(StreamingATR(period).update, bars),
        talib.ATR(bars.high, bars.low, bars.close, period),
    )


def check_adx(bars: Candles, period: int) -> None:
    stream = StreamingADX(period)
    adx, plus, minus = [], [], []
    for h, lo, c in zip(bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), strict=True):
        adx.append(stream.update(h, lo, c))
        plus.append(stream.plus_di)
        minus.append(stream.minus_di)
    hlc = (bars.high, bars.low, bars.close)
    assert_matches(adx, talib.ADX(*hlc, period), atol=OSCILLATOR_ATOL)
    assert_matches(plus, talib.PLUS_DI(*hlc, period), atol=OSCILLATOR_ATOL)
    assert_matches(minus, talib.MINUS_DI(*hlc, period), atol=OSCILLATOR_ATOL)


def check_macd(bars: Candles, fast: int, slow: int, signal: int) -> None:
    stream = StreamingMACD(fast, slow, signal)
    got = np.array([stream.update(x) for x in bars.close.tolist()], dtype=np.float64)
    expected = talib.MACD(bars.close, fast, slow, signal)
    for column, reference in enumerate(expected):
        assert_matches(got[:, column], reference, price=bars.close)


def check_bollinger(bars: Candles, period: int, nbdev: float) -> None:
    stream = StreamingBollinger(period, nbdev)
    got = np.array([stream.update(x) for x in bars.close.tolist()], dtype=np.float64)
    expected = talib.BBANDS(bars.close, period, nbdev, nbdev)
    for column, reference in enumerate(expected):
        assert_matches(got[:, column], reference, price=bars.close)


# --- real BTC/USDT 5m candles -------------------------------------------------------------


@pytest.mark.parametrize("period", [1, *PERIODS])
def test_sma_matches_talib(btc: Candles, period: int) -> None:
    check_sma(btc, period)


@pytest.mark.parametrize("period", [1, *PERIODS])
def test_ema_matches_talib(btc: Candles, period: int) -> None:
    check_ema(btc, period)


@pytest.mark.parametrize("period", PERIODS)
def test_rsi_matches_talib(btc: Candles, period: int) -> None:
    check_rsi(btc, period)


@pytest.mark.parametrize("period", [1, *PERIODS])
def test_atr_matches_talib(btc: Candles, period: int) -> None:
    check_atr(btc, period)


@pytest.mark.parametrize("period", PERIODS)
def test_adx_and_di_match_talib(btc: Candles, period: int) -> None:
    check_adx(btc, period)


@pytest.mark.parametrize(("fast", "slow", "signal"), MACD_PARAMS)
def test_macd_matches_talib(btc: Candles, fast: int, slow: int, signal: int) -> None:
    check_macd(btc, fast, slow, signal)


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("nbdev", [1.0, 2.0, 2.5])
def test_bollinger_matches_talib(btc: Candles, period: int, nbdev: float) -> None:
    check_bollinger(btc, period, nbdev)


# --- warm-up -----------------------------------------------------------------------------

WarmupCase = tuple[
    Callable[[], StreamingSMA | StreamingEMA | StreamingRSI | StreamingMACD | StreamingBollinger],
    Callable[[FloatArray], FloatArray],
]
CLOSE_WARMUPS: dict[str, WarmupCase] = {
    "sma": (lambda: StreamingSMA(14), lambda c: talib.SMA(c, 14)),
    "ema": (lambda: StreamingEMA(14), lambda c: talib.EMA(c, 14)),
    "rsi": (lambda: StreamingRSI(14), lambda c: talib.RSI(c, 14)),
    "macd": (lambda: StreamingMACD(12, 26, 9), lambda c: talib.MACD(c, 12, 26, 9)[0]),
    "bollinger": (lambda: StreamingBollinger(20, 2.0), lambda c: talib.BBANDS(c, 20)[1]),
}


@pytest.mark.parametrize("name", sorted(CLOSE_WARMUPS))
def test_ready_flips_exactly_when_talib_starts(btc: Candles, name: str) -> None:
    make, reference = CLOSE_WARMUPS[name]
    stream = make()
    start = first_valid(reference(btc.close))
    assert stream.warmup == start + 1
    for index, close in enumerate(btc.close[: start + 3].tolist()):
        stream.update(close)
        assert stream.ready is (index >= start)
        value = stream.value
        values = value if isinstance(value, tuple) else (value,)
        assert all(math.isnan(v) for v in values) is (index < start)


@pytest.mark.parametrize("stream_type", [StreamingATR, StreamingADX])
def test_candle_streams_ready_flips_exactly_when_talib_starts(
    btc: Candles, stream_type: type[StreamingATR] | type[StreamingADX]
) -> None:
    stream = stream_type(14)
    reference = talib.ATR if stream_type is StreamingATR else talib.ADX
    start = first_valid(reference(btc.high, btc.low, btc.close, 14))
    assert stream.warmup == start + 1
    for index in range(start + 3):
        stream.update(float(btc.high[index]), float(btc.low[index]), float(btc.close[index]))
        assert stream.ready is (index >= start)
        assert math.isnan(stream.value) is (index < start)


def test_di_is_ready_before_adx(btc: Candles) -> None:
    stream = StreamingADX(14)
    for index in range(14):
        stream.update(float(btc.high[index]), float(btc.low[index]), float(btc.close[index]))
        assert math.isnan(stream.plus_di)
    stream.update(float(btc.high[14]), float(btc.low[14]), float(btc.close[14]))
    assert not math.isnan(stream.plus_di)
    assert not math.isnan(stream.minus_di)
    assert not stream.ready


def test_multi_line_values_are_named_tuples(btc: Candles) -> None:
    macd = StreamingMACD()
    bands = StreamingBollinger()
    for close in btc.close[:40].tolist():
        line = macd.update(close)
        band = bands.update(close)
    assert isinstance(line, MACDValue)
    assert line == macd.value
    assert line.hist == line.macd - line.signal
    assert isinstance(band, BollingerValue)
    assert band.lower < band.middle < band.upper


# --- TA-Lib conventions these streams rely on -----------------------------------------------


def test_talib_macd_seeds_fast_ema_on_the_slow_bar(btc: Candles) -> None:
    """MACD is not EMA(fast) - EMA(slow): TA-Lib seeds the fast EMA on the same bar as the slow
    one, with the SMA of the last ``fast`` of the first ``slow`` closes. MACDEXT with EMAs is
    the same computation."""
    close = btc.close
    line, _, _ = talib.MACD(close, 12, 26, 9)
    ext_line, _, _ = talib.MACDEXT(
        close, 12, talib.MA_Type.EMA, 26, talib.MA_Type.EMA, 9, talib.MA_Type.EMA
    )
    np.testing.assert_array_equal(line, ext_line)

    fast = math.fsum(close[14:26].tolist()) / 12
    for x in close[26:34].tolist():
        fast = (x - fast) * (2.0 / 13.0) + fast
    slow = talib.EMA(close, 26)[33]
    np.testing.assert_allclose(line[33], fast - slow, rtol=1e-9, atol=1e-9)

    naive = talib.EMA(close, 12)[33] - slow
    assert abs(line[33] - naive) > 1e-3


def test_talib_bbands_uses_population_std(btc: Candles) -> None:
    close = btc.close[:200]
    upper, middle, _ = talib.BBANDS(close, 20, 1.0, 1.0)
    windows = np.lib.stride_tricks.sliding_window_view(close, 20)
    np.testing.assert_allclose((upper - middle)[19:], windows.std(axis=1, ddof=0), rtol=1e-9)


# --- long runs ---------------------------------------------------------------------------


def test_long_run_stays_on_talib_and_on_exact_window_sum() -> None:
    """200k bars (~2 years of 5m candles): the running sums must not drift."""
    rng = np.random.default_rng(20240601)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, 200_000)))
    sma = StreamingSMA(20)
    bands = StreamingBollinger(20, 2.0)
    sma_values = np.empty_like(close)
    band_values = np.empty((close.size, 3))
    for index, x in enumerate(close.tolist()):
        sma_values[index] = sma.update(x)
        band_values[index] = bands.update(x)
    assert_matches(sma_values, talib.SMA(close, 20))
    for column, reference in enumerate(talib.BBANDS(close, 20, 2.0, 2.0)):
        assert_matches(band_values[:, column], reference, price=close)
    exact_last = math.fsum(close[-20:].tolist()) / 20
    assert sma.value == pytest.approx(exact_last, rel=1e-14, abs=0.0)
    exact_std = float(np.std(close[-20:]))
    assert (bands.value.upper - bands.value.middle) / 2.0 == pytest.approx(exact_std, rel=1e-9)


# --- random walks ------------------------------------------------------------------------


@st.composite
def random_candles(draw: st.DrawFn) -> Candles:
    """Positive random-walk candles at various price levels, with exact flat stretches."""
    size = draw(st.integers(min_value=1, max_value=160))
    level = draw(st.sampled_from([1e-4, 0.5, 100.0, 30_000.0, 2e6]))
    move = st.one_of(st.just(0.0), st.floats(-0.05, 0.05))
    wick = st.one_of(st.just(0.0), st.floats(0.0, 0.02))
    steps = draw(hnp.arrays(np.float64, size, elements=move))
    upper_wicks = draw(hnp.arrays(np.float64, size, elements=wick))
    lower_wicks = draw(hnp.arrays(np.float64, size, elements=wick))
    close = level * np.exp(np.cumsum(steps))
    open_ = np.concatenate(([level], close[:-1]))
    high = np.maximum(open_, close) * (1.0 + upper_wicks)
    low = np.minimum(open_, close) * (1.0 - lower_wicks)
    return Candles(high, low, close)


SMALL_PERIODS = st.integers(min_value=2, max_value=30)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


@PROPERTY_SETTINGS
@given(bars=random_candles(), period=st.integers(min_value=1, max_value=30))
def test_random_walk_moving_averages_and_atr(bars: Candles, period: int) -> None:
    check_sma(bars, period)
    check_ema(bars, period)
    check_atr(bars, period)


@PROPERTY_SETTINGS
@given(bars=random_candles(), period=SMALL_PERIODS)
def test_random_walk_rsi_and_adx(bars: Candles, period: int) -> None:
    check_rsi(bars, period)
    check_adx(bars, period)


@PROPERTY_SETTINGS
@given(
    bars=random_candles(),
    periods=st.tuples(SMALL_PERIODS, SMALL_PERIODS).map(sorted),
    signal=st.integers(min_value=1, max_value=15),
)
def test_random_walk_macd(bars: Candles, periods: list[int], signal: int) -> None:
    fast, slow = periods
    check_macd(bars, fast, slow, signal)


@PROPERTY_SETTINGS
@given(
    bars=random_candles(),
    period=SMALL_PERIODS,
    nbdev=st.sampled_from([0.0, 1.0, 2.0, 3.5]),
)
def test_random_walk_bollinger(bars: Candles, period: int, nbdev: float) -> None:
    check_bollinger(bars, period, nbdev)


# --- input and parameter validation ------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: StreamingSMA(0), "period must be between 1 and"),
        (lambda: StreamingEMA(-3), "period must be between 1 and"),
        (lambda: StreamingRSI(1), "period must be between 2 and"),
        (lambda: StreamingATR(0), "period must be between 1 and"),
        (lambda: StreamingADX(1), "period must be between 2 and"),
        (lambda: StreamingMACD(1, 26, 9), "fast must be between 2 and"),
        (lambda: StreamingMACD(12, 26, 0), "signal must be between 1 and"),
        (lambda: StreamingMACD(26, 12, 9), "must not exceed slow"),
        (lambda: StreamingBollinger(1), "period must be between 2 and"),
        (lambda: StreamingBollinger(20, -1.0), "nbdev must be finite and non-negative"),
        (lambda: StreamingBollinger(20, math.nan), "nbdev must be finite and non-negative"),
        (lambda: StreamingSMA(100_001), "and 100000, got 100001"),
    ],
)
def test_bad_parameters_raise_value_error(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("period", [14.0, "14", None, True])
def test_non_integer_period_raises_type_error(period: object) -> None:
    with pytest.raises(TypeError, match="must be an integer"):
        StreamingSMA(period)  # type: ignore[arg-type]


def test_numpy_integer_period_is_accepted() -> None:
    assert StreamingEMA(np.int64(5)).warmup == 5  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_prices_are_rejected(bad: float) -> None:
    for stream in (StreamingSMA(3), StreamingEMA(3), StreamingRSI(3)):
        stream.update(1.0)
        with pytest.raises(ValueError, match="finite"):
            stream.update(bad)
    with pytest.raises(ValueError, match="finite"):
        StreamingATR(3).update(1.0, bad, 1.0)
    with pytest.raises(ValueError, match="finite"):
        StreamingADX(3).update(bad, 1.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        StreamingMACD().update(bad)
    with pytest.raises(ValueError, match="finite"):
        StreamingBollinger().update(bad)


def test_numpy_scalars_come_back_as_python_floats() -> None:
    stream = StreamingSMA(2)
    stream.update(np.float64(1.0))
    value = stream.update(np.float32(2.0))  # type: ignore[arg-type]
    assert type(value) is float
    assert value == 1.5


def test_streams_use_slots() -> None:
    streams = [
        StreamingSMA(3),
        StreamingEMA(3),
        StreamingRSI(3),
        StreamingATR(3),
        StreamingADX(3),
        StreamingMACD(),
        StreamingBollinger(),
    ]
    for stream in streams:
        assert not hasattr(stream, "__dict__"), type(stream).__name__
