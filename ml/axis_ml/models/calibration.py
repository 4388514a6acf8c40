"""Probability calibration and the reliability measures that judge it.

A classifier's scores are turned into probabilities a trader can size on by a calibrator fitted
on a held-out fold that neither the classifier nor the test saw: isotonic regression
(monotone, non-parametric) or Platt scaling (a logistic fit of the outcome on the score's
log-odds). Both come from scikit-learn. Calibration is judged with the Brier score, the log
loss and the expected calibration error over equal-width probability bins.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

CalibrationMethod = Literal["isotonic", "sigmoid", "none"]
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(q / (1.0 - q))


class ProbabilityCalibrator:
    """Maps raw scores in [0, 1] to calibrated probabilities of the positive class."""

    def __init__(self, method: CalibrationMethod = "isotonic") -> None:
        self.method = method
        self._model: object | None = None

    def fit(self, raw: np.ndarray, outcome: np.ndarray) -> ProbabilityCalibrator:
        raw = np.asarray(raw, dtype=np.float64)
        y = np.asarray(outcome, dtype=np.int64)
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            self._model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        elif self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            # Platt scaling on the log-odds; a very weak penalty keeps it a plain fit.
            self._model = LogisticRegression(C=1e6).fit(_logit(raw)[:, None], y)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        model = self._model
        if self.method == "none" or model is None:
            return np.clip(raw, 0.0, 1.0)
        if self.method == "isotonic":
            return np.asarray(model.predict(raw), dtype=np.float64)  # type: ignore[attr-defined]
        proba = model.predict_proba(_logit(raw)[:, None])  # type: ignore[attr-defined]
        return np.asarray(proba[:, 1], dtype=np.float64)


def expected_calibration_error(
    probability: np.ndarray, outcome: np.ndarray, bins: int = 10
) -> float:
    """Mean |observed frequency - mean predicted probability| over equal-width bins,
    weighted by the share of predictions in each bin."""
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def reliability(probability: np.ndarray, outcome: np.ndarray) -> dict[str, float]:
    """Brier score, log loss, expected calibration error, ROC AUC and hit rate at 0.5."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    p = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(outcome, dtype=np.int64)
    out = {
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, _EPS, 1.0 - _EPS), labels=[0, 1])),
        "ece": expected_calibration_error(p, y),
        "accuracy": float(((p > 0.5) == (y == 1)).mean()),
    }
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, p))
    return out
