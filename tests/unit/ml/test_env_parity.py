"""The environment's accounting is the core's: one action sequence replayed through the env
and through the backtest engine (SimulatedVenue, risk chain, order manager) gives the same
equity, bar by bar, and the same observations."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
import pytest

from axis.backtest.runner import run_event
from axis.risk.limits import RiskLimits
from axis_ml.envs.market import EnvConfig, TradingMarket, build_market, monitor_array
from axis_ml.envs.trading import TradingEnv
from axis_ml.strategies import RlPolicy


class Replay(RlPolicy):
    """The rl_policy strategy with its model replaced by a recorded action sequence; it also
    records the observations it built, to compare with the environment's."""

    actions: ClassVar[dict[int, float]] = {}
    config: ClassVar[EnvConfig]
    seen: ClassVar[dict[int, np.ndarray]] = {}

    def policy_metadata(self) -> dict[str, Any]:
        table = self.config.action_targets()
        return {
            "env": self.config.model_dump(mode="json"),
            "action_targets": None if table is None else table.tolist(),
        }

    def act(self, observation: np.ndarray) -> float:
        index = self.engine.index
        Replay.seen[index] = observation
        return Replay.actions.get(index, math.nan)


def _limits_array(limits: RiskLimits) -> np.ndarray:
    return np.array(
        [
            limits.max_leverage,
            limits.max_total_leverage,
            limits.min_liquidation_distance,
            limits.max_position_notional or 0.0,
            limits.max_total_notional or 0.0,
            float(limits.max_open_orders),
            limits.daily_loss_limit,
            limits.max_drawdown,
        ]
    )


def _replay_both(
    market: TradingMarket, actions: np.ndarray, start: int, limits: RiskLimits | None = None
) -> tuple[np.ndarray, np.ndarray, TradingEnv, Any]:
    env = TradingEnv(market=market)
    env.reset(options={"start": start})
    env_equity, env_obs = [], {}
    for k, action in enumerate(actions):
        env_obs[start + k] = env._obs.copy()
        _, _, terminated, truncated, info = env.step(action)
        env_equity.append(info["equity"])
        if terminated or truncated:
            break
    table = market.config.action_targets()
    Replay.config = market.config
    Replay.seen = {}
    Replay.actions = {
        start + k: float(a) if table is None else int(a) for k, a in enumerate(actions)
    }
    prepared = dataclasses.replace(
        market.prepared,
        strategy_cls=Replay,
        strategy_params=Replay.Params(),
        limits=limits or market.prepared.limits,
    )
    if limits is not None:  # the env reads the same limits and monitor thresholds
        assert np.array_equal(market.limits, _limits_array(limits))
        assert np.array_equal(market.monitor, monitor_array(limits))
    outcome = run_event(prepared)
    engine_equity = outcome.equity[start + 1 : start + 1 + len(env_equity)]
    for index, obs in env_obs.items():
        np.testing.assert_allclose(Replay.seen[index], obs, rtol=1e-6, atol=1e-6)
    return np.array(env_equity), engine_equity, env, outcome


@pytest.mark.parametrize("actions_kind", ["discrete3", "discrete5", "continuous"])
def test_env_equity_equals_engine_equity(actions_kind: str) -> None:
    config = EnvConfig(
        symbol="BTC/USDT:USDT", leverage=3.0, actions=actions_kind, episode_length=1500
    )
    market = build_market(config)
    rng = np.random.default_rng(7)
    # Decisions that stick for a while, like a policy's, so positions live through funding.
    if actions_kind == "continuous":
        actions = np.repeat(np.round(rng.uniform(-1, 1, 100), 2), 15)
    else:
        n = 3 if actions_kind == "discrete3" else 5
        actions = np.repeat(rng.integers(0, n, 100), 15)
    start = market.first_decision
    env_eq, engine_eq, env, outcome = _replay_both(market, actions, start)
    assert len(env_eq) == 1500
    np.testing.assert_allclose(env_eq, engine_eq, rtol=1e-10)
    summary = env.summary()
    assert summary["fees"] > 0
    assert summary["funding"] != 0.0
    last_ts = market.prepared.market.bars.timestamp[start + 1500]
    engine_fees = sum(fill[4] for fill in outcome.fills if fill[0] <= last_ts)
    assert summary["fees"] == pytest.approx(engine_fees, rel=1e-9)


def _events(outcome: Any, kind: str, until: int) -> int:
    return sum(1 for e in outcome.events if e["type"] == kind and e["timestamp"] <= until)


@pytest.mark.parametrize("margin_mode", ["isolated", "cross"])
def test_env_liquidation_monitor_and_real_funding_match_the_venue(margin_mode: str) -> None:
    """XRP perpetual with its recorded funding series at 20x, isolated and cross margin, the
    position monitor at its standard thresholds (alert at 10% from liquidation, half the
    position cut at 5%): the env alerts, cuts and liquidates where the engine and the
    SimulatedVenue do, and equity agrees bar by bar."""
    config = EnvConfig(
        margin_mode=margin_mode,
        symbol="XRP/USDT:USDT",
        timeframe="5m",
        leverage=20.0,
        capital=1_000.0,  # small enough to stay in the first leverage bracket
        risk_profile="aggressive",
        episode_length=0,
        max_drawdown=0.0,
    )
    limits = RiskLimits(
        max_leverage=20,
        max_total_leverage=30,
        min_liquidation_distance=0.0,
        daily_loss_limit=1.0,
        max_drawdown=1.0,
    )
    market = dataclasses.replace(
        build_market(config), limits=_limits_array(limits), monitor=monitor_array(limits)
    )
    rng = np.random.default_rng(3)
    # Long or short for 60 bars, flat for one (at 20x a direct reversal does not pass the
    # venue's margin check once the slipped fill price is marked against the old position).
    sides = rng.integers(1, 3, 40)
    actions = np.concatenate([np.r_[np.full(59, side), 0] for side in sides])
    start = market.first_decision
    env_eq, engine_eq, env, outcome = _replay_both(market, actions, start, limits)
    summary = env.summary()
    n = len(env_eq)
    np.testing.assert_allclose(env_eq, engine_eq[:n], rtol=1e-9)
    last_ts = int(market.prepared.market.bars.timestamp[start + n])
    assert summary["liquidation_alerts"] == _events(outcome, "liquidation_alert", last_ts)
    assert summary["emergency_reductions"] == _events(outcome, "emergency_reduce", last_ts)
    assert summary["emergency_reductions"] >= 1
    if margin_mode == "cross":  # the cross account lives through funding settlements
        assert summary["funding"] != 0.0
    assert summary["liquidations"] == _events(outcome, "liquidation", last_ts)


def test_registered_with_gymnasium_single_and_vector() -> None:
    import gymnasium as gym

    from axis_ml.envs import ENV_ID, register_envs

    register_envs()
    config = EnvConfig(window=4, episode_length=64)
    env = gym.make(ENV_ID, config=config)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (config.observation_size,)
    vec = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="vector_entry_point", config=config)
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (8, config.observation_size)
    ended = False
    for _ in range(70):  # every account reaches its episode end once
        obs, _rewards, terminated, truncated, infos = vec.step(vec.action_space.sample())
        if (terminated | truncated).any():
            ended = True
            assert infos["_final_obs"].any()
    assert ended
