"""Forecasters of the next period's direction, with calibrated probabilities.

Three classifiers read the same input, the last ``window`` bars of the normalised features of
:mod:`axis_ml.features` (the trading environment's own observation, without the account):

- ``lightgbm``: gradient-boosted trees (LightGBM) on the flattened window;
- ``lstm``: an LSTM over the window (torch);
- ``transformer``: a small Transformer encoder over the window (torch).

The label of bar ``t`` is whether the close ``horizon`` bars later is above the close of ``t``.
The data is split in time order into a training part, a calibration part and a test part,
each separated from the next by the label horizon (purged: no training label reaches into the
next part). The classifier learns on the first, a calibrator (isotonic or Platt) maps its raw
scores to probabilities on the second, and the third reports Brier score, log loss, expected
calibration error and AUC of both the raw and the calibrated probabilities, against the
climatological forecast (the training base rate).

``axis ml train-forecast`` logs everything to MLflow and registers the model; the forecast
Serve application and :meth:`axis_ml.serving.ModelClient.forecast` serve it.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from axis.data import Bars, load_bars, sample_bars
from axis_ml.features import FEATURE_NAMES, N_FEATURES, WARMUP, compute_features
from axis_ml.models.calibration import CalibrationMethod, ProbabilityCalibrator, reliability

ForecastKind = Literal["lightgbm", "lstm", "transformer"]
FEATURE_PREFIX = "f"  # MLflow input columns f0, f1, ... (window-major, then feature)


class ForecastConfig(BaseModel):
    """A forecaster training run: data, label, model, calibration and where it goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ForecastKind = "lightgbm"
    symbol: str = "BTC/USDT"
    timeframe: str = "5m"
    data: Path | None = Field(None, description="OHLCV file instead of the bundled sample")
    start: datetime | None = None
    end: datetime | None = None
    window: int = Field(16, ge=1, le=256, description="bars of features per input")
    horizon: int = Field(1, ge=1, le=1000, description="bars ahead the label looks")
    calibration: CalibrationMethod = "isotonic"
    train_fraction: float = Field(0.6, gt=0.1, lt=0.9)
    calibration_fraction: float = Field(0.2, gt=0.05, lt=0.5)
    seed: int = 0
    # gradient boosting
    n_estimators: int = Field(300, ge=1, le=10_000)
    num_leaves: int = Field(31, ge=2, le=4096)
    min_child_samples: int = Field(20, ge=1)
    # sequence models
    hidden: int = Field(32, ge=4, le=1024, description="LSTM units / Transformer width")
    layers: int = Field(1, ge=1, le=8)
    heads: int = Field(4, ge=1, le=16)
    epochs: int = Field(5, ge=1, le=1000)
    batch_size: int = Field(256, ge=8)
    learning_rate: float | None = Field(None, gt=0, description="default 0.05 trees, 1e-3 nets")
    threads: int = Field(1, ge=1, le=256, description="CPU threads of the torch models")
    registered_name: str | None = "axis-forecast"

    @model_validator(mode="after")
    def _check(self) -> ForecastConfig:
        if self.train_fraction + self.calibration_fraction >= 0.95:
            raise ValueError("train_fraction + calibration_fraction must leave a test part")
        if self.kind == "transformer" and self.hidden % self.heads:
            raise ValueError("hidden must be a multiple of heads for the transformer")
        return self

    @property
    def input_size(self) -> int:
        return self.window * N_FEATURES

    def rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 0.05 if self.kind == "lightgbm" else 1e-3


# -- data -------------------------------------------------------------------------------------
def load_history(config: ForecastConfig) -> Bars:
    """The configured bars: a file, or the bundled sample, cut to ``start``/``end``."""
    if config.data is not None:
        bars = load_bars(config.data, symbol=config.symbol, timeframe=config.timeframe)
    else:
        bars = sample_bars(config.symbol, config.timeframe)
    start = int(config.start.timestamp() * 1000) if config.start else None
    end = int(config.end.timestamp() * 1000) if config.end else None
    return bars.between(start, end)


def feature_windows(features: np.ndarray, rows: np.ndarray, window: int) -> np.ndarray:
    """(len(rows), window * N_FEATURES) float32: for each decision bar ``t`` in ``rows`` the
    features of bars ``t - window + 1 .. t``, oldest first."""
    view = np.lib.stride_tricks.sliding_window_view(features, window, axis=0)
    # view[k] holds bars k .. k + window - 1 as (features, window); the row of t is t-window+1.
    picked = view[np.asarray(rows) - window + 1].transpose(0, 2, 1)
    return np.ascontiguousarray(picked.reshape(len(rows), -1), dtype=np.float32)


def latest_window(features: np.ndarray, index: int, window: int) -> np.ndarray:
    """The model input after bar ``index`` closes (one row)."""
    return feature_windows(features, np.array([index]), window)[0]


@dataclass(frozen=True, slots=True)
class ForecastDataset:
    x: np.ndarray  # (n, window * N_FEATURES) float32
    y: np.ndarray  # (n,) 1 when the close ``horizon`` bars later is higher
    bar: np.ndarray  # the decision bar of each row
    forward_return: np.ndarray  # log return over the horizon

    def __len__(self) -> int:
        return len(self.y)


def build_dataset(bars: Bars, window: int, horizon: int) -> ForecastDataset:
    """Every bar whose features are warm and whose label is known."""
    features = compute_features(bars)
    first = WARMUP + window - 1
    last = len(bars) - 1 - horizon
    if last - first < 200:
        raise ValueError(f"{len(bars)} bars are too few for window {window}, horizon {horizon}")
    rows = np.arange(first, last + 1)
    log_close = np.log(np.asarray(bars.close, dtype=np.float64))
    forward = log_close[rows + horizon] - log_close[rows]
    return ForecastDataset(
        feature_windows(features, rows, window), (forward > 0).astype(np.int64), rows, forward
    )


