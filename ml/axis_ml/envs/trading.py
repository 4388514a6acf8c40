"""Gymnasium environments over the core's futures accounting: one account, or N at once.

:class:`TradingEnv` is a ``gymnasium.Env``; :class:`BatchTradingEnv` a
``gymnasium.vector.VectorEnv`` whose step advances every account in one compiled call (same
step function, so the two cannot disagree). Ended accounts reset in the same step; their last
observation is in ``infos["final_obs"]`` (gymnasium's same-step autoreset).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from axis_ml.envs import core
from axis_ml.envs.market import EnvConfig, EpisodeDraws, TradingMarket, build_market


def _spaces(config: EnvConfig) -> tuple[spaces.Box, spaces.Space[Any]]:
    obs = spaces.Box(-np.inf, np.inf, shape=(config.observation_size,), dtype=np.float32)
    table = config.action_targets()
    action: spaces.Space[Any]
    if table is None:
        action = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    else:
        action = spaces.Discrete(len(table))
    return obs, action


class _Accounts:
    """The arrays of N accounts and the compiled step over them. The output arrays (``obs``,
    ``rewards``, ``terminated``, ``truncated``, ``done``) are allocated once and overwritten
    by every step."""

    def __init__(
        self, market: TradingMarket, n: int, rng: np.random.Generator, threads: int = 1
    ) -> None:
        self.market = market
        self.n = n
        self.rng = rng
        self.draws = EpisodeDraws(market, rng)
        self.threads = core.check_threads(threads)
        if threads > 1:
            core.choose_threading_layer()
        size = market.config.observation_size
        self.state = np.zeros((n, core.N_STATE))
        self.obs = np.zeros((n, size), dtype=np.float32)
        self.rewards = np.zeros(n)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.done = np.zeros(n, dtype=np.bool_)
        table = market.config.action_targets()
        self.table = table
        self.targets = np.zeros(n)
        m = market
        self._step_args = (
            self.state,
            self.targets,
            m.prices,
            m.features,
            m.spec,
            m.brackets,
            m.limits,
            m.monitor,
            m.config_array,
            self.obs,
            self.rewards,
            self.terminated,
            self.truncated,
            self.done,
        )

    def reset_one(self, i: int, market: int | None = None, start: int | None = None) -> None:
        m = self.market
        if market is None:
            market = int(self.rng.integers(m.n_markets))
        if start is None:
            start = int(self.rng.integers(m.first_decision, m.latest_start(market) + 1))
        if not m.first_decision <= start < int(m.lengths[market]) - 1:
            raise ValueError(f"episode start {start} is outside the playable bars of the market")
        begin, end = m.episode_bounds(market, start)
        core.reset_account(self.state, i, market, begin, end, m.config_array)
        core.write_observation(
            self.state, i, m.prices, m.features, m.spec, m.config.window, self.obs
        )

    def reset_many(self, accounts: np.ndarray) -> None:
        """Reset the accounts flagged in the mask ``accounts`` onto random episodes
        (:class:`~axis_ml.envs.market.EpisodeDraws`), in one compiled call."""
        m, draws = self.market, self.draws
        draws.reserve(self.n)
        draws.cursor = core.reset_accounts(
            self.state,
            accounts,
            draws.uniforms,
            draws.cursor,
            draws.lengths,
            draws.first,
            draws.episode_length,
            m.prices,
            m.features,
            m.spec,
            m.config_array,
            self.obs,
        )

    def actions_to_targets(self, actions: np.ndarray) -> np.ndarray:
        if self.table is not None:
            np.take(
                self.table, np.asarray(actions, dtype=np.int64).reshape(self.n), out=self.targets
            )
        else:
            np.clip(
                np.asarray(actions, dtype=np.float64).reshape(self.n), -1.0, 1.0, out=self.targets
            )
        return self.targets

    def step(self, actions: np.ndarray) -> int:
        """Advance every account one bar; returns how many ended (flagged in ``done``)."""
        self.actions_to_targets(actions)
        if self.threads == 1:
            return int(core.step_accounts(*self._step_args))
        core.use_threads(self.threads)
        return int(core.step_accounts_parallel(*self._step_args))

    def info(self, i: int) -> dict[str, float]:
        s = self.state[i]
        return {
            "equity": float(s[core.ST_EQUITY]),
            "position": float(s[core.ST_POS]),
            "bar": int(s[core.ST_T]),
            "fees": float(s[core.ST_FEES]),
            "funding": float(s[core.ST_FUNDING]),
            "liquidations": int(s[core.ST_LIQUIDATIONS]),
            "vetoes": int(s[core.ST_VETOES]),
            "liquidation_alerts": int(s[core.ST_ALERTS]),
            "emergency_reductions": int(s[core.ST_EMERGENCIES]),
        }


class TradingEnv(gym.Env[np.ndarray, Any]):
    """One leveraged perpetual account trading one market bar by bar.

    Observation: ``window`` bars of normalised features (see :mod:`axis_ml.features`) and the
    account's exposure, unrealised PnL and drawdown. Actions: ``discrete3`` (exit, long,
    short), ``discrete5`` (hold, long, short, exit, halve) or ``continuous`` target exposure
    in [-1, 1] x leverage. The action taken after bar ``t`` closes is filled at bar ``t+1``'s
    open. Rewards: net PnL after all costs, the differential Sharpe ratio, or PnL with a
    drawdown penalty. Ends on liquidation or the drawdown limit (terminated) or at the
    episode length / end of data (truncated).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self, config: EnvConfig | None = None, *, market: TradingMarket | None = None
    ) -> None:
        self.market = market if market is not None else build_market(config or EnvConfig())
        self.config = self.market.config
        self.observation_space, self.action_space = _spaces(self.config)
        accounts = self._accounts = _Accounts(self.market, 1, np.random.default_rng())
        self._action = np.zeros(1)
        targets = self.config.action_targets()
        self._table = None if targets is None else [float(x) for x in targets]
        m = self.market
        self._state, self._obs = accounts.state, accounts.obs[0]
        self._reward, self._terminated, self._truncated = (
            accounts.rewards,
            accounts.terminated,
            accounts.truncated,
        )
        self._step = core.step_accounts
        self._args = (
            accounts.state,
            self._action,
            m.prices,
            m.features,
            m.spec,
            m.brackets,
            m.limits,
            m.monitor,
            m.config_array,
            accounts.obs,
            accounts.rewards,
            accounts.terminated,
            accounts.truncated,
            accounts.done,
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._accounts.rng = self.np_random
        options = options or {}
        self._accounts.reset_one(0, options.get("market"), options.get("start"))
        return self._accounts.obs[0].copy(), self._accounts.info(0)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        # The hot path: one compiled call on pre-bound arrays, nothing else allocated but the
        # returned observation and info.
        table = self._table
        if table is not None:
            self._action[0] = table[action]
        else:
            value = float(np.asarray(action).reshape(-1)[0])
            self._action[0] = -1.0 if value < -1.0 else (1.0 if value > 1.0 else value)
        self._step(*self._args)
        return (
            self._obs.copy(),
            float(self._reward[0]),
            bool(self._terminated[0]),
            bool(self._truncated[0]),
            {"equity": float(self._state[0, core.ST_EQUITY])},
        )

    @property
    def state(self) -> np.ndarray:
        """The account's state row (see :mod:`axis_ml.envs.core` for the columns)."""
        return self._accounts.state[0]

    def summary(self) -> dict[str, float]:
        return self._accounts.info(0)


class BatchTradingEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """``num_envs`` accounts stepped together in one compiled call, each on a random market
    and start. An account that ends is reset in the same step.

    ``threads``: 1 (the default) steps on the calling thread; more splits the accounts over
    numba's worker threads, which pays only while that many cores are idle: a parallel step
    waits for its slowest thread, so one busy core stalls every step (see
    :func:`axis_ml.envs.core.choose_threading_layer`)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1024,
        config: EnvConfig | None = None,
        *,
        market: TradingMarket | None = None,
        seed: int | None = None,
        threads: int = 1,
    ) -> None:
        self.market = market if market is not None else build_market(config or EnvConfig())
        self.config = self.market.config
        self.num_envs = num_envs
        single_obs, single_action = _spaces(self.config)
        self.single_observation_space = single_obs
        self.single_action_space = single_action
        self.observation_space = gym.vector.utils.batch_space(single_obs, num_envs)
        self.action_space = gym.vector.utils.batch_space(single_action, num_envs)
        self._accounts = _Accounts(self.market, num_envs, np.random.default_rng(seed), threads)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        a = self._accounts
        if seed is not None:
            rng = np.random.default_rng(seed if isinstance(seed, int) else seed[0])
            a.draws = EpisodeDraws(self.market, rng)
        a.reset_many(np.ones(self.num_envs, dtype=np.bool_))
        return self._accounts.obs.copy(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        a = self._accounts
        infos: dict[str, Any] = {}
        if a.step(actions):
            done = a.done.copy()
            infos["final_obs"] = np.where(done[:, None], a.obs, 0.0).astype(np.float32)
            infos["_final_obs"] = done
            infos["final_equity"] = np.where(done, a.state[:, core.ST_EQUITY], np.nan)
            infos["_final_equity"] = done.copy()
            a.reset_many(done)
        return a.obs.copy(), a.rewards.copy(), a.terminated.copy(), a.truncated.copy(), infos

    def step_arrays(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hot path: advance every account (resetting those that ended) and return the
        observation, reward and done buffers themselves, not copies: they are overwritten by
        the next call. ``done`` marks the accounts that ended (and were reset) in this step."""
        a = self._accounts
        if a.step(actions):
            a.reset_many(a.done)
        return a.obs, a.rewards, a.done

    @property
    def states(self) -> np.ndarray:
        return self._accounts.state
