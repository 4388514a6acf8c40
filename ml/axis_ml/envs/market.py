"""What an environment trades on: its settings, the instrument and the market arrays.

Markets are resolved exactly as a backtest resolves them (:func:`axis.backtest.runner.prepare`
on a :class:`~axis.config.BacktestConfig`): the same instrument, fees, leverage brackets,
risk profile, mark prices and funding series. The account arrays handed to the compiled step
are the vectorised backtest kernel's own (:func:`axis.backtest.vectorized.kernel_inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from axis.backtest.runner import Prepared, prepare
from axis.backtest.vectorized import kernel_inputs
from axis.config import BacktestConfig, ConfigError
from axis.data import Bars
from axis.domain.enums import Exchange, MarginMode
from axis.domain.instrument import Instrument
from axis.engine.portfolio import DAY_MS
from axis.risk.limits import RiskLimits, RiskProfile
from axis_ml.envs import core
from axis_ml.features import N_FEATURES, WARMUP, market_arrays

ActionKind = Literal["discrete3", "discrete5", "continuous"]
RewardKind = Literal["pnl", "differential_sharpe", "drawdown"]

# Target exposure of each discrete action (NaN = hold, HALVE = halve the current target).
DISCRETE3 = np.array([0.0, 1.0, -1.0])  # exit/neutral, long, short
DISCRETE5 = np.array([np.nan, 1.0, -1.0, 0.0, core.HALVE])  # hold, long, short, exit, reduce

STRATEGY_PATH = "axis_ml.strategies:RlPolicy"


class EnvConfig(BaseModel):
    """Settings of a trading environment: the market (as a backtest names it), the account,
    the action space, the reward and when an episode ends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field("BTC/USDT:USDT", description="ccxt symbol; spot symbols trade the perp")
    timeframe: str = "5m"
    data: Path | None = Field(None, description="OHLCV file instead of the bundled sample")
    start: datetime | None = None
    end: datetime | None = None
    exchange: Exchange = Exchange.BINANCE
    fee_model: str = "default"
    capital: float = Field(10_000.0, gt=0)
    leverage: float = Field(3.0, ge=1, le=125)
    margin_mode: MarginMode = MarginMode.ISOLATED
    slippage: float = Field(0.0005, ge=0, lt=0.1)
    funding_rate: float = Field(0.0001, gt=-0.05, lt=0.05)
    risk_profile: RiskProfile = RiskProfile.BALANCED
    window: int = Field(16, ge=1, le=512, description="bars of features in one observation")
    actions: ActionKind = "discrete3"
    max_exposure: float = Field(1.0, gt=0, le=1, description="size of a discrete long/short")
    reward: RewardKind = "pnl"
    reward_scale: float = Field(100.0, gt=0)
    drawdown_penalty: float = Field(0.5, ge=0, description="drawdown reward: penalty weight")
    dsr_eta: float = Field(0.01, gt=0, lt=1, description="differential Sharpe decay rate")
    max_drawdown: float = Field(0.5, ge=0, lt=1, description="episode ends at this drawdown")
    episode_length: int = Field(2048, ge=0, description="bars per episode; 0 = to the data end")
    deadband: float = Field(0.0, ge=0, lt=1, description="ignore target changes below this")

    def backtest_config(self) -> BacktestConfig:
        return BacktestConfig(
            strategy=STRATEGY_PATH,
            symbol=self.symbol,
            timeframe=self.timeframe,
            data=self.data,
            start=self.start,
            end=self.end,
            capital=self.capital,
            leverage=self.leverage,
            margin_mode=self.margin_mode,
            exchange=self.exchange,
            fee_model=self.fee_model,
            slippage=self.slippage,
            funding_rate=self.funding_rate,
            risk_profile=self.risk_profile,
        )

    def config_array(self) -> np.ndarray:
        out = np.zeros(core.N_CONFIG)
        out[core.C_CAPITAL] = self.capital
        out[core.C_WINDOW] = self.window
        out[core.C_REWARD] = core.REWARD_KINDS[self.reward]
        out[core.C_DD_PENALTY] = self.drawdown_penalty
        out[core.C_DSR_ETA] = self.dsr_eta
        out[core.C_MAX_DRAWDOWN] = self.max_drawdown
        out[core.C_DEADBAND] = self.deadband
        out[core.C_REWARD_SCALE] = self.reward_scale
        return out

    @property
    def observation_size(self) -> int:
        return self.window * N_FEATURES + core.N_POSITION_FEATURES

    def action_targets(self) -> np.ndarray | None:
        """Target exposure per discrete action, or None for the continuous space."""
        if self.actions == "discrete3":
            return DISCRETE3 * np.where(np.isnan(DISCRETE3), 1.0, self.max_exposure)
        if self.actions == "discrete5":
            table = DISCRETE5.copy()
            table[1:3] *= self.max_exposure
            return table
        return None