def time_split(
    n: int, train_fraction: float, calibration_fraction: float, gap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, calibration and test rows in time order, each part starting ``gap`` rows after
    the previous one ends (a row's label spans ``gap`` rows: purged)."""
    train_end = int(n * train_fraction)
    calib_start = train_end + gap
    calib_end = int(n * (train_fraction + calibration_fraction))
    test_start = calib_end + gap
    if calib_end - calib_start < 50 or n - test_start < 50:
        raise ValueError("too few rows for the calibration and test parts")
    index = np.arange(n)
    return index[:train_end], index[calib_start:calib_end], index[test_start:]


# -- classifiers ------------------------------------------------------------------------------
class LightGbmClassifier:
    def __init__(self, config: ForecastConfig) -> None:
        import lightgbm as lgb

        self.model = lgb.LGBMClassifier(
            n_estimators=config.n_estimators,
            num_leaves=config.num_leaves,
            learning_rate=config.rate(),
            min_child_samples=config.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=config.seed,
            n_jobs=1,
            verbose=-1,
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> LightGbmClassifier:
        self.model.fit(x, y)
        return self

    def predict_up(self, x: np.ndarray) -> np.ndarray:
        # The booster's own probability of the positive class (what predict_proba's second
        # column holds), without the scikit-learn wrapper's per-call input checks.
        out = self.model.booster_.predict(x, num_threads=1)  # a few rows: no thread team
        return np.asarray(out, dtype=np.float64).reshape(-1)


def _sequence_net(config: ForecastConfig) -> Any:
    import torch
    from torch import nn

    class LstmNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_FEATURES, config.hidden, config.layers, batch_first=True)
            self.head = nn.Linear(config.hidden, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(x)
            return self.head(out[:, -1]).squeeze(-1)

    class TransformerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = config.hidden
            self.embed = nn.Linear(N_FEATURES, width)
            self.position = nn.Parameter(torch.zeros(1, config.window, width))
            layer = nn.TransformerEncoderLayer(
                width, config.heads, dim_feedforward=2 * width, dropout=0.1, batch_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
            self.head = nn.Linear(width, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(self.embed(x) + self.position)
            return self.head(hidden[:, -1]).squeeze(-1)

    return LstmNet() if config.kind == "lstm" else TransformerNet()


class SequenceClassifier:
    """An LSTM or Transformer over the feature window, trained with binary cross-entropy.
    Pickles as its settings and weights; runs on CPU (serving replicas may hold a GPU, but
    a few hundred rows per call do not need one)."""

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config
        self.net = _sequence_net(config)
        self.losses: list[float] = []

    def _tensor(self, x: np.ndarray) -> Any:
        import torch

        rows = np.asarray(x, dtype=np.float32).reshape(-1, self.config.window, N_FEATURES)
        return torch.tensor(rows)  # a copy: inputs may be read-only views

    def fit(self, x: np.ndarray, y: np.ndarray) -> SequenceClassifier:
        import torch

        config = self.config
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        inputs, target = self._tensor(x), torch.from_numpy(y.astype(np.float32))
        optimiser = torch.optim.Adam(self.net.parameters(), lr=config.rate())
        loss_fn = torch.nn.BCEWithLogitsLoss()
        self.net.train()
        with torch_threads(config.threads):
            self._train(inputs, target, optimiser, loss_fn, generator)
        self.net.eval()
        return self

    def _train(
        self, inputs: Any, target: Any, optimiser: Any, loss_fn: Any, generator: Any
    ) -> None:
        import torch

        config = self.config
        for _ in range(config.epochs):
            order = torch.randperm(len(target), generator=generator)
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                optimiser.zero_grad()
                loss = loss_fn(self.net(inputs[batch]), target[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            self.losses.append(total / len(order))

    def predict_up(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), torch_threads(self.config.threads):
            logits = self.net(self._tensor(x))
        return np.asarray(torch.sigmoid(logits).numpy(), dtype=np.float64).reshape(-1)

    def __getstate__(self) -> dict[str, Any]:
        import torch

        buffer = io.BytesIO()
        torch.save(self.net.state_dict(), buffer)
        return {"config": self.config, "weights": buffer.getvalue(), "losses": self.losses}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import torch

        self.config = state["config"]
        self.losses = state["losses"]
        self.net = _sequence_net(self.config)
        weights = torch.load(io.BytesIO(state["weights"]), weights_only=True)
        self.net.load_state_dict(weights)
        self.net.eval()


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` CPU threads: small nets are fastest on one (intra-op threads cost
    more than they save, and contend with everything else on a shared machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_classifier(config: ForecastConfig) -> LightGbmClassifier | SequenceClassifier:
    if config.kind == "lightgbm":
        return LightGbmClassifier(config)
    return SequenceClassifier(config)


# -- the served model -------------------------------------------------------------------------
class Forecaster:
    """A fitted classifier and its calibrator: feature windows in, P(up) out."""

    def __init__(
        self,
        config: ForecastConfig,
        classifier: LightGbmClassifier | SequenceClassifier,
        calibrator: ProbabilityCalibrator,
    ) -> None:
        self.config = config
        self.classifier = classifier
        self.calibrator = calibrator

    def raw_probability(self, x: np.ndarray) -> np.ndarray:
        return self.classifier.predict_up(self._rows(x))

    def probability_up(self, x: np.ndarray) -> np.ndarray:
        return self.calibrator.transform(self.raw_probability(x))

    def _rows(self, x: np.ndarray) -> np.ndarray:
        rows = np.asarray(x, dtype=np.float32)
        rows = rows.reshape(-1, rows.shape[-1]) if rows.ndim > 1 else rows.reshape(1, -1)
        if rows.shape[1] != self.config.input_size:
            raise ValueError(
                f"the forecaster reads {self.config.input_size} features "
                f"({self.config.window} bars x {N_FEATURES}); got {rows.shape[1]}"
            )
        return rows

    def predict_frame(self, data: Any) -> np.ndarray:
        values = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        return self.probability_up(values)

    def metadata(self) -> dict[str, Any]:
        return {
            "forecast_kind": self.config.kind,
            "window": self.config.window,
            "horizon": self.config.horizon,
            "calibration": self.config.calibration,
            "symbol": self.config.symbol,
            "timeframe": self.config.timeframe,
            "features": list(FEATURE_NAMES),
        }


@dataclass(frozen=True, slots=True)
class ForecastFit:
    forecaster: Forecaster
    dataset: ForecastDataset
    parts: tuple[np.ndarray, np.ndarray, np.ndarray]  # train, calibration, test rows
    metrics: dict[str, float]


def fit_forecaster(config: ForecastConfig, bars: Bars | None = None) -> ForecastFit:
    """Fit, calibrate and test one forecaster (no MLflow)."""
    data = build_dataset(
        bars if bars is not None else load_history(config), config.window, config.horizon
    )
    train, calib, test = time_split(
        len(data), config.train_fraction, config.calibration_fraction, config.horizon
    )
    classifier = make_classifier(config).fit(data.x[train], data.y[train])
    raw_calib = classifier.predict_up(data.x[calib])
    calibrator = ProbabilityCalibrator(config.calibration).fit(raw_calib, data.y[calib])
    forecaster = Forecaster(config, classifier, calibrator)
    raw_test = classifier.predict_up(data.x[test])
    calibrated = calibrator.transform(raw_test)
    base_rate = float(data.y[train].mean())
    metrics: dict[str, float] = {"base_rate_train": base_rate, "rows_train": float(len(train))}
    for name, probability in (
        ("raw", raw_test),
        ("calibrated", calibrated),
        ("climatology", np.full(len(test), base_rate)),
    ):
        for key, value in reliability(probability, data.y[test]).items():
            metrics[f"test_{name}_{key}"] = value
    metrics["test_brier_skill"] = 1.0 - metrics["test_calibrated_brier"] / max(
        metrics["test_climatology_brier"], 1e-12
    )
    return ForecastFit(forecaster, data, (train, calib, test), metrics)


def reliability_figure(
    probabilities: dict[str, np.ndarray], outcome: np.ndarray, path: Path
) -> Path:
    """A reliability diagram (observed frequency against predicted probability per bin)."""
    from sklearn.calibration import calibration_curve

    from axis_ml.evaluation.reports import new_figure, save_figure

    fig, ax = new_figure(5, 5)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1.0, label="perfect")
    for name, p in probabilities.items():
        observed, predicted = calibration_curve(outcome, p, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, marker="o", linewidth=1.0, label=name)
    ax.set_xlabel("predicted P(up)")
    ax.set_ylabel("observed frequency")
    ax.legend(loc="best")
    return save_figure(fig, path)


@dataclass(frozen=True, slots=True)
class ForecastTrainResult:
    run_id: str
    registered_version: str | None
    metrics: dict[str, float]


def train_forecast(config: ForecastConfig, recorder: Any | None = None) -> ForecastTrainResult:
    """Fit a forecaster, log params, metrics, the reliability diagram and the model (with
    signature and pinned requirements) to MLflow, and register it."""
    import mlflow

    from axis_ml.registry import TrainingJob, configure, log_axis_model, recorded
    from axis_ml.registry.tracking import as_frame, save_predictor

    configure(experiment="axis-forecast")
    job = TrainingJob("forecast", config.registered_name or "", config.model_dump(mode="json"))
    with recorded(job, recorder):
        fit = fit_forecaster(config)
        forecaster, data = fit.forecaster, fit.dataset
        test = fit.parts[2]
        with (
            mlflow.start_run(run_name=f"forecast-{config.kind}") as run,
            tempfile.TemporaryDirectory() as folder,
        ):
            mlflow.log_params({k: str(v)[:500] for k, v in config.model_dump(mode="json").items()})
            mlflow.log_metrics({k: v for k, v in fit.metrics.items() if math.isfinite(v)})
            raw = forecaster.raw_probability(data.x[test])
            figure = reliability_figure(
                {"raw": raw, "calibrated": forecaster.calibrator.transform(raw)},
                data.y[test],
                Path(folder) / "reliability_test.png",
            )
            mlflow.log_artifact(str(figure))
            example = as_frame(data.x[test[:4]], FEATURE_PREFIX)
            artifact = save_predictor(forecaster, Path(folder) / "forecaster.pkl")
            version = log_axis_model(
                "forecast",
                artifact,
                example,
                forecaster.predict_frame(example),
                registered_name=config.registered_name,
                metadata=forecaster.metadata(),
            )
            job.mlflow_run_id = run.info.run_id
        job.model_version = version
        job.metrics = {k: v for k, v in fit.metrics.items() if math.isfinite(v)}
        return ForecastTrainResult(run.info.run_id, version, fit.metrics)
