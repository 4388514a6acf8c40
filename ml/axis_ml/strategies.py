"""The ``rl_policy`` strategy: trades a perpetual with a registered reinforcement-learning
policy, through the same order path as every strategy (risk chain, order manager, venue).

At each bar's close it builds the observation the training environment builds (the same
features and :func:`axis_ml.envs.core.position_features`), asks the policy for an action
through :class:`axis_ml.serving.ModelClient` (Ray Serve when configured, in-process MLflow
otherwise) and moves to the target exposure the action stands for, with the environment's own
target rule (:func:`axis_ml.envs.core.resolve_target`). When the model cannot answer in time
the client falls back to HOLD: no order, logged and counted.

This module imports no torch, gymnasium or Ray at import time: the core registers the
strategy whenever this module imports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from axis.data import Bars
from axis.domain.enums import MarketType
from axis.strategies.base import BarView, Strategy, StrategyParams
from axis_ml.envs.core import position_features, resolve_target
from axis_ml.features import compute_features

if TYPE_CHECKING:
    from axis_ml.serving.client import ModelClient

#: Closed bars a worker computes a decision's features over.
FEATURE_HISTORY = 2_048


def closed_span(bars: Bars, index: int) -> tuple[int, int]:
    """The bars ``[first, end)`` a model-driven strategy computes its inputs over once bar
    ``index`` has closed. A backtest knows every bar from the start: all of them, once (the
    inputs are causal, so row ``i`` reads only bars up to ``i``). A worker's series is a grid
    whose later bars are still NaN: the closed bars only, the last :data:`FEATURE_HISTORY` of
    them (every feature forgets its start well within that)."""
    if len(bars) and np.isfinite(bars.close[-1]):
        return 0, len(bars)
    return max(0, index + 1 - FEATURE_HISTORY), index + 1


def span_bars(bars: Bars, first: int, end: int) -> Bars:
    """Bars ``[first, end)`` of ``bars`` (views)."""
    return bars.between(int(bars.timestamp[first]), int(bars.timestamp[end - 1]) + 1)


def model_uri(model: str, alias: str) -> str:
    """A registered name at ``alias`` as a ``models:/`` URI; URIs and paths unchanged."""
    if model.startswith(("models:/", "runs:/", "/", ".", "file:")) or "/" in model:
        return model
    return f"models:/{model}@{alias}"


class ModelStrategy(Strategy):
    """A strategy that asks models through one :class:`ModelClient` built from its
    ``serve_url`` and ``timeout_ms`` parameters."""

    def __init__(self, params: StrategyParams | None = None) -> None:
        super().__init__(params)
        self._client: ModelClient | None = None

    def client(self) -> ModelClient:
        if self._client is None:
            from axis_ml.serving.client import ModelClient

            params: Any = self.params
            self._client = ModelClient(
                serve_url=params.serve_url, timeout_s=params.timeout_ms / 1000.0
            )
        return self._client


class RlPolicy(ModelStrategy):
    name = "rl_policy"
    market_type = MarketType.LINEAR_PERPETUAL

    class Params(StrategyParams):
        model: str = Field(
            "axis-rl-policy", description="registered model name, models:/ URI or model folder"
        )
        alias: str = Field("champion", description="registry alias when model is a name")
        serve_url: str | None = Field(None, description="Ray Serve base URL; else in-process")
        timeout_ms: float = Field(250.0, gt=0, description="per-request timeout")
        deterministic: bool = True

    params: Params

    def __init__(self, params: StrategyParams | None = None) -> None:
        super().__init__(params)
        self._features = np.zeros((0, 0), dtype=np.float32)
        self._features_from = self._features_to = 0  # bars the features cover: [from, to)
        self._window = 1
        self._table: np.ndarray | None = None
        self._deadband = 0.0
        self._last_target = math.nan
        self._peak = 0.0
        self.decisions = 0
        self.holds = 0

    @property
    def model_uri(self) -> str:
        return model_uri(self.params.model, self.params.alias)

    def policy_metadata(self) -> dict[str, Any]:
        """The policy's environment settings (window, actions, dead band), stored with it."""
        return self.client().policy_metadata(self.model_uri)

    def on_start(self) -> None:
        meta = self.policy_metadata()
        env = meta["env"]
        self._window = int(env["window"])
        self._deadband = float(env.get("deadband", 0.0))
        table = meta.get("action_targets")
        self._table = None if table is None else np.array(table, dtype=np.float64)
        self._peak = self.equity

    def _refresh_features(self, index: int) -> None:
        """Features of the bars up to ``index``, which has just closed (:func:`closed_span`)."""
        first, end = closed_span(self.data, index)
        rates = np.zeros(end - first)
        for bar, rate in getattr(self.engine.venue, "funding", {}).items():
            if first <= bar < end:
                rates[bar - first] = rate
        self._features = compute_features(span_bars(self.data, first, end), rates)
        self._features_from, self._features_to = first, end

    def observation(self, index: int) -> np.ndarray | None:
        """The environment's observation after bar ``index`` closes, or None while the
        feature window is not yet full."""
        from axis_ml.features import WARMUP

        if index < WARMUP + self._window - 1:
            return None
        if index >= self._features_to:
            self._refresh_features(index)
        engine = self.engine
        position = engine.position()
        equity = self.equity
        self._peak = max(self._peak, equity)
        account = position_features(
            position.quantity,
            position.avg_entry,
            equity,
            self._peak,
            float(self.data.close[index]),
            self.engine.instrument.contract_size,
            position.leverage,
        )
        row = index - self._features_from
        window = self._features[row - self._window + 1 : row + 1].ravel()
        return np.concatenate([window, np.array(account, dtype=np.float32)]).astype(np.float32)

    def act(self, observation: np.ndarray) -> float:
        """The policy's raw action (a discrete index or a continuous exposure), NaN on HOLD."""
        return self.client().policy_action(
            self.model_uri, observation, deterministic=self.params.deterministic
        )

    def on_bar(self, bar: BarView) -> None:
        self._peak = max(self._peak, self.equity)
        obs = self.observation(bar.index)
        if obs is None:
            return
        action = self.act(obs)
        self.decisions += 1
        if action != action:
            self.holds += 1
            return
        if self._table is not None:
            wanted = float(self._table[int(action)])
        else:
            wanted = min(max(float(action), -1.0), 1.0)
        target = resolve_target(wanted, self._last_target, self._deadband)
        if target != target:
            return
        self._last_target = target
        self.target_exposure(target)

    def stats(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "holds": self.holds}


