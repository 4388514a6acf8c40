"""``axis ml evaluate``: out-of-sample evaluation of RL policies a quant would trust.

Two questions, two modes:

- **A training procedure** (an ``RLTrainConfig``): is the recipe any good? For each split of
  the data — walk-forward (train on everything before a test window) or purged k-fold with
  an embargo (train on everything but the test fold, less the bars next to it) — and for each
  seed, a policy is trained on the training bars only and played over the test bars. Every
  window also plays the baselines (buy-and-hold, a random policy per seed, MA crossover)
  through the same environment and costs.
- **A registered policy** (``models:/NAME@alias``): how does this policy do on data it never
  saw? Test windows tile the bars after its training data ended (recorded at registration);
  a model without that record is evaluated over all bars and the report says so.

Metrics come from the core (:func:`axis.backtest.metrics.compute_metrics`, costs included);
the deflated Sharpe ratio (Bailey & López de Prado) judges the best seed given every seed
tried. ``report.json`` and ``equity.png`` are written and logged to an MLflow run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from axis.config import ConfigError
from axis.data import Bars
from axis_ml.envs.market import EnvConfig, TradingMarket, build_market
from axis_ml.evaluation.splits import purged_kfold, walk_forward
from axis_ml.evaluation.stats import deflated_sharpe_ratio, sharpe_ratio
from axis_ml.features import WARMUP

Scheme = Literal["walk_forward", "purged_kfold"]


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Scheme = "walk_forward"
    folds: int = Field(4, ge=2, le=50)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    embargo: float = Field(0.01, ge=0, lt=0.5, description="share of bars dropped after a fold")
    purge: int | None = Field(
        None, ge=0, description="bars dropped before a test window (default: the env window)"
    )
    min_train_fraction: float = Field(
        0.4, gt=0.05, lt=0.95, description="walk-forward: data before the first test window"
    )


@dataclass(slots=True)
class Window:
    """One test window and the training segments that go with it (bar index ranges)."""

    index: int
    test: tuple[int, int]  # [start, end) of the bars traded
    train: list[tuple[int, int]] = field(default_factory=list)


def _segments(rows: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous [start, end) runs of a sorted index array."""
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.r_[rows[0], rows[breaks + 1]]
    ends = np.r_[rows[breaks] + 1, rows[-1] + 1]
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def plan_windows(n_bars: int, config: EvaluationConfig, purge: int) -> list[Window]:
    """Test windows and their training segments. Walk-forward: everything before the
    window, less ``purge`` bars. Purged k-fold: everything outside the fold, less ``purge``
    bars before it and the embargo after it (López de Prado's purge and embargo)."""
    windows = []
    if config.scheme == "walk_forward":
        min_train = int(n_bars * config.min_train_fraction)
        for k, (train, test) in enumerate(
            walk_forward(n_bars, config.folds, min_train=min_train, gap=purge)
        ):
            windows.append(Window(k, (int(test[0]), int(test[-1]) + 1), _segments(train)))
    else:
        folds = purged_kfold(n_bars, config.folds, label_horizon=purge, embargo=config.embargo)
        for k, (train, test) in enumerate(folds):
            windows.append(Window(k, (int(test[0]), int(test[-1]) + 1), _segments(train)))
    return windows


def _market(env: EnvConfig, bars: Bars, start: int, end: int) -> TradingMarket:
    """A market over bars ``[start, end)``, with the features' warm-up taken from the bars
    before ``start`` (inputs only: the account trades from ``start``)."""
    warm = WARMUP + env.window - 1
    first = max(start - warm, 0)
    stop = int(bars.timestamp[end - 1]) + 1
    return build_market(env, [bars.between(int(bars.timestamp[first]), stop)])


def _trainable(segments: list[tuple[int, int]], env: EnvConfig) -> list[tuple[int, int]]:
    """Segments long enough to hold an episode after the features' warm-up."""
    need = WARMUP + env.window + 64
    return [(a, b) for a, b in segments if b - a >= need]


def _returns(equity: np.ndarray) -> np.ndarray:
    curve = np.asarray(equity, dtype=np.float64)
    return np.diff(curve) / curve[:-1]


