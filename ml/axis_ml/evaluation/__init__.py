"""Evaluation a quant would trust: walk-forward and purged k-fold splits with an embargo,
the deflated Sharpe ratio for the best of N trials, baselines, and reports logged to MLflow."""

from axis_ml.evaluation.splits import purged_kfold, walk_forward
from axis_ml.evaluation.stats import deflated_sharpe_ratio, expected_max_sharpe, sharpe_ratio

__all__ = [
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "purged_kfold",
    "sharpe_ratio",
    "walk_forward",
]
