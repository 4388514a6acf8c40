"""The batch environments as a stable-baselines3 ``VecEnv``: SB3's PPO/A2C/SAC train on N
accounts stepped in one compiled (or torch) call instead of N Python environments. Torch
tensors (on any device) are handed to SB3 as NumPy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from axis_ml.envs.trading import BatchTradingEnv


def to_numpy(values: Any) -> np.ndarray:
    """A NumPy array of a NumPy array or a torch tensor (on any device)."""
    if hasattr(values, "detach"):
        return np.asarray(values.detach().cpu().numpy())
    return np.asarray(values)


class BatchVecEnv(VecEnv):
    """Adapter of :class:`BatchTradingEnv` (or the torch one) to SB3's VecEnv protocol:
    ended accounts reset in the same step, with ``terminal_observation`` and
    ``TimeLimit.truncated`` in their info, as SB3 expects."""

    def __init__(self, batch: BatchTradingEnv | Any) -> None:
        self.batch = batch
        super().__init__(batch.num_envs, batch.single_observation_space, batch.single_action_space)
        self._actions: np.ndarray = np.zeros(batch.num_envs)
        self._empty: list[dict[str, Any]] = [{} for _ in range(batch.num_envs)]

    def reset(self) -> np.ndarray:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        obs, _ = self.batch.reset(seed=seed)
        self._reset_seeds()
        return to_numpy(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, terminated, truncated, infos = self.batch.step(self._actions)
        obs, rewards = to_numpy(obs), to_numpy(rewards).astype(np.float32)
        terminated, truncated = to_numpy(terminated), to_numpy(truncated)
        dones = terminated | truncated
        if not dones.any():
            return obs, rewards, dones, [{} for _ in range(self.num_envs)]
        final = to_numpy(infos["final_obs"])
        equity = to_numpy(infos["final_equity"])
        out: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            out[i] = {
                "terminal_observation": final[i],
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                "episode_equity": float(equity[i]),
            }
        return obs, rewards, dones, out

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.batch, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.batch, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        result = getattr(self.batch, method_name)(*method_args, **kwargs)
        return [result] * len(list(self._get_indices(indices)))

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs
