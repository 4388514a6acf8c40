"""Market regime classifiers behind one interface.

Each classifier labels every bar bull_trend / bear_trend / consolidation, with a volatility
regime (high / low), a confidence and the evidence the regime history stores (ADX, RSI,
price vs MA50, trend strength). Three kinds:

- ``rule``: ADX/RSI/MA rules (the core's ``trend_futures`` gate);
- ``hmm``: a 3-state Gaussian HMM (hmmlearn) on return and volatility features;
- ``markov``: Markov-switching regression of returns with switching variance (statsmodels).

Only forward-filtered state probabilities are used, P(state_t | data up to t): smoothed
probabilities and Viterbi paths see the future. A test truncates the data and checks that the
labels of the bars before the cut do not change.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numba
import numpy as np
import pandas as pd

from axis.data import Bars
from axis.indicators import adx, minus_di, plus_di, rsi, sma
from axis.strategies.trend_futures import BEAR, BULL, trend_regime

REGIMES = ("bear_trend", "consolidation", "bull_trend")  # index 0, 1, 2
RegimeKind = Literal["rule", "hmm", "markov"]
COLUMNS = (
    "regime",
    "volatility_regime",
    "confidence",
    "adx",
    "rsi",
    "price_vs_ma50",
    "trend_strength",
)
VOL_WINDOW = 48
VOL_HISTORY = 2_000


@dataclass(frozen=True, slots=True)
class RegimeResult:
    regime: str
    volatility_regime: str
    confidence: float
    adx: float
    rsi: float
    price_vs_ma50: float
    trend_strength: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _frame_to_bars(data: pd.DataFrame | Bars) -> Bars:
    if isinstance(data, Bars):
        return data
    df = data
    ts = df["timestamp"].to_numpy(np.int64) if "timestamp" in df else np.arange(len(df)) * 300_000
    return Bars(
        "MODEL/INPUT",
        "5m",
        ts,
        df["open"].to_numpy(np.float64),
        df["high"].to_numpy(np.float64),
        df["low"].to_numpy(np.float64),
        df["close"].to_numpy(np.float64),
        df["volume"].to_numpy(np.float64) if "volume" in df else np.zeros(len(df)),
    )


Evidence = dict[str, np.ndarray]


def evidence(bars: Bars) -> Evidence:
    """ADX(14), RSI(14), close / SMA50 - 1 and a signed trend strength (ADX/100 with the
    sign of +DI - -DI) per bar; plus realised volatility and its high/low regime. Plain
    arrays: the serving path reads them without building a frame."""
    return evidence_arrays(bars.high, bars.low, bars.close)


def evidence_arrays(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> Evidence:
    high = np.asarray(high, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    strength = adx(high, low, close, 14)
    direction = np.sign(plus_di(high, low, close, 14) - minus_di(high, low, close, 14))
    ret = np.r_[0.0, np.diff(np.log(close))]
    vol = pd.Series(ret).rolling(VOL_WINDOW).std().to_numpy()
    typical = pd.Series(vol).rolling(VOL_HISTORY, min_periods=VOL_WINDOW).median().to_numpy()
    return {
        "adx": strength,
        "rsi": rsi(close, 14),
        "price_vs_ma50": close / sma(close, 50) - 1.0,
        "trend_strength": strength / 100.0 * direction,
        "return": ret,
        "volatility": vol,
        "volatility_regime": np.where(vol > typical, "high", "low"),
    }


class RegimeClassifier:
    """Fit on history, then label bars causally; :meth:`predict_frame` serves MLflow."""

    kind: ClassVar[str] = ""

    def fit(self, bars: Bars) -> RegimeClassifier:
        return self

    def probabilities(self, bars: Bars, ev: Evidence) -> np.ndarray:
        """(T, 3) forward-filtered probabilities of bear, consolidation, bull per bar."""
        raise TypeError(f"{type(self).__name__} must implement probabilities()")

    def classify_series(self, data: Bars | pd.DataFrame) -> pd.DataFrame:
        bars = _frame_to_bars(data)
        ev = evidence(bars)
        probs = self.probabilities(bars, ev)
        label = np.argmax(probs, axis=1)
        out = pd.DataFrame(
            {
                "regime": np.array(REGIMES, dtype=object)[label],
                "volatility_regime": ev["volatility_regime"],
                "confidence": np.clip(probs[np.arange(len(label)), label], 0.0, 1.0),
                "adx": ev["adx"],
                "rsi": ev["rsi"],
                "price_vs_ma50": ev["price_vs_ma50"],
                "trend_strength": ev["trend_strength"],
            }
        )
        return out

    def classify_arrays(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> RegimeResult:
        """The last bar's regime from price arrays alone (the serving path: no frames).
        Equal to the last row of :meth:`classify_series`."""
        close = np.asarray(close, dtype=np.float64)
        bars = Bars(
            "MODEL/INPUT",
            "5m",
            np.arange(len(close), dtype=np.int64) * 300_000,
            close,
            np.asarray(high, dtype=np.float64),
            np.asarray(low, dtype=np.float64),
            close,
            np.zeros(len(close)),
        )
        ev = evidence_arrays(bars.high, bars.low, bars.close)
        probs = self.probabilities(bars, ev)[-1]
        label = int(np.argmax(probs))
        return RegimeResult(
            REGIMES[label],
            str(ev["volatility_regime"][-1]),
            float(min(max(probs[label], 0.0), 1.0)),
            *(_finite(ev[k][-1]) for k in ("adx", "rsi", "price_vs_ma50", "trend_strength")),
        )

    def classify(self, data: Bars | pd.DataFrame) -> RegimeResult:
        bars = _frame_to_bars(data)
        return self.classify_arrays(bars.high, bars.low, bars.close)

    def predict_frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """One bar history in, its last bar's regime out (one row)."""
        return pd.DataFrame([self.classify(data).to_dict()])

    def dumps(self) -> bytes:
        return pickle.dumps(self)


