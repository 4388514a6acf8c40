"""Backtest metrics: daily-return ratios against quantstats and empyrical, trade statistics by hand.

The two reference libraries agree with each other on every ratio checked here for a daily
return series that starts from the initial capital:

* volatility, Sharpe and Sortino: both use the sample standard deviation (ddof=1) and the
  downside deviation sqrt(mean(min(r, 0)^2)) over ALL days, scaled by sqrt(365).
* CAGR: both count years as len(returns) / 365. Older quantstats releases used elapsed calendar
  time between the first and last index instead, (last - first).days / 365, one day less than the
  number of returns; we follow the count convention, so an N-day backtest is N/365 years.
* max drawdown: both now anchor the compounded curve at 1.0 (quantstats) / 100 (empyrical)
  before the first return, i.e. the initial capital is the first peak, as we do.
* Where they differ is only on undefined values: empyrical returns NaN for Calmar without a
  drawdown or Sharpe with zero dispersion, quantstats NaN/inf; compute_metrics reports 0.0.
"""

from __future__ import annotations

import json
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest
import quantstats as qs
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.backtest.metrics import (
    MS_PER_DAY,
    compute_metrics,
    daily_equity,
    daily_returns,
    iso_utc,
    monthly_returns,
)
from axis.backtest.result import TradeRecord
from axis.data import sample_bars

REL = 1e-9
HOUR = 3_600_000
T0 = 1_672_531_200_000  # 2023-01-01T00:00:00Z


RATIO_KEYS = ("sharpe", "sortino", "volatility", "cagr", "calmar", "max_drawdown")


def _metrics(
    ts: np.ndarray,
    equity: np.ndarray,
    trades: list[TradeRecord] | None = None,
    *,
    initial_capital: float = 10_000.0,
    exposure: np.ndarray | None = None,
) -> dict[str, float | int]:
    return compute_metrics(
        ts,
        equity,
        trades or [],
        initial_capital=initial_capital,
        fees_paid=12.5,
        funding_paid=-3.25,
        liquidations=0,
        exposure=exposure,
    )


def _as_float(value: Any) -> float:
    """A library result as a plain float (the libraries return numpy or pandas scalars)."""
    return float(value)


def _reference(returns: pd.Series) -> dict[str, tuple[float, float]]:
    """(quantstats, empyrical) value of each ratio for the same daily returns, rf = 0."""
    return {
        "sharpe": (
            _as_float(qs.stats.sharpe(returns, rf=0.0, periods=365, annualize=True, smart=False)),
            _as_float(empyrical.sharpe_ratio(returns, risk_free=0.0, annualization=365)),
        ),
        "sortino": (
            _as_float(qs.stats.sortino(returns, rf=0.0, periods=365, annualize=True, smart=False)),
            _as_float(empyrical.sortino_ratio(returns, required_return=0.0, annualization=365)),
        ),
        "volatility": (
            _as_float(qs.stats.volatility(returns, periods=365, annualize=True)),
            _as_float(empyrical.annual_volatility(returns, annualization=365)),
        ),
        "cagr": (
            _as_float(qs.stats.cagr(returns, rf=0.0, compounded=True, periods=365)),
            _as_float(empyrical.cagr(returns, annualization=365)),
        ),
        "calmar": (
            _as_float(qs.stats.calmar(returns, compounded=True, periods=365)),
            _as_float(empyrical.calmar_ratio(returns, annualization=365)),
        ),
        "max_drawdown": (
            _as_float(qs.stats.max_drawdown(returns)),
            _as_float(empyrical.max_drawdown(returns)),
        ),
    }


def _assert_matches_libraries(ts: np.ndarray, equity: np.ndarray, initial: float) -> None:
    metrics = _metrics(ts, equity, initial_capital=initial)
    returns = daily_returns(ts, equity, initial)

    # One return per UTC calendar day spanned, compounding to the total return.
    first_day, last_day = ts[0] // MS_PER_DAY, ts[-1] // MS_PER_DAY
    assert len(returns) == last_day - first_day + 1
    assert float(np.prod(1.0 + returns.to_numpy()) - 1.0) == pytest.approx(
        metrics["total_return"], rel=REL
    )
    assert metrics["max_drawdown"] < 0  # the ratios below are all defined

    for key, (from_qs, from_ep) in _reference(returns).items():
        assert metrics[key] == pytest.approx(from_qs, rel=REL), f"{key} vs quantstats"
        assert metrics[key] == pytest.approx(from_ep, rel=REL), f"{key} vs empyrical"
    json.dumps(metrics, allow_nan=False)


