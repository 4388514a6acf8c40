"""The torch batch environment has the NumPy batch environment's semantics: stepped with the
same actions from the same seed, both give the same observations, rewards, episode ends,
resets and account state, across exchanges, margin modes, action spaces and rewards — with
liquidations, the position monitor and funding exercised. Runs on CPU here; the same code runs
on a GPU when one is present."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from axis.backtest.vectorized import kernel_inputs
from axis.risk.limits import RiskLimits
from axis_ml.envs import core
from axis_ml.envs.market import EnvConfig, build_market, monitor_array
from axis_ml.envs.torch_batch import TorchBatchTradingEnv
from axis_ml.envs.trading import BatchTradingEnv

N = 48
# 20x needs the liquidation-distance entry check off (at 20x a new position sits ~5% from
# liquidation); the monitor keeps its standard thresholds.
HIGH_LEVERAGE = RiskLimits(
    max_leverage=20,
    max_total_leverage=30,
    min_liquidation_distance=0.0,
    daily_loss_limit=1.0,
    max_drawdown=1.0,
)

CASES: dict[str, dict[str, Any]] = {
    "btc-binance-continuous-pnl": {"actions": "continuous", "leverage": 3.0},
    "btc-okx-discrete5-dsr": {
        "actions": "discrete5",
        "reward": "differential_sharpe",
        "exchange": "okx",
        "leverage": 5.0,
        "deadband": 0.05,
    },
    "xrp-binance-20x-isolated-drawdown": {
        "symbol": "XRP/USDT:USDT",
        "leverage": 20.0,
        "capital": 1_000.0,
        "risk_profile": "aggressive",
        "actions": "discrete3",
        "reward": "drawdown",
        "max_drawdown": 0.0,
    },
    "xrp-bybit-20x-cross": {
        "symbol": "XRP/USDT:USDT",
        "leverage": 20.0,
        "capital": 1_000.0,
        "risk_profile": "aggressive",
        "margin_mode": "cross",
        "exchange": "bybit",
        "actions": "continuous",
    },
    "xrp-gate-10x-cross-discrete5": {
        "symbol": "XRP/USDT:USDT",
        "leverage": 10.0,
        "risk_profile": "aggressive",
        "margin_mode": "cross",
        "exchange": "gate",
        "actions": "discrete5",
    },
}


def _actions(config: EnvConfig, rng: np.random.Generator, held: np.ndarray) -> np.ndarray:
    """Random actions that stick for a while, like a policy's (positions live long enough to
    meet funding, alerts and liquidations)."""
    change = rng.uniform(size=N) < 0.1
    if config.actions == "continuous":
        fresh = rng.uniform(-1, 1, N)
    else:
        fresh = rng.integers(0, 5 if config.actions == "discrete5" else 3, N).astype(float)
    held[:] = np.where(change, fresh, held)
    if config.actions == "continuous":
        return held.astype(np.float32).reshape(N, 1)
    return held.astype(np.int64)


@pytest.mark.parametrize("case", list(CASES))
def test_torch_batch_equals_numpy_batch(case: str) -> None:
    config = EnvConfig(window=4, episode_length=400, **CASES[case])
    market = build_market(config)
    if config.leverage >= 20:
        prepared = dataclasses.replace(market.prepared, limits=HIGH_LEVERAGE)
        market = dataclasses.replace(
            market,
            prepared=prepared,
            limits=kernel_inputs(prepared)[2],
            monitor=monitor_array(HIGH_LEVERAGE),
        )
    reference = BatchTradingEnv(N, market=market, seed=11)
    candidate = TorchBatchTradingEnv(N, market=market, seed=11, device="cpu")
    obs_a, _ = reference.reset()
    obs_b, _ = candidate.reset()
    np.testing.assert_array_equal(obs_a, obs_b.numpy())
    rng = np.random.default_rng(5)
    held = np.zeros(N)
    seen = {"alerts": 0.0, "emergencies": 0.0, "terminations": 0, "funding": False}
    for _ in range(500):
        actions = _actions(config, rng, held)
        before = reference.states.copy()
        obs_a, rew_a, term_a, trunc_a, info_a = reference.step(actions)
        obs_b, rew_b, term_b, trunc_b, info_b = candidate.step(torch.as_tensor(actions))
        np.testing.assert_array_equal(term_a, term_b.numpy())
        np.testing.assert_array_equal(trunc_a, trunc_b.numpy())
        np.testing.assert_allclose(rew_a, rew_b.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(obs_a, obs_b.numpy(), rtol=1e-5, atol=1e-6)
        after = reference.states
        np.testing.assert_allclose(after, candidate.states.numpy(), rtol=1e-9, atol=1e-9)
        if "final_equity" in info_a:
            np.testing.assert_allclose(
                info_a["final_equity"], info_b["final_equity"].numpy(), rtol=1e-9
            )
        # What happened this step (a reset zeroes an account's counters).
        for key, column in (("alerts", core.ST_ALERTS), ("emergencies", core.ST_EMERGENCIES)):
            seen[key] += float(np.maximum(after[:, column] - before[:, column], 0).sum())
        seen["terminations"] += int(term_a.sum())
        seen["funding"] |= bool(after[:, core.ST_FUNDING].any())
    assert reference.states[:, core.ST_TRADES].sum() > 0
    if config.leverage >= 10:  # what these cases are for: the monitor, funding, liquidations
        assert seen["alerts"] > 0
        assert seen["emergencies"] > 0
        assert seen["funding"]
    if case == "xrp-binance-20x-isolated-drawdown":  # no drawdown limit: only liquidations end
        assert seen["terminations"] > 0


def test_device_default_and_sb3_adapter() -> None:
    from axis_ml.envs.sb3 import BatchVecEnv
    from axis_ml.envs.torch_batch import default_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device().type == expected
    env = TorchBatchTradingEnv(8, EnvConfig(window=4, episode_length=32), seed=0)
    assert env.device.type == expected
    vec = BatchVecEnv(env)
    obs = vec.reset()
    assert isinstance(obs, np.ndarray)
    assert obs.shape == (8, env.config.observation_size)
    ended = False
    for _ in range(40):
        obs, rewards, dones, infos = vec.step(np.ones(8, dtype=np.int64))
        assert isinstance(rewards, np.ndarray)
        if dones.any():
            ended = True
            i = int(np.flatnonzero(dones)[0])
            assert infos[i]["terminal_observation"].shape == (env.config.observation_size,)
    assert ended


def test_registered_with_gymnasium_and_trains_a_ppo_step() -> None:
    import gymnasium as gym

    from axis_ml.envs import TORCH_ENV_ID, register_envs
    from axis_ml.models.rl import RLTrainConfig, build_model, make_vec_env

    register_envs()
    config = EnvConfig(window=4, episode_length=64)
    vec = gym.make_vec(
        TORCH_ENV_ID,
        num_envs=4,
        vectorization_mode="vector_entry_point",
        config=config,
        device="cpu",
    )
    obs, _ = vec.reset(seed=0)
    assert tuple(obs.shape) == (4, config.observation_size)
    train = RLTrainConfig(
        env=config,
        n_envs=8,
        n_steps=16,
        batch_size=64,
        batch_env="torch",
        net_arch=[16],
        device="cpu",
    )
    model = build_model(train, make_vec_env(build_market(config), train, 0), 0)
    model.learn(total_timesteps=128)
    assert model.num_timesteps >= 128