def _finite(value: Any) -> float:
    x = float(value)
    return x if math.isfinite(x) else 0.0


class RuleRegime(RegimeClassifier):
    """The core's ADX/+DI/-DI/MA gate; confidence grows with ADX."""

    kind = "rule"

    def __init__(self, adx_threshold: float = 25.0, ma_period: int = 50) -> None:
        self.adx_threshold = adx_threshold
        self.ma_period = ma_period

    def probabilities(self, bars: Bars, ev: Evidence) -> np.ndarray:
        regime = trend_regime(
            bars.close, bars.high, bars.low, self.ma_period, 14, self.adx_threshold
        )
        strength = np.nan_to_num(ev["adx"], nan=0.0)
        conf = np.clip(0.5 + (strength - self.adx_threshold) / 50.0, 0.34, 1.0)
        probs = np.zeros((len(regime), 3))
        col = np.where(regime == BULL, 2, np.where(regime == BEAR, 0, 1))
        calm = np.clip(0.5 + (self.adx_threshold - strength) / 50.0, 0.34, 1.0)
        main = np.where(col == 1, calm, conf)
        probs[:] = ((1.0 - main) / 2.0)[:, None]
        probs[np.arange(len(col)), col] = main
        return probs


def _hmm_features(ev: Evidence) -> np.ndarray:
    ret = ev["return"]
    trend = pd.Series(ret).rolling(12, min_periods=1).sum().to_numpy()
    vol = ev["volatility"]
    vol = np.where(np.isnan(vol), np.abs(ret) + 1e-6, vol)  # warm-up: this bar's own move
    return np.column_stack([trend * 100.0, np.log(vol + 1e-9)])


def _order_states(means: np.ndarray) -> np.ndarray:
    """Map states to (bear, consolidation, bull) by their mean trend: low, middle, high."""
    order = np.argsort(means)
    mapping = np.empty(len(order), dtype=int)
    mapping[order[0]], mapping[order[-1]] = 0, 2
    for s in order[1:-1]:
        mapping[s] = 1
    return mapping