def _load_btc() -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and closes of the bundled real BTC/USDT 5m sample (shipped in the package)."""
    bars = sample_bars("BTC/USDT", "5m")
    return bars.timestamp.astype(np.int64), bars.close.astype(np.float64)


# --- return-based ratios against the reference libraries -------------------------------------


def test_btc_buy_and_hold_matches_quantstats_and_empyrical() -> None:
    ts, close = _load_btc()
    equity = 10_000.0 * close / close[0]
    _assert_matches_libraries(ts, equity, 10_000.0)


def test_btc_levered_long_short_matches_quantstats_and_empyrical() -> None:
    """A 3x position that flips long/short every ~2 days, with costs, on real BTC prices."""
    ts, close = _load_btc()
    bar_ret = np.diff(close) / close[:-1]
    side = np.where((np.arange(bar_ret.size) // 600) % 2 == 0, 1.0, -1.0)
    growth = 1.0 + 3.0 * side * bar_ret - 1e-5
    equity = 5_000.0 * np.concatenate(([0.999], 0.999 * np.cumprod(growth)))
    _assert_matches_libraries(ts, equity, 5_000.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_equity_curves_match_quantstats_and_empyrical(seed: int) -> None:
    """Several months of 15-minute bars, some with missing days (data gaps)."""
    rng = np.random.default_rng(seed)
    n_days = int(rng.integers(90, 400))
    ts = T0 + int(rng.integers(0, 96)) * 900_000 + np.arange(n_days * 96, dtype=np.int64) * 900_000
    log_ret = rng.normal(rng.uniform(-2e-5, 4e-5), rng.uniform(5e-4, 4e-3), ts.size)
    equity = 1_000.0 * np.exp(np.cumsum(log_ret))
    if seed % 2:
        # Drop three whole days: a gap carries the previous day's equity (a 0% day).
        dropped = np.isin(ts // MS_PER_DAY, ts[0] // MS_PER_DAY + np.array([10, 11, 40]))
        ts, equity = ts[~dropped], equity[~dropped]
    _assert_matches_libraries(ts, equity, 1_000.0)


# --- daily resampling ---------------------------------------------------------------------------


def test_daily_resampling_takes_last_equity_and_fills_gaps() -> None:
    ts = np.array([T0 + 10 * HOUR, T0 + 23 * HOUR, T0 + 2 * MS_PER_DAY + HOUR], dtype=np.int64)
    equity = np.array([110.0, 120.0, 90.0])
    days, levels = daily_equity(ts, equity)
    assert days.tolist() == [T0 // MS_PER_DAY + k for k in range(3)]
    assert levels.tolist() == [120.0, 120.0, 90.0]

    returns = daily_returns(ts, equity, initial_capital=100.0)
    # The first day is measured from the initial capital, the gap day is flat.
    assert returns.to_numpy() == pytest.approx([0.2, 0.0, -0.25], rel=1e-12)
    assert returns.index.equals(pd.date_range("2023-01-01", periods=3, freq="D"))


def test_monthly_returns_table() -> None:
    ts = np.array(
        [T0, T0 + 20 * MS_PER_DAY, T0 + 40 * MS_PER_DAY, T0 + 380 * MS_PER_DAY], dtype=np.int64
    )
    equity = np.array([100.0, 110.0, 99.0, 148.5])
    table = monthly_returns(ts, equity, initial_capital=100.0)
    assert table.index.tolist() == [2023, 2024]
    assert np.array_equal(table.columns, np.arange(1, 13))
    assert table.loc[2023, 1] == pytest.approx(0.10)
    assert table.loc[2023, 2] == pytest.approx(-0.10)
    assert table.loc[2023, 3] == pytest.approx(0.0)  # flat months inside the run are 0%
    assert table.loc[2024, 1] == pytest.approx(0.5)
    assert np.isnan(table.loc[2024].to_numpy()[1])  # after the run


# --- trade statistics ---------------------------------------------------------------------------


def _trade(
    exit_hour: int, pnl: float, *, side: str = "long", reason: str = "signal"
) -> TradeRecord:
    return TradeRecord(
        symbol="BTC/USDT",
        side=side,
        entry_time=T0 + (exit_hour - 1) * HOUR,
        exit_time=T0 + exit_hour * HOUR,
        entry_price=100.0,
        exit_price=101.0,
        quantity=1.0,
        pnl=pnl,
        fees=0.1,
        funding=0.0,
        exit_reason=reason,
    )


def test_trade_statistics_by_hand() -> None:
    # In closing order: W W L 0 L L W L. The break-even trade splits the losing streak.
    pnls = [100.0, 50.0, -30.0, 0.0, -20.0, -10.0, 40.0, -60.0]
    trades = [_trade(h + 1, p) for h, p in enumerate(pnls)]
    trades = trades[::2] + trades[1::2]  # out of order: statistics follow exit time
    ts = T0 + np.arange(12, dtype=np.int64) * HOUR
    metrics = _metrics(ts, np.full(12, 10_000.0), trades)

    assert metrics["num_trades"] == 8
    assert metrics["win_rate"] == pytest.approx(3 / 8)
    assert metrics["profit_factor"] == pytest.approx(190 / 120)
    assert metrics["avg_win"] == pytest.approx(190 / 3)
    assert metrics["avg_loss"] == pytest.approx(-30.0)
    assert metrics["largest_win"] == pytest.approx(100.0)
    assert metrics["largest_loss"] == pytest.approx(-60.0)
    assert metrics["max_consecutive_wins"] == 2
    assert metrics["max_consecutive_losses"] == 2
    # Each trade holds one hourly bar ([entry, exit)), bars 0..7 of 12.
    assert metrics["exposure_time"] == pytest.approx(8 / 12)
    assert metrics["fees_paid"] == 12.5
    assert metrics["funding_paid"] == -3.25


def test_all_winning_trades_have_no_profit_factor() -> None:
    trades = [_trade(1, 5.0), _trade(2, 7.0), _trade(3, 1.0)]
    ts = T0 + np.arange(4, dtype=np.int64) * HOUR
    metrics = _metrics(ts, np.full(4, 10_000.0), trades)
    assert metrics["profit_factor"] == 0.0  # undefined without a loss
    assert metrics["max_consecutive_wins"] == 3
    assert metrics["max_consecutive_losses"] == 0
    assert metrics["avg_loss"] == 0.0
    assert metrics["largest_loss"] == 0.0


def test_explicit_exposure_is_used() -> None:
    ts = T0 + np.arange(10, dtype=np.int64) * HOUR
    exposure = np.array([0, 1, 1, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    metrics = _metrics(ts, np.full(10, 10_000.0), exposure=exposure)
    assert metrics["exposure_time"] == pytest.approx(0.4)


# --- drawdowns on bar closes --------------------------------------------------------------------


def test_drawdown_duration_recovered_episode() -> None:
    six_hours = 6 * HOUR
    ts = T0 + np.arange(8, dtype=np.int64) * six_hours
    equity = np.array([100.0, 110.0, 105.0, 100.0, 108.0, 111.0, 90.0, 95.0])
    metrics = _metrics(ts, equity, initial_capital=100.0)
    # Peak 110 at bar 1, back above it at bar 5: 4 bars x 6 h = 1 day. The last episode (peak
    # 111 at bar 5, still underwater at bar 7) lasts 12 h.
    assert metrics["max_drawdown_duration_days"] == pytest.approx(1.0)
    assert metrics["max_drawdown_intraday"] == pytest.approx(90.0 / 111.0 - 1.0)


def test_drawdown_duration_runs_to_the_end_when_never_recovered() -> None:
    ts = T0 + np.arange(8, dtype=np.int64) * 6 * HOUR
    equity = np.array([100.0, 120.0, 100.0, 90.0, 95.0, 99.0, 101.0, 119.0])
    metrics = _metrics(ts, equity, initial_capital=100.0)
    assert metrics["max_drawdown_duration_days"] == pytest.approx(1.5)  # bar 1 to bar 7
    assert metrics["max_drawdown_intraday"] == pytest.approx(-0.25)


def test_initial_capital_is_the_first_peak() -> None:
    ts = T0 + np.arange(3, dtype=np.int64) * 12 * HOUR
    equity = np.array([95.0, 98.0, 101.0])
    metrics = _metrics(ts, equity, initial_capital=100.0)
    assert metrics["max_drawdown_duration_days"] == pytest.approx(1.0)
    assert metrics["max_drawdown_intraday"] == pytest.approx(-0.05)
    # Daily closes: day 1 ends at 98 (-2% from the initial capital), day 2 at 101.
    assert metrics["max_drawdown"] == pytest.approx(-0.02)


# --- edge cases ---------------------------------------------------------------------------------


def test_no_trades() -> None:
    ts = T0 + np.arange(30 * 24, dtype=np.int64) * HOUR
    equity = 10_000.0 * (1.0 + 0.01 * np.sin(np.arange(ts.size) / 50.0))
    metrics = _metrics(ts, equity)
    for key in ("win_rate", "profit_factor", "avg_win", "avg_loss", "largest_win", "exposure_time"):
        assert metrics[key] == 0.0, key
    assert metrics["num_trades"] == 0
    assert metrics["max_consecutive_wins"] == metrics["max_consecutive_losses"] == 0
    json.dumps(metrics, allow_nan=False)


def test_flat_equity_has_zero_ratios() -> None:
    ts = T0 + np.arange(10 * 24, dtype=np.int64) * HOUR
    metrics = _metrics(ts, np.full(ts.size, 10_000.0))
    for key in (*RATIO_KEYS, "total_return", "max_drawdown_intraday", "max_drawdown_duration_days"):
        assert metrics[key] == 0.0, key
    json.dumps(metrics, allow_nan=False)


def test_constant_positive_returns_have_zero_sharpe() -> None:
    """Zero dispersion: Sharpe undefined (0.0), no losing day so Sortino 0.0 too."""
    ts = T0 + np.arange(20, dtype=np.int64) * MS_PER_DAY
    # Doubling every day gives returns of exactly 1.0 (powers of two are exact in floats).
    equity = 100.0 * 2.0 ** np.arange(1, 21)
    metrics = _metrics(ts, equity, initial_capital=100.0)
    assert metrics["volatility"] == 0.0
    assert metrics["sharpe"] == 0.0
    assert metrics["sortino"] == 0.0
    assert metrics["calmar"] == 0.0
    assert metrics["cagr"] == pytest.approx(2.0**365 - 1.0, rel=REL)


def test_one_day_of_data() -> None:
    ts = T0 + np.arange(288, dtype=np.int64) * 300_000
    equity = np.linspace(10_000.0, 10_100.0, ts.size)
    equity[100] = 9_900.0
    metrics = _metrics(ts, equity)
    assert metrics["total_return"] == pytest.approx(0.01)
    # One daily return: no dispersion to measure, so the ratios are 0.0 by convention.
    assert metrics["volatility"] == metrics["sharpe"] == metrics["sortino"] == 0.0
    assert metrics["cagr"] == pytest.approx(1.01**365 - 1.0, rel=REL)
    assert metrics["max_drawdown"] == 0.0  # the only daily close is above the initial capital
    assert metrics["max_drawdown_intraday"] == pytest.approx(9_900.0 / equity[99] - 1.0)
    assert metrics["start"] == T0
    assert metrics["end"] == int(ts[-1])
    assert iso_utc(int(metrics["start"])) == "2023-01-01T00:00:00Z"


def test_cagr_of_a_tiny_period_that_overflows_is_zero() -> None:
    ts = np.array([T0, T0 + HOUR], dtype=np.int64)
    metrics = _metrics(ts, np.array([100.0, 1_000.0]), initial_capital=100.0)
    assert metrics["total_return"] == pytest.approx(9.0)
    assert metrics["cagr"] == 0.0  # 10 ** 365 does not fit a float: undefined


def test_wiped_out_account() -> None:
    ts = T0 + np.arange(5, dtype=np.int64) * MS_PER_DAY
    metrics = _metrics(ts, np.array([80.0, 40.0, 0.0, 0.0, 0.0]), initial_capital=100.0)
    assert metrics["total_return"] == -1.0
    assert metrics["cagr"] == -1.0
    assert metrics["max_drawdown"] == -1.0
    json.dumps(metrics, allow_nan=False)


def test_empty_curve() -> None:
    empty = np.array([], dtype=np.int64)
    metrics = _metrics(empty, np.array([], dtype=np.float64))
    costs = {"fees_paid", "funding_paid"}  # passed through as given
    assert all(v == 0 for k, v in metrics.items() if k not in costs)


def test_invalid_inputs_are_rejected() -> None:
    ts = T0 + np.arange(3, dtype=np.int64) * HOUR
    with pytest.raises(ValueError, match="equal"):
        _metrics(ts, np.ones(2))
    with pytest.raises(ValueError, match="ascending"):
        _metrics(ts[::-1].copy(), np.ones(3))
    with pytest.raises(ValueError, match="exposure"):
        _metrics(ts, np.ones(3), exposure=np.ones(2, dtype=bool))


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(1, 3 * MS_PER_DAY), min_size=1, max_size=40),
    levels=st.lists(st.floats(0.0, 1e9, allow_nan=False), min_size=40, max_size=40),
)
def test_metrics_are_always_json_safe(steps: list[int], levels: list[float]) -> None:
    ts = T0 + np.cumsum(np.array(steps, dtype=np.int64))
    equity = np.array(levels[: ts.size])
    metrics = _metrics(ts, equity, [_trade(1, levels[0] - 5e8)], initial_capital=1e3)
    json.dumps(metrics, allow_nan=False)
    assert set(metrics) >= {"sharpe", "cagr", "max_drawdown", "start", "end"}
