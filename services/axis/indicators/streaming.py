"""Streaming (bar-by-bar) indicators for live trading.

Each indicator is fed one closed candle at a time with ``update(...)`` and costs O(1) per bar
(amortised where a window is periodically re-summed). The output reproduces TA-Lib on the same
bar history: the same warm-up length, the same seeding of the smoothed averages and the same
zero-division conventions, so a strategy sees the same numbers live as in a TA-Lib backtest.

Conventions shared by every class:

* ``update(...)`` returns the current value; it is ``nan`` (or a tuple of ``nan``) until the
  indicator has seen ``warmup`` bars, exactly where TA-Lib's output is NaN.
* ``value`` is the last value returned, ``ready`` says whether it is warmed up.
* Multi-line indicators return a named tuple in the same field order as the array functions in
  :mod:`axis.indicators.arrays` (``macd, signal, hist`` and ``upper, middle, lower``).
* Inputs are converted to plain Python floats and must be finite: a NaN from a bad venue
  candle would otherwise poison a smoothed average for the rest of the session.

The update path is plain Python float arithmetic on purpose: numpy scalar maths is several
times slower than float maths for one value at a time.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections import deque
from typing import Generic, NamedTuple, TypeVar

__all__ = [
    "MAX_PERIOD",
    "BollingerValue",
    "MACDValue",
    "StreamingADX",
    "StreamingATR",
    "StreamingBollinger",
    "StreamingEMA",
    "StreamingMACD",
    "StreamingRSI",
    "StreamingSMA",
]

_NAN = math.nan
_INF = math.inf

# TA-Lib rejects periods above 100000; the array wrappers and the streams share these limits so
# a strategy parameter accepted in a backtest is accepted live and vice versa.
MAX_PERIOD = 100_000

# Bollinger variance is computed from running sums of deviations from an anchor price; the sums
# are rebuilt from the window when they can no longer be trusted:
# - the window mean drifted so far from the anchor that the variance is below this fraction of
#   the mean squared deviation (more than ~4 significant digits would cancel);
_STALE_ANCHOR_RATIO = 1e-4
# - the sum of squared deviations fell below this fraction of its peak since the last rebuild,
#   e.g. when a window turns flat after a move: what is left is mostly rounding residue of the
#   large squares that were added and removed, and its square root is far from zero.
_COLLAPSED_SUM_RATIO = 1e-3


class MACDValue(NamedTuple):
    """One MACD reading: MACD line, signal line and histogram (``macd - signal``)."""

    macd: float
    signal: float
    hist: float


class BollingerValue(NamedTuple):
    """One Bollinger reading: upper band, middle band (SMA) and lower band."""

    upper: float
    middle: float
    lower: float


_NAN_MACD = MACDValue(_NAN, _NAN, _NAN)
_NAN_BOLLINGER = BollingerValue(_NAN, _NAN, _NAN)


def _check_period(name: str, value: int, minimum: int) -> int:
    """Validate an indicator period: TypeError if not an integer, ValueError if out of range."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        period = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if not minimum <= period <= MAX_PERIOD:
        raise ValueError(f"{name} must be between {minimum} and {MAX_PERIOD}, got {period}")
    return period


def _check_nbdev(nbdev: float) -> float:
    """Validate a Bollinger band width in standard deviations (finite, non-negative)."""
    if isinstance(nbdev, bool) or not isinstance(nbdev, numbers.Real):
        raise TypeError(f"nbdev must be a number, got {nbdev!r}")
    width = float(nbdev)
    if not 0.0 <= width < _INF:
        raise ValueError(f"nbdev must be finite and non-negative, got {nbdev!r}")
    return width


def _not_finite(name: str, value: object) -> ValueError:
    return ValueError(f"{name} must be a finite price, got {value!r}")


T = TypeVar("T")


class _Streaming(Generic[T]):
    """State shared by all streaming indicators."""

    __slots__ = ("_ready", "_value", "_warmup")

    _ready: bool
    _value: T
    _warmup: int

    @property
    def value(self) -> T:
        """Last value returned by ``update`` (``nan``, or a tuple of them, while warming up)."""
        return self._value

    @property
    def ready(self) -> bool:
        """True once enough bars were seen for ``value`` to be defined."""
        return self._ready

    @property
    def warmup(self) -> int:
        """Number of bars needed before the first value (TA-Lib lookback + 1)."""
        return self._warmup


class StreamingSMA(_Streaming[float]):
    """Simple moving average of the last ``period`` closes (TA-Lib ``SMA``)."""

    __slots__ = ("_period", "_since_resum", "_sum", "_window")

    def __init__(self, period: int) -> None:
        self._period = _check_period("period", period, 1)
        self._window: deque[float] = deque()
        # Sum of the window minus its oldest value, i.e. of the bars the next average will reuse.
        self._sum = 0.0
        self._since_resum = 0
        self._value = _NAN
        self._ready = False
        self._warmup = self._period

    def update(self, close: float) -> float:
        """Add one close; return the average of the last ``period`` closes."""
        x = float(close)
        if not -_INF < x < _INF:
            raise _not_finite("close", close)
        window = self._window
        window.append(x)
        total = self._sum + x
        if len(window) < self._period:
            self._sum = total
            return _NAN
        # Same order of operations as TA-Lib: add the new close, divide, then drop the oldest.
        value = total / self._period
        total -= window.popleft()
        self._since_resum += 1
        if self._since_resum >= self._period:
            # TA-Lib keeps one running sum for the whole series, so its rounding error grows with
            # the series length. Re-summing the window exactly once per period (amortised O(1))
            # keeps a stream that runs for months as accurate as a fresh TA-Lib call.
            total = math.fsum(window)
            self._since_resum = 0
        self._sum = total
        self._value = value
        self._ready = True
        return value


class StreamingEMA(_Streaming[float]):
    """Exponential moving average with ``k = 2 / (period + 1)`` (TA-Lib ``EMA``).

    Seeded like TA-Lib: the first value is the SMA of the first ``period`` closes.
    """

    __slots__ = ("_count", "_k", "_period", "_seed_sum")

    def __init__(self, period: int) -> None:
        self._period = _check_period("period", period, 1)
        self._k = 2.0 / (self._period + 1.0)
        self._count = 0
        self._seed_sum = 0.0
        self._value = _NAN
        self._ready = False
        self._warmup = self._period

    def update(self, close: float) -> float:
        """Add one close; return the EMA."""
        x = float(close)
        if not -_INF < x < _INF:
            raise _not_finite("close", close)
        if self._ready:
            prev = self._value
            value = (x - prev) * self._k + prev
            self._value = value
            return value
        self._seed_sum += x
        self._count += 1
        if self._count < self._period:
            return _NAN
        value = self._seed_sum / self._period
        self._value = value
        self._ready = True
        return value


class StreamingRSI(_Streaming[float]):
    """Wilder's Relative Strength Index, 0..100 (TA-Lib ``RSI``).

    Seeded like TA-Lib: average gain and loss are the plain means of the first ``period``
    close-to-close changes, so the first value comes on bar ``period + 1``. A window with no
    movement at all reads 0, as in TA-Lib.
    """

    __slots__ = ("_changes", "_gain", "_loss", "_period", "_prev_close", "_weight")

    def __init__(self, period: int = 14) -> None:
        self._period = _check_period("period", period, 2)
        self._weight = float(self._period - 1)
        self._changes = -1  # close-to-close changes seen; -1 until the first close arrives
        self._prev_close = _NAN
        self._gain = 0.0
        self._loss = 0.0
        self._value = _NAN
        self._ready = False
        self._warmup = self._period + 1

    def update(self, close: float) -> float:
        """Add one close; return the RSI."""
        x = float(close)
        if not -_INF < x < _INF:
            raise _not_finite("close", close)
        change = x - self._prev_close
        self._prev_close = x
        period = self._period
        if self._ready:
            # Wilder smoothing in TA-Lib's order: scale by (n - 1), add today's move, divide by n.
            gain = self._gain * self._weight
            loss = self._loss * self._weight
            if change < 0.0:
                loss -= change
            else:
                gain += change
            gain /= period
            loss /= period
        else:
            self._changes += 1
            if self._changes == 0:
                return _NAN
            gain = self._gain
            loss = self._loss
            if change < 0.0:
                loss -= change
            else:
                gain += change
            if self._changes < period:
                self._gain = gain
                self._loss = loss
                return _NAN
            gain /= period
            loss /= period
            self._ready = True
        self._gain = gain
        self._loss = loss
        total = gain + loss
        value = 100.0 * (gain / total) if total != 0.0 else 0.0
        self._value = value
        return value


class StreamingATR(_Streaming[float]):
    """Wilder's Average True Range (TA-Lib ``ATR``).

    The first bar has no previous close and hence no true range; the first value, on bar
    ``period + 1``, is the plain mean of the first ``period`` true ranges, then Wilder smoothing.
    """

    __slots__ = ("_period", "_prev_close", "_ranges", "_seed_sum", "_weight")

    def __init__(self, period: int = 14) -> None:
        self._period = _check_period("period", period, 1)
        self._weight = float(self._period - 1)
        self._ranges = -1  # true ranges seen; -1 until the first bar arrives
        self._prev_close = _NAN
        self._seed_sum = 0.0
        self._value = _NAN
        self._ready = False
        self._warmup = self._period + 1

    def update(self, high: float, low: float, close: float) -> float:
        """Add one candle; return the ATR."""
        h = float(high)
        lo = float(low)
        c = float(close)
        if not (-_INF < h < _INF and -_INF < lo < _INF and -_INF < c < _INF):
            raise _not_finite("high/low/close", (high, low, close))
        prev = self._prev_close
        self._prev_close = c
        if self._ranges < 0:
            self._ranges = 0
            return _NAN
        # True range: the candle's range extended to the previous close when price gapped.
        tr = max(h - lo, abs(h - prev), abs(lo - prev))
        if self._ready:
            value = (self._value * self._weight + tr) / self._period
            self._value = value
            return value
        self._seed_sum += tr
        self._ranges += 1
        if self._ranges < self._period:
            return _NAN
        value = self._seed_sum / self._period
        self._value = value
        self._ready = True
        return value


class StreamingADX(_Streaming[float]):
    """Wilder's Average Directional Index with +DI/-DI (TA-Lib ``ADX``, ``PLUS_DI``, ``MINUS_DI``).

    TA-Lib's seeding, reproduced here: the directional-movement and true-range sums start from
    the first ``period - 1`` bar-to-bar moves and are then Wilder-smoothed (``s - s/n + x``), so
    +DI/-DI first appear on bar ``period + 1``. ADX is the mean of the first ``period`` DX values
    (first on bar ``2 * period``), then Wilder-smoothed. A bar with no range reads 0.

    ``update`` returns ADX; ``plus_di`` and ``minus_di`` hold the latest DI values and are ready
    ``period - 1`` bars before ADX.
    """

    __slots__ = (
        "_dx_sum",
        "_minus_di",
        "_minus_dm",
        "_moves",
        "_period",
        "_plus_di",
        "_plus_dm",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_true_range",
        "_weight",
    )

    def __init__(self, period: int = 14) -> None:
        # TA-Lib accepts period 1 for +DI/-DI but then returns a ratio rather than a percentage;
        # start at 2 so every period means the same thing.
        self._period = _check_period("period", period, 2)
        self._weight = float(self._period - 1)
        self._moves = -1  # bar-to-bar moves seen; -1 until the first bar arrives
        self._prev_high = _NAN
        self._prev_low = _NAN
        self._prev_close = _NAN
        self._plus_dm = 0.0
        self._minus_dm = 0.0
        self._true_range = 0.0
        self._plus_di = _NAN
        self._minus_di = _NAN
        self._dx_sum = 0.0
        self._value = _NAN
        self._ready = False
        self._warmup = 2 * self._period

    @property
    def plus_di(self) -> float:
        """Latest +DI, 0..100 (``nan`` for the first ``period`` bars)."""
        return self._plus_di

    @property
    def minus_di(self) -> float:
        """Latest -DI, 0..100 (``nan`` for the first ``period`` bars)."""
        return self._minus_di

    def update(self, high: float, low: float, close: float) -> float:
        """Add one candle; return the ADX."""
        h = float(high)
        lo = float(low)
        c = float(close)
        if not (-_INF < h < _INF and -_INF < lo < _INF and -_INF < c < _INF):
            raise _not_finite("high/low/close", (high, low, close))
        prev_high = self._prev_high
        prev_low = self._prev_low
        prev_close = self._prev_close
        self._prev_high = h
        self._prev_low = lo
        self._prev_close = c
        if self._moves < 0:
            self._moves = 0
            return _NAN

        # Directional movement: only the larger of the up- and down-move counts, and only if
        # it is a real extension of the previous bar's range (ties count as no movement).
        up = h - prev_high
        down = prev_low - lo
        plus_dm = up if up > down and up > 0.0 else 0.0
        minus_dm = down if down > up and down > 0.0 else 0.0
        tr = max(h - lo, abs(h - prev_close), abs(lo - prev_close))

        period = self._period
        moves = self._moves + 1
        self._moves = moves
        if moves < period:
            self._plus_dm += plus_dm
            self._minus_dm += minus_dm
            self._true_range += tr
            return _NAN

        # Wilder sums (not averages): the period cancels in the DI ratio.
        s_plus = self._plus_dm
        s_minus = self._minus_dm
        s_tr = self._true_range
        s_plus = s_plus - s_plus / period + plus_dm
        s_minus = s_minus - s_minus / period + minus_dm
        s_tr = s_tr - s_tr / period + tr
        self._plus_dm = s_plus
        self._minus_dm = s_minus
        self._true_range = s_tr
        if s_tr != 0.0:
            plus_di = 100.0 * (s_plus / s_tr)
            minus_di = 100.0 * (s_minus / s_tr)
        else:
            plus_di = minus_di = 0.0
        self._plus_di = plus_di
        self._minus_di = minus_di
        di_sum = plus_di + minus_di
        dx = 100.0 * (abs(plus_di - minus_di) / di_sum) if di_sum != 0.0 else 0.0

        if self._ready:
            value = (self._value * self._weight + dx) / period
            self._value = value
            return value
        self._dx_sum += dx
        if moves < 2 * period - 1:
            return _NAN
        value = self._dx_sum / period
        self._value = value
        self._ready = True
        return value


class StreamingMACD(_Streaming[MACDValue]):
    """Moving Average Convergence/Divergence (TA-Lib ``MACD``).

    TA-Lib's MACD seeds both EMAs on the same bar, ``slow``: the slow EMA with the SMA of the
    first ``slow`` closes and the fast EMA with the SMA of the last ``fast`` of those closes.
    That is *not* ``EMA(fast) - EMA(slow)`` of :class:`StreamingEMA` (which would seed the fast
    EMA ``slow - fast`` bars earlier); the difference decays but is visible for hundreds of
    bars. The signal line is an EMA of the MACD line seeded with its first ``signal`` values,
    and, as in TA-Lib, all three lines stay ``nan`` until the signal is defined.
    """

    __slots__ = (
        "_count",
        "_fast",
        "_fast_ema",
        "_fast_k",
        "_recent",
        "_signal",
        "_signal_ema",
        "_signal_k",
        "_signal_sum",
        "_slow",
        "_slow_ema",
        "_slow_k",
        "_slow_sum",
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self._fast = _check_period("fast", fast, 2)
        self._slow = _check_period("slow", slow, 2)
        self._signal = _check_period("signal", signal, 1)
        if self._fast > self._slow:
            # TA-Lib silently swaps them; a reversed pair is a configuration mistake.
            raise ValueError(f"fast ({fast}) must not exceed slow ({slow})")
        self._fast_k = 2.0 / (self._fast + 1.0)
        self._slow_k = 2.0 / (self._slow + 1.0)
        self._signal_k = 2.0 / (self._signal + 1.0)
        self._count = 0
        self._slow_sum = 0.0
        # Last ``fast`` closes, needed only until the fast EMA is seeded.
        self._recent: deque[float] | None = deque(maxlen=self._fast)
        self._fast_ema = _NAN
        self._slow_ema = _NAN
        self._signal_sum = 0.0
        self._signal_ema = _NAN
        self._value = _NAN_MACD
        self._ready = False
        self._warmup = self._slow + self._signal - 1

    def update(self, close: float) -> MACDValue:
        """Add one close; return ``(macd, signal, hist)``."""
        x = float(close)
        if not -_INF < x < _INF:
            raise _not_finite("close", close)
        if self._ready:
            fast = self._fast_ema
            slow = self._slow_ema
            fast = (x - fast) * self._fast_k + fast
            slow = (x - slow) * self._slow_k + slow
            self._fast_ema = fast
            self._slow_ema = slow
            line = fast - slow
            signal = self._signal_ema
            signal = (line - signal) * self._signal_k + signal
            self._signal_ema = signal
            value = MACDValue(line, signal, line - signal)
            self._value = value
            return value

        self._count += 1
        recent = self._recent
        if recent is not None:
            self._slow_sum += x
            recent.append(x)
            if self._count < self._slow:
                return _NAN_MACD
            self._slow_ema = self._slow_sum / self._slow
            self._fast_ema = sum(recent, 0.0) / self._fast
            self._recent = None
        else:
            fast = self._fast_ema
            slow = self._slow_ema
            self._fast_ema = (x - fast) * self._fast_k + fast
            self._slow_ema = (x - slow) * self._slow_k + slow
        line = self._fast_ema - self._slow_ema
        self._signal_sum += line
        if self._count < self._warmup:
            return _NAN_MACD
        signal = self._signal_sum / self._signal
        self._signal_ema = signal
        value = MACDValue(line, signal, line - signal)
        self._value = value
        self._ready = True
        return value


class StreamingBollinger(_Streaming[BollingerValue]):
    """Bollinger Bands: SMA ± ``nbdev`` population standard deviations (TA-Lib ``BBANDS``).

    The variance is kept as running sums of deviations from an anchor price, not of raw prices:
    ``E[x^2] - E[x]^2`` on raw prices cancels catastrophically when the volatility is small next
    to the price level. The anchor is moved to the newest close and the sums rebuilt from the
    window once per ``period`` bars (amortised O(1)), or earlier if the window mean has drifted
    far from the anchor or the squared deviations collapsed (a window turning flat), so that
    rounding error never builds up. TA-Lib 0.8 likewise uses shifted, periodically re-anchored
    sums; both agree with a two-pass standard deviation to about 1e-10.
    """

    __slots__ = (
        "_anchor",
        "_dev_sq_peak",
        "_dev_sq_sum",
        "_dev_sum",
        "_nbdev",
        "_period",
        "_since_rebuild",
        "_sum",
        "_window",
    )

    def __init__(self, period: int = 20, nbdev: float = 2.0) -> None:
        self._period = _check_period("period", period, 2)
        self._nbdev = _check_nbdev(nbdev)
        self._window: deque[float] = deque()
        self._sum = 0.0  # sum of the window without its oldest close, as in StreamingSMA
        self._anchor = 0.0
        self._dev_sum = 0.0  # sum of (close - anchor) over the same closes
        self._dev_sq_sum = 0.0  # sum of (close - anchor) ** 2 over the same closes
        self._dev_sq_peak = 0.0  # largest _dev_sq_sum since the sums were last rebuilt
        self._since_rebuild = 0
        self._value = _NAN_BOLLINGER
        self._ready = False
        self._warmup = self._period

    def update(self, close: float) -> BollingerValue:
        """Add one close; return ``(upper, middle, lower)``."""
        x = float(close)
        if not -_INF < x < _INF:
            raise _not_finite("close", close)
        window = self._window
        if not window:
            self._anchor = x
        window.append(x)
        total = self._sum + x
        dev = x - self._anchor
        dev_sum = self._dev_sum + dev
        dev_sq_sum = self._dev_sq_sum + dev * dev
        if dev_sq_sum > self._dev_sq_peak:
            self._dev_sq_peak = dev_sq_sum
        period = self._period
        if len(window) < period:
            self._sum = total
            self._dev_sum = dev_sum
            self._dev_sq_sum = dev_sq_sum
            return _NAN_BOLLINGER

        mean_dev = dev_sum / period
        mean_sq_dev = dev_sq_sum / period
        variance = mean_sq_dev - mean_dev * mean_dev
        self._since_rebuild += 1
        if (
            self._since_rebuild >= period
            or variance < _STALE_ANCHOR_RATIO * mean_sq_dev
            or dev_sq_sum < _COLLAPSED_SUM_RATIO * self._dev_sq_peak
        ):
            # Re-anchor on the newest close: it lies inside the window, so the deviations stay
            # on the scale of the window's range and the subtraction above stays well
            # conditioned. In a flat window every deviation becomes exactly 0, and so does the
            # band width, as in TA-Lib. Once per period at most, barring the two triggers.
            anchor = x
            self._anchor = anchor
            dev_sum = 0.0
            dev_sq_sum = 0.0
            for v in window:
                d = v - anchor
                dev_sum += d
                dev_sq_sum += d * d
            total = math.fsum(window)
            self._dev_sq_peak = dev_sq_sum
            self._since_rebuild = 0
            mean_dev = dev_sum / period
            mean_sq_dev = dev_sq_sum / period
            variance = mean_sq_dev - mean_dev * mean_dev

        middle = total / period
        band = self._nbdev * math.sqrt(variance) if variance > 0.0 else 0.0
        value = BollingerValue(middle + band, middle, middle - band)

        oldest = window.popleft()
        dev = oldest - self._anchor
        self._sum = total - oldest
        self._dev_sum = dev_sum - dev
        self._dev_sq_sum = dev_sq_sum - dev * dev
        self._value = value
        self._ready = True
        return value