@numba.njit(cache=True)
def _forward_filter(log_b: np.ndarray, start: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Normalised forward recursion: P(state_t | x_1..x_t) for every t."""
    n, k = log_b.shape
    out = np.empty((n, k))
    alpha = start.copy()
    for t in range(n):
        prior = alpha.copy() if t == 0 else alpha @ trans
        b = np.exp(log_b[t] - log_b[t].max())
        alpha = prior * b
        total = alpha.sum()
        alpha = alpha / total if total > 0 else np.full(k, 1.0 / k)
        out[t] = alpha
    return out


def gaussian_log_density(
    x: np.ndarray, means: np.ndarray, precisions: np.ndarray, log_dets: np.ndarray
) -> np.ndarray:
    """(T, states) log N(x_t; mean_s, cov_s) from each state's precision matrix and log
    determinant (computed once at fit time instead of factorising per call)."""
    d = x.shape[1]
    diff = x[:, None, :] - means[None, :, :]
    maha = np.einsum("tsi,sij,tsj->ts", diff, precisions, diff)
    return -0.5 * (d * np.log(2.0 * np.pi) + log_dets[None, :] + maha)


class HmmRegime(RegimeClassifier):
    """Three-state Gaussian HMM on 12-bar trend and log volatility, forward-filtered."""

    kind = "hmm"

    def __init__(self, seed: int = 0, n_iter: int = 50) -> None:
        self.seed = seed
        self.n_iter = n_iter
        self.model: Any = None
        self.mapping = np.arange(3)
        self.precisions: np.ndarray | None = None

    def fit(self, bars: Bars) -> HmmRegime:
        from hmmlearn.hmm import GaussianHMM

        x = _hmm_features(evidence(bars))[64:]
        model = GaussianHMM(3, covariance_type="full", n_iter=self.n_iter, random_state=self.seed)
        model.fit(x)
        self.model = model
        self.mapping = _order_states(model.means_[:, 0])
        self._cache_densities()
        return self

    def _cache_densities(self) -> None:
        covars = np.asarray(self.model.covars_, dtype=np.float64)
        self.means = np.asarray(self.model.means_, dtype=np.float64)
        self.precisions = np.linalg.inv(covars)
        self.log_dets = np.linalg.slogdet(covars)[1]

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """Per-bar, per-state emission log-likelihood (hmmlearn's, without its per-call
        Cholesky factorisations)."""
        if getattr(self, "precisions", None) is None:  # pickled before the cache existed
            self._cache_densities()
        assert self.precisions is not None
        return gaussian_log_density(x, self.means, self.precisions, self.log_dets)

    def probabilities(self, bars: Bars, ev: Evidence) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("fit the HMM before classifying")
        x = _hmm_features(ev)
        filtered = _forward_filter(
            self.log_likelihood(x),
            np.asarray(self.model.startprob_, dtype=np.float64),
            np.ascontiguousarray(self.model.transmat_, dtype=np.float64),
        )
        probs = np.zeros_like(filtered)
        for state, regime in enumerate(self.mapping):
            probs[:, regime] += filtered[:, state]
        return probs


class MarkovRegime(RegimeClassifier):
    """Markov-switching mean and variance of returns (statsmodels), filtered probabilities
    under the parameters fitted on the training history."""

    kind = "markov"

    def __init__(self, aggregate: int = 12) -> None:
        self.aggregate = aggregate  # sum returns over this many bars: trends, not noise
        self.params: np.ndarray | None = None
        self.mapping = np.arange(3)

    def _series(self, ev: Evidence) -> np.ndarray:
        ret = ev["return"]
        return pd.Series(ret).rolling(self.aggregate, min_periods=1).sum().to_numpy() * 100.0

    def fit(self, bars: Bars) -> MarkovRegime:
        from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

        y = self._series(evidence(bars))
        model = MarkovRegression(y, k_regimes=3, switching_variance=True)
        result = model.fit(disp=False, maxiter=100)
        self.params = np.asarray(result.params)
        means = np.array([self.params[model.param_names.index(f"const[{k}]")] for k in range(3)])
        self.mapping = _order_states(means)
        return self

    def probabilities(self, bars: Bars, ev: Evidence) -> np.ndarray:
        from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

        if self.params is None:
            raise RuntimeError("fit the Markov-switching model before classifying")
        y = self._series(ev)
        model = MarkovRegression(y, k_regimes=3, switching_variance=True)
        filtered = np.asarray(model.filter(self.params).filtered_marginal_probabilities)
        probs = np.zeros_like(filtered)
        for state, regime in enumerate(self.mapping):
            probs[:, regime] += filtered[:, state]
        return probs


CLASSIFIERS: dict[str, type[RegimeClassifier]] = {
    "rule": RuleRegime,
    "hmm": HmmRegime,
    "markov": MarkovRegime,
}


def make_classifier(kind: str, **kwargs: Any) -> RegimeClassifier:
    try:
        return CLASSIFIERS[kind](**kwargs)
    except KeyError:
        raise ValueError(
            f"unknown regime classifier {kind!r}; use one of {sorted(CLASSIFIERS)}"
        ) from None


def bars_frame(bars: Bars) -> pd.DataFrame:
    """A bar history as the regime model's MLflow input."""
    return pd.DataFrame(
        {
            "timestamp": bars.timestamp,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )
