"""Sharpe ratios that account for how many trials were run.

The deflated Sharpe ratio (Bailey & López de Prado, 2014) is the probability that the true
Sharpe ratio exceeds the best one expected by chance among N trials, given the returns'
skewness and kurtosis and the sample length. Sharpe ratios here are per period (not
annualised), as the formulas take them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

EULER_GAMMA = 0.5772156649015329


def sharpe_ratio(returns: np.ndarray) -> float:
    r = np.asarray(returns, dtype=np.float64)
    sd = r.std(ddof=1)
    return float(r.mean() / sd) if sd > 0 else 0.0


def expected_max_sharpe(trial_sharpes: np.ndarray) -> float:
    """SR0: the expected maximum of N per-period Sharpe ratios under the null of no skill,
    from their cross-sectional variance."""
    sr = np.asarray(trial_sharpes, dtype=np.float64)
    n = len(sr)
    if n < 2:
        return 0.0
    spread = math.sqrt(sr.var(ddof=1))
    return spread * (
        (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1.0 / n)
        + EULER_GAMMA * stats.norm.ppf(1 - 1.0 / (n * math.e))
    )


def probabilistic_sharpe_ratio(returns: np.ndarray, benchmark: float) -> float:
    """P(true SR > benchmark) given the sample's length, skewness and (non-excess) kurtosis."""
    r = np.asarray(returns, dtype=np.float64)
    t = len(r)
    sr = sharpe_ratio(r)
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r, fisher=False))
    denominator = 1 - skew * sr + (kurt - 1) / 4 * sr * sr
    if t < 2 or denominator <= 0:
        return float("nan")
    return float(stats.norm.cdf((sr - benchmark) * math.sqrt(t - 1) / math.sqrt(denominator)))


def deflated_sharpe_ratio(best_returns: np.ndarray, trial_sharpes: np.ndarray) -> float:
    """DSR of the selected strategy's per-period returns, given every trial's Sharpe."""
    return probabilistic_sharpe_ratio(best_returns, expected_max_sharpe(trial_sharpes))