class MlForecast(ModelStrategy):
    """Trades a perpetual on a registered direction forecaster, sized by GARCH volatility.

    At each bar's close the forecaster's calibrated P(up) picks the side: long at or above
    ``threshold``, short at or below ``1 - threshold`` (when shorts are allowed), flat in
    between. The size targets an annualised equity volatility with the registered GARCH(1,1)
    model's forecast of the next bar's volatility
    (:func:`axis_ml.models.volatility.volatility_target_exposure`). Probabilities come through
    :class:`axis_ml.serving.ModelClient` (Ray Serve when configured, in-process otherwise), in
    one batched request over the history at the start and per new bar after that. When a
    model cannot answer the strategy holds: no order, logged and counted by the client.
    """

    name = "ml_forecast"
    market_type = MarketType.LINEAR_PERPETUAL

    class Params(StrategyParams):
        model: str = Field("axis-forecast", description="forecaster: registered name or URI")
        volatility_model: str = Field(
            "axis-volatility", description="GARCH model: registered name or URI"
        )
        alias: str = Field("champion", description="registry alias when a model is a name")
        serve_url: str | None = Field(None, description="Ray Serve base URL; else in-process")
        timeout_ms: float = Field(250.0, gt=0, description="per-request timeout")
        threshold: float = Field(0.55, gt=0.5, lt=1.0, description="P(up) that opens a long")
        allow_short: bool = True
        target_volatility: float = Field(
            0.5, gt=0, le=10, description="annualised equity volatility to size for"
        )
        max_exposure: float = Field(1.0, gt=0, le=1)
        rebalance_band: float = Field(
            0.1, ge=0, lt=1, description="ignore size changes smaller than this"
        )

    params: Params

    def __init__(self, params: StrategyParams | None = None) -> None:
        super().__init__(params)
        self._window = 1
        self._probability = np.zeros(0)
        self._volatility = np.zeros(0)
        self._known = 0  # bars [0, known) have their forecast and volatility
        self._target_per_bar = 0.0
        self._last_target = math.nan
        self.decisions = 0
        self.holds = 0

    def _uri(self, model: str) -> str:
        return model_uri(model, self.params.alias)

    def on_start(self) -> None:
        from axis_ml.models.volatility import per_bar_volatility

        meta = self.client().forecast_metadata(self._uri(self.params.model))
        self._window = int(meta["window"])
        self._target_per_bar = per_bar_volatility(
            self.params.target_volatility, self.data.timeframe
        )

    def _refresh(self, index: int) -> None:
        """Forecasts and volatility for every bar up to ``index`` not yet forecast (every
        bar at once in a backtest; in a worker the closed bars only, see
        :func:`closed_span`), the forecasts in one request."""
        from axis_ml.features import WARMUP
        from axis_ml.models.forecast import feature_windows

        bars = self.data
        if len(self._probability) != len(bars):
            self._probability = np.full(len(bars), np.nan)
            self._volatility = np.full(len(bars), np.nan)
        first, end = closed_span(bars, index)
        closed = span_bars(bars, first, end)
        start = max(self._known, WARMUP + self._window - 1)
        if start < end:
            features = compute_features(closed)
            rows = feature_windows(features, np.arange(start - first, end - first), self._window)
            uri = self._uri(self.params.model)
            self._probability[start:end] = self.client().forecast_batch(uri, rows)
        # The GARCH recursion over the whole span is microseconds per bar.
        self._volatility[first:end] = self.client().volatility(
            self._uri(self.params.volatility_model), closed.close
        )
        self._known = end

    def target_for(self, probability: float, volatility: float) -> float:
        """The target exposure for one forecast, or NaN when a model gave no answer."""
        from axis_ml.models.volatility import volatility_target_exposure

        if probability != probability or volatility != volatility:
            return math.nan
        p = self.params
        if probability >= p.threshold:
            side = 1.0
        elif probability <= 1.0 - p.threshold and p.allow_short:
            side = -1.0
        else:
            return 0.0
        size = volatility_target_exposure(
            volatility,
            self._target_per_bar,
            self.engine.leverage(self.engine.symbol),
            p.max_exposure,
        )
        return side * size

    def on_bar(self, bar: BarView) -> None:
        from axis_ml.features import WARMUP

        index = bar.index
        if index < WARMUP + self._window - 1:
            return
        if index >= self._known:
            self._refresh(index)
        target = self.target_for(float(self._probability[index]), float(self._volatility[index]))
        self.decisions += 1
        if target != target:
            self.holds += 1
            return
        last = self._last_target
        if target == last:
            return
        same_side = last == last and target != 0.0 and (target > 0) == (last > 0)
        if same_side and abs(target - last) < self.params.rebalance_band:
            return
        self._last_target = target
        self.target_exposure(target)

    def stats(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "holds": self.holds}
