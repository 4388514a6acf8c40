"""Reinforcement-learning policies: PPO, A2C and SAC (stable-baselines3) and RecurrentPPO
(sb3-contrib), trained on the batch trading environment, checkpointed, evaluated out of
sample against baselines and logged to MLflow.

``axis ml train-rl --config FILE`` reads an :class:`RLTrainConfig` from YAML.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from axis.backtest.metrics import compute_metrics
from axis.config import ConfigError
from axis.data import Bars, block_bootstrap
from axis_ml.envs import core
from axis_ml.envs.market import EnvConfig, TradingMarket, build_market
from axis_ml.features import WARMUP

Algo = Literal["ppo", "a2c", "sac", "recurrent_ppo"]


class RLTrainConfig(BaseModel):
    """A training run: algorithm, environment, seeds, budget and where the model goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algo: Algo = "ppo"
    env: EnvConfig = Field(default_factory=EnvConfig)
    n_envs: int = Field(16, ge=1, le=1_048_576)
    batch_env: Literal["numpy", "torch"] = Field(
        "numpy", description="compiled NumPy batch, or the torch batch (GPU when present)"
    )
    total_timesteps: int = Field(20_000, ge=1)
    seeds: list[int] = Field(default_factory=lambda: [0])
    learning_rate: float = Field(3e-4, gt=0)
    n_steps: int = Field(64, ge=2, description="rollout length per env (PPO/A2C)")
    batch_size: int = Field(256, ge=8)
    gamma: float = Field(0.99, gt=0, le=1)
    net_arch: list[int] = Field(default_factory=lambda: [64, 64])
    test_fraction: float = Field(0.25, gt=0, lt=0.9, description="held-out tail of the data")
    bootstrap_paths: int = Field(0, ge=0, description="extra block-bootstrapped training paths")
    checkpoint_every: int = Field(0, ge=0, description="timesteps between checkpoints; 0 = end")
    device: str = "auto"
    registered_name: str | None = "axis-rl-policy"
    out_dir: Path = Path("models/rl")

    @model_validator(mode="after")
    def _check(self) -> RLTrainConfig:
        if self.algo == "sac" and self.env.actions != "continuous":
            raise ValueError("sac needs env.actions: continuous")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        return self


