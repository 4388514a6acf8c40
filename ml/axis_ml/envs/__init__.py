"""Trading environments over the core's data and futures accounting.

``axis/FuturesTrading-v0`` (one account, :class:`~axis_ml.envs.trading.TradingEnv`) and its
vectorised form (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``,
:class:`~axis_ml.envs.trading.BatchTradingEnv`), ``axis/FuturesTradingTorch-v0`` (the batch
step in torch, on a GPU when present) and ``axis/Portfolio-v0`` (target weights over several
markets) are registered with gymnasium by :func:`register_envs`.
"""

from __future__ import annotations

ENV_ID = "axis/FuturesTrading-v0"
TORCH_ENV_ID = "axis/FuturesTradingTorch-v0"
PORTFOLIO_ENV_ID = "axis/Portfolio-v0"


def register_envs() -> None:
    """Register the environments with gymnasium (idempotent)."""
    import gymnasium as gym

    if ENV_ID in gym.registry:
        return
    gym.register(
        id=ENV_ID,
        entry_point="axis_ml.envs.trading:TradingEnv",
        vector_entry_point="axis_ml.envs.trading:BatchTradingEnv",
    )
    gym.register(
        id=TORCH_ENV_ID,
        entry_point="axis_ml.envs.trading:TradingEnv",
        vector_entry_point="axis_ml.envs.torch_batch:TorchBatchTradingEnv",
    )
    gym.register(id=PORTFOLIO_ENV_ID, entry_point="axis_ml.envs.portfolio:PortfolioEnv")
