"""Trading environments over the core's data and futures accounting.

``axis/FuturesTrading-v0`` is registered with gymnasium by :func:`register_envs`: one account
(:class:`~axis_ml.envs.trading.TradingEnv`) with ``gymnasium.make``, and the compiled batch
(:class:`~axis_ml.envs.trading.BatchTradingEnv`) with ``gymnasium.make_vec(...,
vectorization_mode="vector_entry_point")``. :class:`~axis_ml.envs.sb3.BatchVecEnv` hands the
batch to stable-baselines3. ``axis/FuturesTradingTorch-v0`` is the same account with the
torch batch (:class:`~axis_ml.envs.torch_batch.TorchBatchTradingEnv`, on a GPU when present)
as its vector entry point. ``axis/Portfolio-v0`` is the multi-asset spot portfolio
(:class:`~axis_ml.envs.portfolio.PortfolioEnv`, softmax target weights, costs on turnover).
"""

from __future__ import annotations

ENV_ID = "axis/FuturesTrading-v0"
TORCH_ENV_ID = "axis/FuturesTradingTorch-v0"
PORTFOLIO_ENV_ID = "axis/Portfolio-v0"


def register_envs() -> None:
    """Register the environments with gymnasium (idempotent)."""
    import gymnasium as gym

    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="axis_ml.envs.trading:TradingEnv",
            vector_entry_point="axis_ml.envs.trading:BatchTradingEnv",
        )
    if TORCH_ENV_ID not in gym.registry:
        gym.register(
            id=TORCH_ENV_ID,
            entry_point="axis_ml.envs.trading:TradingEnv",
            vector_entry_point="axis_ml.envs.torch_batch:TorchBatchTradingEnv",
        )
    if PORTFOLIO_ENV_ID not in gym.registry:
        gym.register(id=PORTFOLIO_ENV_ID, entry_point="axis_ml.envs.portfolio:PortfolioEnv")
