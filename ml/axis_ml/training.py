"""Training and evaluation jobs behind ``axis ml``: each logs to MLflow and is recorded
through a :class:`~axis_ml.registry.TrainingJobRecorder`."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from axis.data import sample_bars
from axis_ml.registry.jobs import TrainingJob, TrainingJobRecorder


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
    if recorder is not None:
        recorder.started(job)
    try:
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
        job.status, job.model_version = "succeeded", version
        return version, model.classify(bars).to_dict()
    except Exception as exc:
        job.status, job.error = "failed", str(exc)
        raise
    finally:
        if recorder is not None:
            recorder.finished(job)


def evaluate_policy(model_uri: str, out: Path, *, folds: int = 4, seeds: int = 3) -> Path:
    """Walk-forward evaluation of a registered policy: the data's test windows in time
    order, the policy against buy-and-hold, random (several seeds) and MA crossover, all
    with costs; the deflated Sharpe ratio of the policy given every trial run."""
    import mlflow

    from axis_ml.envs.market import EnvConfig, build_market
    from axis_ml.evaluation.reports import write_report
    from axis_ml.evaluation.splits import walk_forward
    from axis_ml.evaluation.stats import deflated_sharpe_ratio, sharpe_ratio
    from axis_ml.models.rl import baselines, run_policy_on
    from axis_ml.registry.tracking import as_frame, configure, load_model, model_metadata

    configure(experiment="axis-evaluation")
    model = load_model(model_uri)
    meta = model_metadata(model_uri)
    env = EnvConfig.model_validate({**meta["env"], "episode_length": 0})
    continuous = env.actions == "continuous"
    full = build_market(env)
    bars = full.prepared.market.bars
    warm = full.first_decision + 1
    report: dict[str, Any] = {"model": model_uri, "folds": []}
    curves: dict[str, np.ndarray] = {}
    trial_sharpes: list[float] = []
    policy_returns: list[np.ndarray] = []

    def act(obs: np.ndarray) -> Any:
        action = float(np.asarray(model.predict(as_frame(obs[None, :], "obs")))[0])
        return np.array([action], dtype=np.float32) if continuous else int(action)

    with mlflow.start_run(run_name="evaluate"):
        mlflow.log_param("model", model_uri)
        for k, (_, test) in enumerate(walk_forward(len(bars), folds, min_train=len(bars) // 3)):
            start = max(int(test[0]) - warm, 0)
            window = bars.between(int(bars.timestamp[start]), int(bars.timestamp[test[-1]]) + 1)
            market = build_market(env, [window])
            runs = [run_policy_on(market, act, "policy")]
            for seed in range(seeds):
                runs += [r for r in baselines(market, seed) if r.name == "random" or seed == 0]
            fold: dict[str, Any] = {"start": int(window.timestamp[0]), "runs": {}}
            for run in runs:
                key = run.name if run.name != "random" else f"random_{len(fold['runs'])}"
                fold["runs"][key] = run.metrics
                returns = np.diff(run.equity) / run.equity[:-1]
                trial_sharpes.append(sharpe_ratio(returns))
                if run.name == "policy":
                    policy_returns.append(returns)
                    curves[f"policy fold {k}"] = run.equity
            report["folds"].append(fold)
            sharpe = fold["runs"]["policy"].get("sharpe", 0.0)
            mlflow.log_metric("policy_sharpe", float(sharpe), step=k)
        joined = np.concatenate(policy_returns)
        dsr = deflated_sharpe_ratio(joined, np.array(trial_sharpes))
        report["deflated_sharpe_ratio"] = dsr if math.isfinite(dsr) else None
        report["trials"] = len(trial_sharpes)
        if math.isfinite(dsr):
            mlflow.log_metric("deflated_sharpe_ratio", dsr)
        return write_report(report, curves, out)