@dataclass(slots=True)
class _Collector:
    """Runs per window, the trials for the deflated Sharpe ratio, and the curves to plot."""

    report: dict[str, Any]
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    policy_returns: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add_window(self, window: Window, runs: list[Any], timestamps: np.ndarray) -> None:
        entry: dict[str, Any] = {
            "index": window.index,
            "test_start": int(timestamps[window.test[0]]),
            "test_end": int(timestamps[window.test[1] - 1]),
            "bars": window.test[1] - window.test[0],
            "train_segments": [
                [int(timestamps[a]), int(timestamps[b - 1])] for a, b in window.train
            ],
            "runs": {},
        }
        for name, run in runs:
            entry["runs"][name] = run.metrics
            if name.startswith("policy"):
                self.policy_returns.setdefault(name, []).append(_returns(run.equity))
                self.curves[f"{name} window {window.index}"] = run.equity
        self.report["windows"].append(entry)

    def finish(self) -> None:
        """Per trial (policy seed): its Sharpe over all windows joined; the best one's
        deflated Sharpe ratio given how many were tried; mean metrics of every run name."""
        trials = {name: np.concatenate(parts) for name, parts in self.policy_returns.items()}
        sharpes = {name: sharpe_ratio(r) for name, r in trials.items()}
        self.report["trials"] = {name: {"sharpe_per_bar": s} for name, s in sharpes.items()}
        if sharpes:
            best = max(sharpes, key=lambda name: sharpes[name])
            dsr = deflated_sharpe_ratio(trials[best], np.array(list(sharpes.values())))
            self.report["best_trial"] = best
            self.report["deflated_sharpe_ratio"] = dsr if math.isfinite(dsr) else None
        summary: dict[str, dict[str, float]] = {}
        for entry in self.report["windows"]:
            for name, metrics in entry["runs"].items():
                group = name.split("_seed")[0]
                for key in ("total_return", "sharpe", "max_drawdown", "fees_paid"):
                    if key in metrics and math.isfinite(metrics[key]):
                        summary.setdefault(group, {}).setdefault(key, 0.0)
                        summary[group][key] += metrics[key]
        counts: dict[str, int] = {}
        for entry in self.report["windows"]:
            for group in {name.split("_seed")[0] for name in entry["runs"]}:
                counts[group] = counts.get(group, 0) + 1
        self.report["mean_per_run_kind"] = {
            group: {k: v / counts[group] for k, v in values.items()}
            for group, values in summary.items()
        }


def _baseline_runs(market: TradingMarket, seeds: list[int]) -> list[tuple[str, Any]]:
    from axis_ml.models.rl import baselines

    runs: list[tuple[str, Any]] = []
    for k, seed in enumerate(seeds):
        for run in baselines(market, seed):
            if run.name == "random":
                runs.append((f"random_seed{seed}", run))
            elif k == 0:  # deterministic baselines once
                runs.append((run.name, run))
    return runs


def _log(report: dict[str, Any], curves: dict[str, np.ndarray], out: Path) -> Path:
    import mlflow

    from axis_ml.evaluation.reports import write_report

    for k, entry in enumerate(report["windows"]):
        for name, metrics in entry["runs"].items():
            if name.startswith("policy") and math.isfinite(metrics.get("sharpe", math.nan)):
                mlflow.log_metric(f"{name}_sharpe", metrics["sharpe"], step=k)
    dsr = report.get("deflated_sharpe_ratio")
    if dsr is not None:
        mlflow.log_metric("deflated_sharpe_ratio", dsr)
    for group, values in report["mean_per_run_kind"].items():
        for key, value in values.items():
            mlflow.log_metric(f"mean_{group}_{key}", value)
    return write_report(report, curves, out)


