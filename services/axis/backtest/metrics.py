"""Performance metrics of a backtest: returns, risk-adjusted ratios, drawdowns, trade statistics.

Conventions (they define what every number in ``result.json`` means):

* **Daily returns.** Volatility, Sharpe, Sortino, CAGR, Calmar and ``max_drawdown`` are computed
  on daily returns, whatever the bar size. The bar equity curve is resampled to UTC calendar
  days by taking the last equity of each day; a bar belongs to the day of its timestamp. A
  calendar day without bars (exchange outage, data gap) carries the previous day's equity, i.e.
  counts as a 0% day, because crypto trades every day and annualisation counts every day.
* **First day.** The first day's return is measured from ``initial_capital``, not from the first
  bar's equity, so compounding the daily returns reproduces ``total_return`` exactly and a loss
  on the very first bar shows up as drawdown. The number of daily returns is the number of
  calendar days spanned, the partial first and last days included.
* **Annualisation** uses ``periods_per_year`` (365) and a zero risk-free rate::

      volatility   = std(r, ddof=1) * sqrt(365)
      sharpe       = mean(r) / std(r, ddof=1) * sqrt(365)
      sortino      = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(365)
      cagr         = (final_equity / initial_capital) ** (365 / n_days) - 1
      max_drawdown = min(E / cummax(E) - 1), daily E with initial_capital as the first peak
      calmar       = cagr / |max_drawdown|

  Given the same daily return series these equal ``quantstats.stats.volatility / sharpe /
  sortino (periods=365, smart=False) / cagr (periods=365) / calmar (periods=365) /
  max_drawdown`` and ``empyrical.annual_volatility / sharpe_ratio / sortino_ratio / cagr /
  calmar_ratio (annualization=365) / max_drawdown``. CAGR counts years as the number of daily
  returns / 365 (both libraries' current convention), not as elapsed time between the first and
  last timestamps, so a 10-day backtest is 10/365 of a year, not 9/365.
* **Undefined is 0.0.** ``result.json`` is written with ``allow_nan=False``, so a ratio with no
  meaning is reported as 0.0 instead of NaN/inf: volatility, Sharpe and Sortino with fewer than
  two daily returns; Sharpe when the daily returns do not vary (flat equity); Sortino without a
  losing day; Calmar without a drawdown; ``profit_factor`` without a losing trade; averages over
  no trades; a CAGR that overflows (a tiny period annualised). A final equity at or below zero
  gives ``cagr = -1.0`` (everything lost). A day that starts from non-positive equity has a 0%
  return: there is no capital left to earn a return on.
* **Trades** are ordered by exit time. ``pnl`` is net of fees and funding; a trade with
  ``pnl > 0`` is a win, ``pnl < 0`` a loss, and a break-even trade is neither but counts in
  ``win_rate``'s denominator and breaks both winning and losing streaks. ``avg_win``,
  ``avg_loss``, ``largest_win`` and ``largest_loss`` are in quote currency; losses are negative.
* ``max_drawdown_intraday`` is the deepest drawdown on bar closes (it sees dips that recovered
  before the day's close, e.g. a liquidation wick); ``max_drawdown_duration_days`` is the longest
  time underwater on bar closes, from the bar that set the peak (``initial_capital`` counts as a
  peak at the first bar) to the first bar back at or above it, or to the last bar if the curve
  never recovered.
* ``exposure_time`` is the fraction of bars flagged in ``exposure``; without it, a bar counts as
  exposed when its timestamp lies in some trade's ``[entry_time, exit_time)``.
* ``start`` and ``end`` are the first and last bar timestamps in epoch ms; ``iso_utc`` formats
  them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from axis.backtest.result import TradeRecord

MS_PER_DAY = 86_400_000

# Keys whose value is a count; everything else is a float.
_INT_KEYS = frozenset(
    {
        "max_consecutive_wins",
        "max_consecutive_losses",
        "num_trades",
        "liquidations",
        "start",
        "end",
    }
)


def iso_utc(epoch_ms: int) -> str:
    """Format an epoch-ms timestamp as an ISO-8601 UTC string, e.g. ``2023-01-02T16:05:00Z``."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def daily_equity(timestamps: np.ndarray, equity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equity at the close of each UTC calendar day spanned by the bars.

    Returns ``(days, equity)`` where ``days`` counts days since the epoch. Days without bars carry
    the previous day's equity.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    day = ts // MS_PER_DAY  # floor division keeps pre-1970 timestamps on the right day
    # Timestamps are sorted, so the last bar of a day sits just before a change of day.
    last_of_day = np.append(np.flatnonzero(day[1:] != day[:-1]), ts.size - 1)
    seen_days = day[last_of_day]
    all_days = np.arange(seen_days[0], seen_days[-1] + 1, dtype=np.int64)
    # For a missing day, the latest day already seen supplies the equity (forward fill).
    src = np.searchsorted(seen_days, all_days, side="right") - 1
    return all_days, eq[last_of_day][src]