class PolicyPredictor:
    """A trained SB3 policy and the environment settings it expects."""

    def __init__(self, model: Any, algo: str, env: EnvConfig) -> None:
        self.model = model
        self.algo = algo
        self.env = env

    @staticmethod
    def load(path: str | Path) -> PolicyPredictor:
        path = Path(path)
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("axis_policy.json"))
        algo = meta["algo"]
        model = _algo_class(algo).load(str(path), device="cpu")
        return PolicyPredictor(model, algo, EnvConfig.model_validate(meta["env"]))

    def save(self, path: Path) -> Path:
        self.model.save(str(path))
        with zipfile.ZipFile(path, "a") as archive:
            meta = {"algo": self.algo, "env": self.env.model_dump(mode="json")}
            archive.writestr("axis_policy.json", json.dumps(meta))
        return path

    def act(self, observations: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations: discrete indices or continuous exposures."""
        obs = np.asarray(observations, dtype=np.float32).reshape(-1, self.env.observation_size)
        if self.algo == "recurrent_ppo":
            # Stateless serving: every request starts a fresh LSTM state (episode start).
            starts = np.ones(len(obs), dtype=bool)
            actions, _ = self.model.predict(obs, episode_start=starts, deterministic=deterministic)
        else:
            actions, _ = self.model.predict(obs, deterministic=deterministic)
        return np.asarray(actions, dtype=np.float64).reshape(len(obs), -1)[:, 0]

    def predict_frame(self, data: Any) -> np.ndarray:
        values = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        return self.act(values)

    def metadata(self) -> dict[str, Any]:
        table = self.env.action_targets()
        return {
            "algo": self.algo,
            "env": self.env.model_dump(mode="json"),
            "action_targets": None if table is None else [float(x) for x in table],
        }


def _algo_class(algo: str) -> Any:
    if algo == "recurrent_ppo":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO
    import stable_baselines3 as sb3

    return {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC}[algo]


def split_markets(config: RLTrainConfig) -> tuple[TradingMarket, TradingMarket]:
    """(train, test) markets: the data's head for training (plus block-bootstrapped paths
    of it when asked) and its tail, never seen in training, for evaluation."""
    full = build_market(config.env)
    bars = full.prepared.market.bars
    n = len(bars)
    cut = int(n * (1.0 - config.test_fraction))
    if cut < WARMUP + config.env.window + 64 or n - cut < 64:
        raise ConfigError(f"{n} bars are too few to split into training and test data")
    head = bars.between(None, int(bars.timestamp[cut]))
    # The test market starts early enough to warm its features up on bars before the cut.
    warm = WARMUP + config.env.window
    tail = bars.between(int(bars.timestamp[cut - warm]), None)
    series: list[Bars] = [head]
    for k in range(config.bootstrap_paths):
        series.append(block_bootstrap(head, len(head), seed=1000 + k))
    return build_market(config.env, series), build_market(
        config.env.model_copy(update={"episode_length": 0}), [tail]
    )


def make_vec_env(market: TradingMarket, config: RLTrainConfig, seed: int) -> Any:
    from axis_ml.envs.sb3 import BatchVecEnv

    if config.batch_env == "torch":
        from axis_ml.envs.torch_batch import TorchBatchTradingEnv

        vec = BatchVecEnv(TorchBatchTradingEnv(config.n_envs, market=market, seed=seed))
    else:
        from axis_ml.envs.trading import BatchTradingEnv

        vec = BatchVecEnv(BatchTradingEnv(config.n_envs, market=market, seed=seed))
    vec.seed(seed)
    return vec


def build_model(config: RLTrainConfig, vec_env: Any, seed: int) -> Any:
    cls = _algo_class(config.algo)
    kwargs: dict[str, Any] = {
        "learning_rate": config.learning_rate,
        "gamma": config.gamma,
        "seed": seed,
        "device": config.device,
        "verbose": 0,
        "policy_kwargs": {"net_arch": list(config.net_arch)},
    }
    if config.algo in ("ppo", "recurrent_ppo"):
        kwargs.update(n_steps=config.n_steps, batch_size=config.batch_size)
    elif config.algo == "a2c":
        kwargs.update(n_steps=config.n_steps)
    else:  # sac
        kwargs.update(batch_size=config.batch_size, learning_starts=min(1000, config.batch_size))
    policy = "MlpLstmPolicy" if config.algo == "recurrent_ppo" else "MlpPolicy"
    return cls(policy, vec_env, **kwargs)


def fit_policy(
    config: RLTrainConfig, market: TradingMarket, seed: int, callbacks: list[Any] | None = None
) -> PolicyPredictor:
    """Train one policy of ``config`` on ``market`` with ``seed``."""
    model = build_model(config, make_vec_env(market, config, seed), seed)
    model.learn(total_timesteps=config.total_timesteps, callback=callbacks or None)
    return PolicyPredictor(model, config.algo, config.env)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """An out-of-sample run of one policy (or baseline) over the whole test market."""

    name: str
    equity: np.ndarray
    timestamps: np.ndarray
    metrics: dict[str, float]


def run_policy_on(
    market: TradingMarket, act: Any, name: str, start: int | None = None
) -> Evaluation:
    """Play the single environment from ``start`` (default: the first decision bar) to the
    end of the market with ``act(obs) -> action``; metrics from the core's metrics."""
    from axis_ml.envs.trading import TradingEnv

    env = TradingEnv(market=market)
    first = market.first_decision if start is None else start
    obs, _ = env.reset(options={"market": 0, "start": first})
    equity = [market.config.capital]
    while True:
        obs, _, terminated, truncated, info = env.step(act(obs))
        equity.append(info["equity"])
        if terminated or truncated:
            break
    curve = np.array(equity)
    stamps = market.prepared.market.bars.timestamp
    ts = stamps[first : first + len(curve)] if len(stamps) >= first + len(curve) else None
    if ts is None:
        ts = np.arange(len(curve), dtype=np.int64) * 300_000
    summary = env.summary()
    metrics = compute_metrics(
        ts,
        curve,
        [],
        initial_capital=market.config.capital,
        fees_paid=summary["fees"],
        funding_paid=summary["funding"],
        liquidations=int(summary["liquidations"]),
    )
    numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    return Evaluation(name, curve, ts, numeric)


def baselines(market: TradingMarket, seed: int = 0) -> list[Evaluation]:
    """Buy-and-hold (long from the first bar), a random policy, and MA(20/50) crossover,
    each through the same environment and costs."""
    table = market.config.action_targets()
    rng = np.random.default_rng(seed)
    close = market.prices[0, :, core.P_CLOSE]
    fast = np.convolve(close, np.ones(20) / 20, mode="full")[: len(close)]
    slow = np.convolve(close, np.ones(50) / 50, mode="full")[: len(close)]

    def action_for(target: float) -> Any:
        if table is None:
            return np.array([target], dtype=np.float32)
        return int(np.nanargmin(np.abs(np.nan_to_num(table, nan=9.0) - target)))

    state = {"t": market.first_decision}

    def hold_long(obs: np.ndarray) -> Any:
        return action_for(1.0)

    def random_policy(obs: np.ndarray) -> Any:
        if table is None:
            return rng.uniform(-1, 1, 1).astype(np.float32)
        return int(rng.integers(len(table)))

    def ma_crossover(obs: np.ndarray) -> Any:
        t = state["t"]
        state["t"] = t + 1
        return action_for(1.0 if fast[t] > slow[t] else 0.0)

    return [
        run_policy_on(market, hold_long, "buy_and_hold"),
        run_policy_on(market, random_policy, "random"),
        run_policy_on(market, ma_crossover, "ma_crossover"),
    ]


@dataclass(slots=True)
class RLTrainResult:
    best_seed: int
    run_ids: dict[int, str]
    evaluations: dict[str, dict[str, float]]
    model_path: Path
    registered_version: str | None


def train_rl(config: RLTrainConfig, recorder: Any | None = None) -> RLTrainResult:
    """Train one policy per seed, evaluate each on the held-out tail, log every run to
    MLflow (params, metrics, checkpoints, equity plot), and register the best seed's policy
    with its signature. Returns where everything went."""
    import mlflow
    from stable_baselines3.common.callbacks import CheckpointCallback

    from axis_ml.evaluation.reports import log_equity_plot
    from axis_ml.registry import TrainingJob, configure, log_axis_model, recorded
    from axis_ml.registry.tracking import as_frame

    configure(experiment="axis-rl")
    train_market, test_market = split_markets(config)
    job = TrainingJob("rl", config.registered_name or "", config.model_dump(mode="json"))
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    run_ids: dict[int, str] = {}
    scores: dict[int, float] = {}
    paths: dict[int, Path] = {}
    evaluations: dict[str, dict[str, float]] = {}
    with recorded(job, recorder):
        base_runs = baselines(test_market)
        for base in base_runs:
            evaluations[base.name] = base.metrics
        for seed in config.seeds:
            with mlflow.start_run(run_name=f"{config.algo}-seed{seed}") as run:
                run_ids[seed] = run.info.run_id
                mlflow.log_params(_flat_params(config, seed))
                callbacks = []
                checkpoints = out / f"seed{seed}" / "checkpoints"
                if config.checkpoint_every > 0:
                    every = max(config.checkpoint_every // config.n_envs, 1)
                    callbacks.append(CheckpointCallback(every, str(checkpoints), config.algo))
                predictor = fit_policy(config, train_market, seed, callbacks)
                path = predictor.save(out / f"seed{seed}" / "policy.zip")
                paths[seed] = path
                result = run_policy_on(
                    test_market, lambda obs, p=predictor: one_action(p, obs), "policy"
                )
                metrics = {f"test_{k}": v for k, v in result.metrics.items() if math.isfinite(v)}
                for name, values in evaluations.items():
                    for key in ("sharpe", "total_return", "max_drawdown"):
                        if key in values and math.isfinite(values[key]):
                            metrics[f"baseline_{name}_{key}"] = values[key]
                mlflow.log_metrics(metrics)
                if checkpoints.exists():
                    mlflow.log_artifacts(str(checkpoints), "checkpoints")
                curves = {"policy": result.equity}
                curves.update({b.name: b.equity for b in base_runs})
                log_equity_plot(curves, "equity_test.png", title="out-of-sample equity")
                scores[seed] = result.metrics.get("sharpe", -math.inf)
                evaluations[f"seed{seed}"] = result.metrics
        best = max(scores, key=lambda s: scores[s] if math.isfinite(scores[s]) else -1e9)
        predictor = PolicyPredictor.load(paths[best])
        example = as_frame(np.zeros((2, config.env.observation_size)), "obs")
        version = None
        # Where the training data ends: evaluations of the registered policy start here.
        warm = WARMUP + config.env.window
        train_end_ms = int(test_market.prepared.market.bars.timestamp[warm])
        with mlflow.start_run(run_id=run_ids[best]):
            mlflow.set_tag("axis.best_seed", "true")
            version = log_axis_model(
                "rl_policy",
                paths[best],
                example,
                predictor.predict_frame(example),
                registered_name=config.registered_name,
                metadata={**predictor.metadata(), "train_end_ms": train_end_ms},
            )
        job.mlflow_run_id = run_ids[best]
        job.model_version = version
        job.metrics = {k: v for k, v in evaluations[f"seed{best}"].items() if math.isfinite(v)}
        return RLTrainResult(best, run_ids, evaluations, paths[best], version)


def one_action(predictor: PolicyPredictor, obs: np.ndarray) -> Any:
    action = predictor.act(obs[None, :])[0]
    if predictor.env.actions == "continuous":
        return np.array([action], dtype=np.float32)
    return int(action)


def _flat_params(config: RLTrainConfig, seed: int) -> dict[str, Any]:
    params = config.model_dump(mode="json", exclude={"env", "seeds"})
    params.update({f"env.{k}": v for k, v in config.env.model_dump(mode="json").items()})
    params["seed"] = seed
    return {k: str(v)[:500] for k, v in params.items()}


def load_config(path: Path) -> RLTrainConfig:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return RLTrainConfig.model_validate(data)