@dataclass(frozen=True, slots=True)
class TradingMarket:
    """One instrument and one or more bar series of it, as the compiled step reads them."""

    config: EnvConfig
    instrument: Instrument
    prepared: Prepared
    prices: np.ndarray  # (markets, bars, fields) float64
    features: np.ndarray  # (markets, bars, features) float32
    lengths: np.ndarray  # bars of each market
    spec: np.ndarray
    brackets: np.ndarray
    limits: np.ndarray
    monitor: np.ndarray  # position monitor: alert distance, emergency distance, fraction
    config_array: np.ndarray

    @property
    def n_markets(self) -> int:
        return int(self.prices.shape[0])

    @property
    def first_decision(self) -> int:
        """The first bar whose close an agent may act on: features warmed up, window full."""
        return WARMUP + self.config.window - 1

    def episode_bounds(self, market: int, start: int) -> tuple[int, int]:
        """(start, end) of an episode beginning at ``start``: its last bar is ``end``."""
        last = int(self.lengths[market]) - 1
        length = self.config.episode_length
        end = last if length == 0 else min(start + length, last)
        return start, end

    def latest_start(self, market: int) -> int:
        """The last start that still leaves a full episode (or one bar) to play."""
        last = int(self.lengths[market]) - 1
        length = self.config.episode_length
        return max(self.first_decision, last - (length if length else 1))


class EpisodeDraws:
    """Where reset accounts start: each market equally likely, then each start among the
    market's (:meth:`TradingMarket.episode_bounds`) equally likely
    (:func:`axis_ml.envs.core.draw_episode`), from uniforms drawn ahead from ``rng`` in blocks
    (one generator call per block, not two per reset). The NumPy and torch batches both draw
    through this, so one seed gives both the same episodes."""

    BLOCK = 65_536

    def __init__(self, market: TradingMarket, rng: np.random.Generator) -> None:
        self.rng = rng
        self.lengths = market.lengths.astype(np.int64)
        self.first = market.first_decision
        self.episode_length = market.config.episode_length
        self.uniforms = np.empty(0)
        self.cursor = 0

    def reserve(self, episodes: int) -> None:
        """Make sure the next ``episodes`` draws need no generator call."""
        need = 2 * episodes
        if self.uniforms.shape[0] - self.cursor < need:
            fresh = self.rng.random(max(self.BLOCK, need))
            self.uniforms = np.concatenate([self.uniforms[self.cursor :], fresh])
            self.cursor = 0

    def take(self, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``count`` episodes: (markets, starts, ends)."""
        self.reserve(count)
        markets = np.empty(count, dtype=np.int64)
        starts = np.empty(count, dtype=np.int64)
        ends = np.empty(count, dtype=np.int64)
        self.cursor = core.draw_episodes(
            self.uniforms,
            self.cursor,
            self.lengths,
            self.first,
            self.episode_length,
            markets,
            starts,
            ends,
        )
        return markets, starts, ends


def build_market(config: EnvConfig, series: list[Bars] | None = None) -> TradingMarket:
    """Resolve ``config``'s market like a backtest does. ``series`` replaces the data with one
    or more bar series of the same instrument (block-bootstrapped paths, other periods); the
    configured mark and funding series then give way to the constant funding rate."""
    first = series[0] if series else None
    prepared = prepare(config.backtest_config(), first)
    inst = prepared.market.instrument
    if not inst.is_perpetual:
        raise ConfigError(f"{inst.symbol}: the trading environments trade perpetuals")
    spec, brackets, lim = kernel_inputs(prepared)
    if series:
        arrays = [
            market_arrays(s, funding_rate=config.funding_rate, perpetual=True) for s in series
        ]
    else:
        m = prepared.market
        arrays = [
            market_arrays(m.bars, mark=m.mark, funding=m.funding, funding_rate=config.funding_rate)
        ]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    need = WARMUP + config.window + 2
    if int(lengths.min()) < need:
        raise ConfigError(f"a market holds {int(lengths.min())} bars; the environment needs {need}")
    width = int(lengths.max())
    prices = np.zeros((len(arrays), width, core.N_PRICE_FIELDS))
    features = np.zeros((len(arrays), width, N_FEATURES), dtype=np.float32)
    for k, a in enumerate(arrays):
        n = len(a)
        fields = (
            a.open,
            a.high,
            a.low,
            a.close,
            a.mark_open,
            a.mark_high,
            a.mark_low,
            a.mark_close,
            a.funding_rate,
            (a.timestamp // DAY_MS).astype(np.float64),
        )
        for f, values in enumerate(fields):
            prices[k, :n, f] = values
            prices[k, n:, f] = values[-1]  # padding past a shorter market's end is never played
        features[k, :n] = a.features
    return TradingMarket(
        config,
        inst,
        prepared,
        prices,
        features,
        lengths,
        spec,
        brackets,
        lim,
        monitor_array(prepared.limits),
        config.config_array(),
    )


def monitor_array(limits: RiskLimits) -> np.ndarray:
    """The position monitor's thresholds as the compiled step reads them (the vectorised
    kernel's ``monitor`` array)."""
    out = np.zeros(3)
    out[core.M_ALERT] = limits.liquidation_alert_distance
    out[core.M_EMERGENCY] = limits.liquidation_emergency_distance
    out[core.M_FRACTION] = limits.emergency_reduce_fraction
    return out
