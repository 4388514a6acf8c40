"""Normalised market features shared by the trading environments and the predictive models.

Every feature at bar ``t`` uses only bars ``<= t`` (TA-Lib indicators and trailing windows are
causal), so a model or a policy that reads row ``t`` after bar ``t`` closes never looks ahead.
Values are scaled to roughly unit range and clipped, and warm-up rows are zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axis.data import Bars, FundingRates
from axis.indicators import adx, atr, rsi, sma
from axis.venues.simulated import funding_schedule

FEATURE_NAMES: tuple[str, ...] = (
    "return_1",  # log return of the bar, in units of trailing volatility
    "return_12",  # log return over 12 bars, same units
    "rsi_14",  # RSI(14) mapped to [-1, 1]
    "ma50_gap",  # log(close / SMA50) in trailing-volatility units
    "adx_14",  # ADX(14) / 100
    "volume_z",  # log(volume / trailing mean volume)
    "atr_pct",  # ATR(14) / close, in percent
    "funding",  # last settled funding rate, in basis points
)
N_FEATURES = len(FEATURE_NAMES)
WARMUP = 64  # bars before every feature is defined
VOL_WINDOW = 96
CLIP = 5.0


@dataclass(frozen=True, slots=True)
class MarketArrays:
    """One market's simulation inputs as contiguous float64 arrays, plus its features."""

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    mark_open: np.ndarray
    mark_high: np.ndarray
    mark_low: np.ndarray
    mark_close: np.ndarray
    funding_rate: np.ndarray  # rate settling at each bar's open, 0 where none
    features: np.ndarray  # (T, N_FEATURES) float32

    def __len__(self) -> int:
        return len(self.close)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values up to and including each row (NaN before)."""
    out = np.full(len(values), np.nan)
    if len(values) < window:
        return out
    csum = np.cumsum(np.r_[0.0, values])
    out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


def _trailing_std(values: np.ndarray, window: int) -> np.ndarray:
    mean = _trailing_mean(values, window)
    mean_sq = _trailing_mean(values * values, window)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def compute_features(bars: Bars, funding_rate: np.ndarray | None = None) -> np.ndarray:
    """The (T, N_FEATURES) float32 feature matrix of ``bars``; see :data:`FEATURE_NAMES`."""
    close = np.asarray(bars.close, dtype=np.float64)
    high = np.asarray(bars.high, dtype=np.float64)
    low = np.asarray(bars.low, dtype=np.float64)
    volume = np.asarray(bars.volume, dtype=np.float64)
    n = len(close)
    log_close = np.log(close)
    ret1 = np.r_[0.0, np.diff(log_close)]
    vol = _trailing_std(ret1, VOL_WINDOW)
    vol = np.where(vol > 1e-12, vol, np.nan)
    ret12 = np.full(n, np.nan)
    ret12[12:] = log_close[12:] - log_close[:-12]
    out = np.zeros((n, N_FEATURES), dtype=np.float64)
    out[:, 0] = ret1 / vol
    out[:, 1] = ret12 / (vol * np.sqrt(12.0))
    out[:, 2] = (rsi(close, 14) - 50.0) / 50.0
    out[:, 3] = (log_close - np.log(sma(close, 50))) / (vol * np.sqrt(50.0))
    out[:, 4] = adx(high, low, close, 14) / 100.0
    mean_volume = _trailing_mean(volume, VOL_WINDOW)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 5] = np.log((volume + 1e-12) / (mean_volume + 1e-12))
    out[:, 6] = atr(high, low, close, 14) / close * 100.0
    if funding_rate is not None:
        # The rate known at t is the last one that has settled at or before t.
        settled = np.where(funding_rate != 0.0, funding_rate, np.nan)
        index = np.where(~np.isnan(settled), np.arange(n), 0)
        np.maximum.accumulate(index, out=index)
        last = np.where(np.isnan(settled[index]), 0.0, settled[index])
        out[:, 7] = last * 1e4
    out[:WARMUP] = 0.0
    out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


def funding_per_bar(
    bars: Bars, funding: FundingRates | None, constant_rate: float, perpetual: bool
) -> np.ndarray:
    """The funding rate settling at each bar's open (0 where none), by the venue's schedule."""
    rates = np.zeros(len(bars))
    if perpetual:
        for index, rate in funding_schedule(bars.timestamp, funding, constant_rate).items():
            rates[index] = rate
    return rates


def market_arrays(
    bars: Bars,
    *,
    mark: Bars | None = None,
    funding: FundingRates | None = None,
    funding_rate: float = 0.0001,
    perpetual: bool = True,
) -> MarketArrays:
    """Everything an environment needs about one market, computed once."""
    marks = mark if mark is not None else bars
    rates = funding_per_bar(bars, funding, funding_rate, perpetual)

    def f64(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=np.float64)

    return MarketArrays(
        np.ascontiguousarray(bars.timestamp, dtype=np.int64),
        f64(bars.open),
        f64(bars.high),
        f64(bars.low),
        f64(bars.close),
        f64(marks.open),
        f64(marks.high),
        f64(marks.low),
        f64(marks.close),
        rates,
        compute_features(bars, rates if perpetual else None),
    )