def evaluate_training(
    train: Any, config: EvaluationConfig, out: Path, progress: Callable[[str], None] | None = None
) -> Path:
    """Walk-forward or purged k-fold evaluation of an RL training config: one policy per
    (window, seed) trained on that window's training bars, played on its test bars."""
    import mlflow

    from axis_ml.models.rl import fit_policy, one_action, run_policy_on
    from axis_ml.registry.tracking import configure

    configure(experiment="axis-evaluation")
    env = train.env
    full = build_market(env.model_copy(update={"episode_length": 0}))
    bars = full.prepared.market.bars
    purge = config.purge if config.purge is not None else env.window
    windows = plan_windows(len(bars), config, purge)
    report: dict[str, Any] = {
        "mode": "training_procedure",
        "scheme": config.scheme,
        "algo": train.algo,
        "seeds": list(config.seeds),
        "purge_bars": purge,
        "embargo": config.embargo,
        "symbol": env.symbol,
        "windows": [],
    }
    collector = _Collector(report)
    test_env = env.model_copy(update={"episode_length": 0})
    with mlflow.start_run(run_name=f"evaluate-{config.scheme}"):
        mlflow.log_params(
            {
                "scheme": config.scheme,
                "folds": config.folds,
                "seeds": str(config.seeds),
                "algo": train.algo,
                "timesteps": train.total_timesteps,
                "purge": purge,
                "embargo": config.embargo,
            }
        )
        for window in windows:
            segments = _trainable(window.train, env)
            if not segments:
                raise ConfigError(
                    f"window {window.index}: no training segment long enough; use fewer folds"
                )
            window.train = segments
            series = [
                bars.between(int(bars.timestamp[a]), int(bars.timestamp[b - 1]) + 1)
                for a, b in segments
            ]
            train_market = build_market(env, series)
            test_market = _market(test_env, bars, *window.test)
            runs: list[tuple[str, Any]] = []
            for seed in config.seeds:
                if progress is not None:
                    progress(f"window {window.index}: training seed {seed}")
                predictor = fit_policy(train, train_market, seed)
                act = lambda obs, p=predictor: one_action(p, obs)  # noqa: E731
                runs.append((f"policy_seed{seed}", run_policy_on(test_market, act, "policy")))
            runs += _baseline_runs(test_market, config.seeds)
            collector.add_window(window, runs, bars.timestamp)
        collector.finish()
        return _log(report, collector.curves, out)


def evaluate_registered(model_uri: str, config: EvaluationConfig, out: Path) -> Path:
    """Walk-forward test windows of a registered policy over the bars after its training
    data ended, with the baselines on each window."""
    import mlflow

    from axis_ml.models.rl import run_policy_on
    from axis_ml.registry.tracking import as_frame, configure, load_model, model_metadata

    configure(experiment="axis-evaluation")
    model = load_model(model_uri)
    meta = model_metadata(model_uri)
    env = EnvConfig.model_validate({**meta["env"], "episode_length": 0})
    continuous = env.actions == "continuous"
    full = build_market(env)
    bars = full.prepared.market.bars
    train_end = meta.get("train_end_ms")
    first = int(np.searchsorted(bars.timestamp, train_end)) if train_end is not None else 0
    first = max(first, full.first_decision + 1)
    span = len(bars) - first
    if span < config.folds * 64:
        raise ConfigError(
            f"{span} bars after the policy's training data: too few for {config.folds} windows"
        )
    edges = np.linspace(first, len(bars), config.folds + 1).astype(int)
    windows = [
        Window(k, (int(edges[k]), int(edges[k + 1])), [(0, int(first))])
        for k in range(config.folds)
    ]
    report: dict[str, Any] = {
        "mode": "registered_policy",
        "model": model_uri,
        "scheme": "walk_forward",
        "out_of_sample": train_end is not None,
        "seeds": list(config.seeds),
        "windows": [],
    }
    collector = _Collector(report)

    def act(obs: np.ndarray) -> Any:
        action = float(np.asarray(model.predict(as_frame(obs[None, :], "obs")))[0])
        return np.array([action], dtype=np.float32) if continuous else int(action)

    with mlflow.start_run(run_name="evaluate-registered"):
        mlflow.log_params(
            {"model": model_uri, "folds": config.folds, "out_of_sample": train_end is not None}
        )
        for window in windows:
            market = _market(env, bars, *window.test)
            runs: list[tuple[str, Any]] = [("policy", run_policy_on(market, act, "policy"))]
            runs += _baseline_runs(market, config.seeds)
            collector.add_window(window, runs, bars.timestamp)
        collector.finish()
        return _log(report, collector.curves, out)
