"""Regime training behind ``axis ml train-regime``: logs to MLflow and is recorded through a
:class:`~axis_ml.registry.TrainingJobRecorder`. (Each other model kind trains in its own
module under :mod:`axis_ml.models`; evaluation lives in :mod:`axis_ml.evaluation`.)"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from axis.data import sample_bars
from axis_ml.registry.jobs import TrainingJob, TrainingJobRecorder, recorded


def train_regime(
    kind: str,
    symbol: str,
    timeframe: str,
    name: str | None,
    recorder: TrainingJobRecorder | None = None,
) -> tuple[str | None, dict[str, Any]]:
    """Fit a regime classifier on the bundled ``symbol`` data, log and register it.
    Returns (registered version, the last bar's classification)."""
    import mlflow

    from axis_ml.models.regime import bars_frame, make_classifier
    from axis_ml.registry.tracking import configure, log_axis_model, save_predictor

    configure(experiment="axis-regime")
    bars = sample_bars(symbol, timeframe)
    job = TrainingJob("regime", name or "", {"kind": kind, "symbol": symbol})
    with recorded(job, recorder):
        model = make_classifier(kind).fit(bars)
        labels = model.classify_series(bars)
        shares = labels["regime"].value_counts(normalize=True).to_dict()
        example = bars_frame(bars.between(int(bars.timestamp[-300]), None))
        with mlflow.start_run(run_name=f"regime-{kind}") as run, tempfile.TemporaryDirectory() as d:
            mlflow.log_params({"kind": kind, "symbol": symbol, "timeframe": timeframe})
            mlflow.log_metrics({f"share_{k}": float(v) for k, v in shares.items()})
            mlflow.log_metric("mean_confidence", float(labels["confidence"].mean()))
            artifact = save_predictor(model, Path(d) / "regime.pkl")
            version = log_axis_model(
                "regime",
                artifact,
                example,
                model.predict_frame(example),
                registered_name=name,
                metadata={"regime_kind": kind, "symbol": symbol, "timeframe": timeframe},
            )
            job.mlflow_run_id = run.info.run_id
        job.model_version = version
        return version, model.classify(bars).to_dict()
