"""GARCH(1,1) volatility forecasts (the ``arch`` package) and volatility-target sizing.

Bar returns of a liquid market are tiny numbers (a 5m BTC return has a variance near 1e-6),
and arch's optimiser converges badly on them; arch advises rescaling by a power of ten that
brings the variance between 0.1 and 10,000. :meth:`GarchVolatility.fit` lets arch pick that
power (``rescale=True``) and keeps it: parameters live on the rescaled returns, forecasts are
divided back into return units.

Forecasts are causal one-step-ahead variances: the forecast made at the close of bar ``t``
uses returns up to ``t`` only, by GARCH's own recursion
``σ²[t+1] = ω + α (r[t] − μ)² + β σ²[t]`` under the fitted parameters. A test checks the
recursion against arch's fixed-parameter results.

:func:`volatility_target_exposure` turns a forecast into a position size: the exposure whose
expected equity volatility matches a target. The ``ml_forecast`` strategy sizes with it.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from axis.data import Bars, timeframe_to_ms

MeanModel = Literal["zero", "constant"]
Distribution = Literal["normal", "t"]
YEAR_MS = 365.25 * 24 * 3600 * 1000


def log_returns(close: np.ndarray) -> np.ndarray:
    """Log returns of a close series; the first bar's return is 0."""
    log_close = np.log(np.asarray(close, dtype=np.float64))
    return np.r_[0.0, np.diff(log_close)]


@dataclass(frozen=True, slots=True)
class GarchVolatility:
    """Fitted GARCH(1,1) parameters on returns × ``scale``."""

    mu: float
    omega: float
    alpha: float
    beta: float
    scale: float  # the power of ten arch chose
    mean: MeanModel = "constant"
    distribution: Distribution = "normal"
    nu: float = math.nan  # Student-t degrees of freedom
    # σ² forecast for the bar after the training sample (scaled): where a recursion over
    # later data starts, a value from the past (the long-run variance is unreliable when
    # α + β is close to 1, as it is on intraday bars).
    initial_variance: float = math.nan

    @classmethod
    def fit(
        cls,
        returns: np.ndarray,
        mean: MeanModel = "constant",
        distribution: Distribution = "normal",
    ) -> GarchVolatility:
        from arch import arch_model

        model = arch_model(
            np.asarray(returns, dtype=np.float64),
            mean="Zero" if mean == "zero" else "Constant",
            vol="GARCH",
            p=1,
            q=1,
            dist="t" if distribution == "t" else "normal",
            rescale=True,
        )
        result = model.fit(disp="off", show_warning=False)
        params = result.params
        following = result.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
        return cls(
            mu=float(params["mu"]) if mean == "constant" else 0.0,
            omega=float(params["omega"]),
            alpha=float(params["alpha[1]"]),
            beta=float(params["beta[1]"]),
            scale=float(result.scale),
            mean=mean,
            distribution=distribution,
            nu=float(params["nu"]) if distribution == "t" else math.nan,
            initial_variance=float(following),
        )

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta

    def unconditional_variance(self) -> float:
        """Long-run variance ω / (1 − α − β), in scaled units (inf when not stationary)."""
        room = 1.0 - self.persistence
        return self.omega / room if room > 0 else math.inf

    def arch_params(self) -> np.ndarray:
        """The parameter vector in arch's order for this mean model and distribution."""
        values = [self.omega, self.alpha, self.beta]
        if self.mean == "constant":
            values.insert(0, self.mu)
        if self.distribution == "t":
            values.append(self.nu)
        return np.array(values)

    def update(self, variance: float, ret: float) -> float:
        """The next bar's variance (scaled units) after a bar with log return ``ret``: the
        O(1) step a live feed takes per bar."""
        resid = ret * self.scale - self.mu
        return self.omega + self.alpha * resid * resid + self.beta * variance

    def conditional_variance(self, returns: np.ndarray, initial: float | None = None) -> np.ndarray:
        """σ²[t] for every bar, in scaled units: the variance of bar ``t``'s return as
        forecast at the close of ``t − 1``. The recursion starts from ``initial`` in place of
        σ²[−1] and r[−1]² (arch calls it the backcast); by default the variance forecast at
        the end of the training sample, else the long-run variance."""
        r = np.asarray(returns, dtype=np.float64) * self.scale - self.mu
        start = self.initial_variance if initial is None else float(initial)
        if not math.isfinite(start):
            start = self.unconditional_variance()
        if not math.isfinite(start):
            start = float(np.mean(r * r)) if len(r) else 1.0
        out = np.empty(len(r))
        prev_var, prev_sq = start, start
        for t in range(len(r)):
            prev_var = self.omega + self.alpha * prev_sq + self.beta * prev_var
            out[t] = prev_var
            prev_sq = r[t] * r[t]
        return out

    def forecast_volatility(self, returns: np.ndarray, initial: float | None = None) -> np.ndarray:
        """For every bar ``t``: the volatility of bar ``t + 1``'s return (in return units, not
        percent) forecast at the close of ``t`` from returns up to ``t``."""
        r = np.asarray(returns, dtype=np.float64)
        variance = self.conditional_variance(r, initial)
        resid = r * self.scale - self.mu
        following = self.omega + self.alpha * resid * resid + self.beta * variance
        return np.sqrt(following) / self.scale

    def predict_frame(self, data: Any) -> np.ndarray:
        """MLflow input: a frame with a ``close`` column (a price history, oldest first);
        output: the next bar's forecast volatility after each row."""
        close = data["close"].to_numpy(np.float64) if hasattr(data, "columns") else data
        return self.forecast_volatility(log_returns(np.asarray(close, dtype=np.float64)))


def bars_per_year(timeframe: str) -> float:
    return YEAR_MS / timeframe_to_ms(timeframe)


def per_bar_volatility(annual: float, timeframe: str) -> float:
    """An annualised volatility expressed per bar of ``timeframe`` (square-root-of-time)."""
    return annual / math.sqrt(bars_per_year(timeframe))


def volatility_target_exposure(
    forecast_volatility: float, target_volatility: float, leverage: float, max_exposure: float = 1.0
) -> float:
    """The exposure (a fraction of equity × leverage, the strategies' unit) whose expected
    equity volatility per bar is ``target_volatility`` when the asset's is
    ``forecast_volatility``: ``target / (leverage × forecast)``, capped at ``max_exposure``.
    No forecast (zero, NaN) gives no position."""
    if not forecast_volatility > 0.0 or not math.isfinite(forecast_volatility):
        return 0.0
    return min(target_volatility / (leverage * forecast_volatility), max_exposure)


class VolatilityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = "BTC/USDT"
    timeframe: str = "5m"
    data: Path | None = None
    mean: MeanModel = "constant"
    distribution: Distribution = "normal"
    train_fraction: float = Field(0.7, gt=0.1, lt=1.0)
    registered_name: str | None = "axis-volatility"


@dataclass(frozen=True, slots=True)
class VolatilityTrainResult:
    model: GarchVolatility
    run_id: str
    registered_version: str | None
    metrics: dict[str, float]


def evaluate_forecasts(model: GarchVolatility, returns: np.ndarray, first: int) -> dict[str, float]:
    """Out-of-sample quality from bar ``first`` on: the QLIKE loss and the mean squared error
    of the variance forecasts against squared returns, next to a rolling-variance baseline."""
    r = np.asarray(returns, dtype=np.float64)
    forecast = model.forecast_volatility(r)[first - 1 : -1] ** 2
    realised = r[first:] ** 2
    baseline = pd.Series(r).rolling(96, min_periods=2).var().to_numpy()[first - 1 : -1]
    baseline = np.where(np.isfinite(baseline) & (baseline > 0), baseline, np.var(r[:first]))

    def qlike(f: np.ndarray) -> float:
        return float(np.mean(realised / f - np.log(realised / f + 1e-300) - 1.0))

    return {
        "test_qlike": qlike(forecast),
        "test_qlike_rolling_baseline": qlike(baseline),
        "test_mse": float(np.mean((forecast - realised) ** 2)),
        "test_mse_rolling_baseline": float(np.mean((baseline - realised) ** 2)),
    }


def train_volatility(
    config: VolatilityConfig, recorder: Any | None = None
) -> VolatilityTrainResult:
    """Fit GARCH(1,1) on the head of the data, test the forecasts on the tail, log to MLflow
    and register the model."""
    import mlflow

    from axis.data import load_bars, sample_bars
    from axis_ml.registry import TrainingJob, configure, log_axis_model, recorded
    from axis_ml.registry.tracking import save_predictor

    configure(experiment="axis-volatility")
    job = TrainingJob("volatility", config.registered_name or "", config.model_dump(mode="json"))
    with recorded(job, recorder):
        bars: Bars = (
            load_bars(config.data, symbol=config.symbol, timeframe=config.timeframe)
            if config.data is not None
            else sample_bars(config.symbol, config.timeframe)
        )
        returns = log_returns(bars.close)
        cut = int(len(returns) * config.train_fraction)
        model = GarchVolatility.fit(returns[1:cut], config.mean, config.distribution)
        metrics = {
            "omega": model.omega,
            "alpha": model.alpha,
            "beta": model.beta,
            "persistence": model.persistence,
            "scale": model.scale,
        }
        if cut < len(returns) - 10:
            metrics.update(evaluate_forecasts(model, returns, cut))
        with (
            mlflow.start_run(run_name="volatility-garch11") as run,
            tempfile.TemporaryDirectory() as d,
        ):
            mlflow.log_params({k: str(v) for k, v in config.model_dump(mode="json").items()})
            mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
            example = pd.DataFrame({"close": np.asarray(bars.close[-64:], dtype=np.float64)})
            artifact = save_predictor(model, Path(d) / "garch.pkl")
            version = log_axis_model(
                "volatility",
                artifact,
                example,
                model.predict_frame(example),
                registered_name=config.registered_name,
                metadata={
                    "volatility_kind": "garch11",
                    "symbol": config.symbol,
                    "timeframe": config.timeframe,
                    "scale": model.scale,
                },
            )
            job.mlflow_run_id = run.info.run_id
        job.model_version = version
        job.metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        return VolatilityTrainResult(model, run.info.run_id, version, metrics)