def _returns_from_levels(levels: np.ndarray, initial_capital: float) -> np.ndarray:
    """Simple returns of consecutive equity levels, the first one from ``initial_capital``."""
    prev = np.concatenate(([initial_capital], levels[:-1]))
    # Equity near zero makes a huge (even inf) return; it is masked or reported as 0.0 later.
    with np.errstate(all="ignore"):
        rets = np.where(prev > 0, levels / prev - 1.0, 0.0)
    return rets


def daily_returns(timestamps: np.ndarray, equity: np.ndarray, initial_capital: float) -> pd.Series:
    """Daily returns of the equity curve (UTC calendar days, first day from initial capital).

    Indexed by naive UTC midnight timestamps, ready for quantstats or empyrical.
    """
    days, levels = daily_equity(timestamps, equity)
    index = pd.DatetimeIndex((days * MS_PER_DAY).astype("datetime64[ms]"), name="date")
    return pd.Series(_returns_from_levels(levels, initial_capital), index=index, name="returns")


def monthly_returns(
    timestamps: np.ndarray, equity: np.ndarray, initial_capital: float
) -> pd.DataFrame:
    """Compounded return of each calendar month: rows are years, columns months 1..12.

    The first month is measured from initial capital; months outside the backtest are NaN.
    """
    days, levels = daily_equity(timestamps, equity)
    if days.size == 0:
        return pd.DataFrame(columns=pd.Index(range(1, 13), name="month"), dtype=float)
    dates = (days * MS_PER_DAY).astype("datetime64[ms]").astype("datetime64[M]")
    month_num = dates.astype(np.int64)  # months since 1970-01
    last_of_month = np.append(np.flatnonzero(month_num[1:] != month_num[:-1]), days.size - 1)
    rets = _returns_from_levels(levels[last_of_month], initial_capital)
    months = month_num[last_of_month]
    table = pd.DataFrame({"year": 1970 + months // 12, "month": months % 12 + 1, "ret": rets})
    pivot = table.pivot(index="year", columns="month", values="ret")
    return pivot.reindex(columns=pd.Index(range(1, 13), name="month"))


def _max_run(mask: np.ndarray) -> int:
    """Length of the longest run of True values."""
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def _finite(value: float) -> float:
    """The JSON-safe form of a metric: undefined (NaN/inf) becomes 0.0."""
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _return_stats(rets: np.ndarray, final_wealth: float, periods_per_year: int) -> dict[str, float]:
    """Annualised ratios of a daily return series; see the module docstring for the formulas."""
    n = rets.size
    out: dict[str, float] = {
        "cagr": 0.0,
        "volatility": 0.0,
        "sharpe": 0.0,
        "sortino": 0.0,
        "calmar": 0.0,
        "max_drawdown": 0.0,
    }
    if n == 0:
        return out
    ann = math.sqrt(periods_per_year)

    if final_wealth <= 0:
        out["cagr"] = -1.0
    else:
        years = n / periods_per_year
        with np.errstate(over="ignore"):
            out["cagr"] = _finite(np.expm1(np.log(final_wealth) / years))

    wealth = np.cumprod(1.0 + rets)
    # The initial capital (wealth 1.0) is the first peak, as in both reference libraries.
    peak = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
    out["max_drawdown"] = _finite(min(0.0, float((wealth / peak - 1.0).min())))
    if out["max_drawdown"] < 0:
        out["calmar"] = _finite(out["cagr"] / abs(out["max_drawdown"]))

    if n >= 2:
        mean = float(rets.mean())
        # Identical returns have zero dispersion, but float rounding in std() can leave ~1e-18;
        # test for it exactly so a flat curve gets Sharpe 0, not an arbitrary 1e15.
        std = 0.0 if rets.max() == rets.min() else float(rets.std(ddof=1))
        out["volatility"] = _finite(std * ann)
        if std > 0:
            out["sharpe"] = _finite(mean / std * ann)
        downside = math.sqrt(float(np.square(np.minimum(rets, 0.0)).mean()))
        if downside > 0:
            out["sortino"] = _finite(mean / downside * ann)
    return out


def _drawdown_bars(ts: np.ndarray, eq: np.ndarray, initial_capital: float) -> tuple[float, float]:
    """Deepest drawdown and longest time underwater (days) on bar closes."""
    if eq.size == 0:
        return 0.0, 0.0
    # initial_capital is a peak located at the first bar, so an immediate loss is underwater.
    levels = np.concatenate(([initial_capital], eq))
    times = np.concatenate((ts[:1], ts))
    peak = np.maximum.accumulate(levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, levels / peak - 1.0, 0.0)
    max_dd = min(0.0, float(dd.min()))

    at_peak = levels >= peak
    idx = np.arange(levels.size)
    last_peak = np.maximum.accumulate(np.where(at_peak, idx, 0))
    # A recovery is a bar back at the peak right after an underwater bar: the episode lasted
    # from the bar that set the peak to this one.
    recovered = np.flatnonzero(at_peak[1:] & ~at_peak[:-1]) + 1
    durations = times[recovered] - times[last_peak[recovered - 1]]
    longest = int(durations.max()) if durations.size else 0
    if not at_peak[-1]:  # still underwater at the end: count up to the last bar
        longest = max(longest, int(times[-1] - times[last_peak[-1]]))
    return max_dd, longest / MS_PER_DAY


def _exposure_from_trades(ts: np.ndarray, trades: Sequence[TradeRecord]) -> np.ndarray:
    """Bars with a position open, approximated as ``entry_time <= t < exit_time`` of any trade."""
    open_count = np.zeros(ts.size + 1, dtype=np.int64)
    if trades:
        entries = np.fromiter((t.entry_time for t in trades), dtype=np.int64, count=len(trades))
        exits = np.fromiter((t.exit_time for t in trades), dtype=np.int64, count=len(trades))
        np.add.at(open_count, np.searchsorted(ts, entries, side="left"), 1)
        np.add.at(open_count, np.searchsorted(ts, exits, side="left"), -1)
    return np.cumsum(open_count[:-1]) > 0


def _trade_stats(trades: Sequence[TradeRecord]) -> dict[str, float | int]:
    """Win rate, profit factor, average and extreme trade P&L, longest streaks."""
    n = len(trades)
    pnl = np.fromiter((t.pnl for t in trades), dtype=np.float64, count=n)
    exit_time = np.fromiter((t.exit_time for t in trades), dtype=np.int64, count=n)
    pnl = pnl[np.argsort(exit_time, kind="stable")]  # streaks follow the order trades closed
    wins = pnl > 0
    losses = pnl < 0
    gross_win = float(pnl[wins].sum())
    gross_loss = float(-pnl[losses].sum())
    return {
        "win_rate": float(wins.sum() / n) if n else 0.0,
        "profit_factor": _finite(gross_win / gross_loss) if gross_loss > 0 else 0.0,
        "avg_win": float(pnl[wins].mean()) if wins.any() else 0.0,
        "avg_loss": float(pnl[losses].mean()) if losses.any() else 0.0,
        "largest_win": float(pnl[wins].max()) if wins.any() else 0.0,
        "largest_loss": float(pnl[losses].min()) if losses.any() else 0.0,
        "max_consecutive_wins": _max_run(wins),
        "max_consecutive_losses": _max_run(losses),
        "num_trades": n,
    }


def compute_metrics(
    timestamps: np.ndarray,
    equity: np.ndarray,
    trades: list[TradeRecord],
    *,
    initial_capital: float,
    fees_paid: float,
    funding_paid: float,
    liquidations: int,
    exposure: np.ndarray | None = None,
    periods_per_year: int = 365,
) -> dict[str, float | int]:
    """Performance metrics of one backtest run, JSON-safe (no NaN or inf).

    ``timestamps`` (epoch ms, ascending) and ``equity`` (account equity at each bar's close) are
    the bar equity curve; ``exposure`` flags bars with an open position and is derived from the
    trades' holding periods when omitted. See the module docstring for every convention.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.shape != eq.shape or ts.ndim != 1:
        raise ValueError(f"timestamps {ts.shape} and equity {eq.shape} must be equal 1-D arrays")
    if ts.size > 1 and bool((np.diff(ts) < 0).any()):
        raise ValueError("timestamps must be in ascending order")
    if initial_capital <= 0:
        raise ValueError(f"initial_capital must be positive, got {initial_capital}")
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")

    final_equity = float(eq[-1]) if eq.size else float(initial_capital)
    metrics: dict[str, float | int] = {
        "total_return": _finite(final_equity / initial_capital - 1.0),
    }
    # A degenerate curve (equity collapsing to ~0, then large) overflows; _finite turns those
    # results into 0.0, so the floating-point warnings carry no information.
    with np.errstate(all="ignore"):
        _, levels = daily_equity(ts, eq)
        rets = _returns_from_levels(levels, initial_capital)
        metrics.update(_return_stats(rets, final_equity / initial_capital, periods_per_year))
        max_dd_bars, underwater_days = _drawdown_bars(ts, eq, initial_capital)
    metrics["max_drawdown_intraday"] = _finite(max_dd_bars)
    metrics["max_drawdown_duration_days"] = _finite(underwater_days)

    metrics.update(_trade_stats(trades))

    if exposure is None:
        in_market = _exposure_from_trades(ts, trades)
    else:
        in_market = np.asarray(exposure, dtype=bool)
        if in_market.shape != ts.shape:
            raise ValueError(f"exposure {in_market.shape} must match timestamps {ts.shape}")
    metrics["exposure_time"] = float(in_market.mean()) if in_market.size else 0.0

    metrics["fees_paid"] = _finite(fees_paid)
    metrics["funding_paid"] = _finite(funding_paid)
    metrics["liquidations"] = int(liquidations)
    metrics["start"] = int(ts[0]) if ts.size else 0
    metrics["end"] = int(ts[-1]) if ts.size else 0

    # Plain Python numbers: numpy scalars are not all JSON-serialisable (np.int64 is not).
    return {k: int(v) if k in _INT_KEYS else _finite(v) for k, v in metrics.items()}
