"""The multi-asset portfolio environment: one spot account holding several markets that share
a quote currency (by default the bundled ten alt/BTC pairs, valued in BTC).

The action is a vector of scores in [-1, 1], one per asset plus one for cash; the softmax of
the scores times ``score_scale`` is the target weight of each. At the close of bar ``t`` the
targets become quantities (the core's lot rounding) against equity at that close; at the
open of bar ``t + 1`` the account sells first, then buys with the cash it has (all buys scaled
down alike when the open moved against it).
Every fill pays the instrument's taker fee at a price moved by the slippage — the core's own
:func:`axis.venues.fills.fee_for` and :func:`~axis.venues.fills.slipped_price` — so turnover
costs what it would cost at the venue. The reward is the log growth of equity after those
costs (or its change in units of starting capital), minus an optional extra penalty per unit
of turnover.

Observation: ``window`` bars of every asset's normalised features (:mod:`axis_ml.features`,
bar-major, then asset, then feature) and the current weights (assets, then cash). Markets with
a missing bar carry the previous close (no trade, no volume) on the common time grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numba
import numpy as np
from gymnasium import spaces
from pydantic import BaseModel, ConfigDict, Field, field_validator

from axis.config import ConfigError
from axis.data import Bars, sample_bars, timeframe_to_ms
from axis.domain.catalog import instrument_for
from axis.domain.enums import Exchange, MarketType
from axis.domain.instrument import InstrumentError, floor_step, step_decimals
from axis.venues import fills as rules
from axis_ml.features import N_FEATURES, WARMUP, compute_features

ALT_BTC = (
    "ADA/BTC",
    "DASH/BTC",
    "ETC/BTC",
    "ETH/BTC",
    "LTC/BTC",
    "NXT/BTC",
    "TRX/BTC",
    "XLM/BTC",
    "XMR/BTC",
    "ZEC/BTC",
)


class PortfolioConfig(BaseModel):
    """Markets, account, costs, reward and episode of a portfolio environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbols: tuple[str, ...] = Field(ALT_BTC, min_length=2, max_length=64)
    timeframe: str = "5m"
    exchange: Exchange = Exchange.BINANCE
    fee_model: str = "default"
    slippage: float = Field(0.0005, ge=0, lt=0.1)
    capital: float = Field(10.0, gt=0, description="starting cash, in the quote currency")
    window: int = Field(16, ge=1, le=512)
    score_scale: float = Field(
        5.0, gt=0, le=50, description="weights = softmax(score_scale x action), action in [-1, 1]"
    )
    reward: Literal["log_return", "pnl"] = "log_return"
    reward_scale: float = Field(100.0, gt=0)
    turnover_penalty: float = Field(
        0.0, ge=0, description="extra reward penalty per unit of turnover (sum of |Δweight|)"
    )
    rebalance_band: float = Field(
        0.0, ge=0, lt=1, description="leave an asset alone when its weight moves less"
    )
    max_drawdown: float = Field(0.5, ge=0, lt=1, description="episode ends at this drawdown")
    episode_length: int = Field(2048, ge=0, description="bars per episode; 0 = to the data end")

    @field_validator("symbols")
    @classmethod
    def _one_quote(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        quotes = {s.split("/")[-1] for s in symbols if "/" in s}
        if len(quotes) != 1 or any(":" in s or "/" not in s for s in symbols):
            raise ValueError("symbols must be spot pairs that share one quote currency")
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols must not repeat")
        return symbols

    @property
    def n_assets(self) -> int:
        return len(self.symbols)

    @property
    def observation_size(self) -> int:
        return self.window * self.n_assets * N_FEATURES + self.n_assets + 1


@dataclass(frozen=True, slots=True)
class PortfolioMarket:
    """The markets on one time grid, as the step reads them (assets first)."""

    config: PortfolioConfig
    timestamp: np.ndarray  # (T,)
    open: np.ndarray  # (assets, T)
    close: np.ndarray  # (assets, T)
    features: np.ndarray  # (T, assets, N_FEATURES) float32
    lots: np.ndarray  # (assets,)
    lot_decimals: np.ndarray  # (assets,) int64
    taker: np.ndarray  # (assets,)

    @property
    def first_decision(self) -> int:
        return WARMUP + self.config.window - 1

    def __len__(self) -> int:
        return len(self.timestamp)


def align(series: list[Bars], step_ms: int) -> tuple[np.ndarray, list[Bars]]:
    """All series on one grid from the latest first bar to the earliest last bar; a missing
    bar becomes a flat bar at the previous close with no volume."""
    start = max(int(b.timestamp[0]) for b in series)
    end = min(int(b.timestamp[-1]) for b in series)
    if end - start < step_ms * (WARMUP + 64):
        raise ConfigError("the markets overlap too little in time for a portfolio")
    grid = np.arange(start, end + step_ms, step_ms, dtype=np.int64)
    out = []
    for bars in series:
        # The last bar opening at or before each grid time.
        at = np.searchsorted(bars.timestamp, grid, side="right") - 1
        present = bars.timestamp[at] == grid
        close = np.asarray(bars.close, dtype=np.float64)[at]

        def pick(
            values: np.ndarray,
            at: np.ndarray = at,
            present: np.ndarray = present,
            close: np.ndarray = close,
        ) -> np.ndarray:
            return np.where(present, np.asarray(values, dtype=np.float64)[at], close)

        volume = np.where(present, np.asarray(bars.volume, dtype=np.float64)[at], 0.0)
        out.append(
            Bars(
                bars.symbol,
                bars.timeframe,
                grid,
                pick(bars.open),
                pick(bars.high),
                pick(bars.low),
                close,
                volume,
            )
        )
    return grid, out


def build_portfolio(config: PortfolioConfig, series: list[Bars] | None = None) -> PortfolioMarket:
    """The configured markets (bundled samples unless ``series`` is given), aligned, with
    each instrument's lot size and taker fee from the core's catalogue."""
    raw = (
        series if series is not None else [sample_bars(s, config.timeframe) for s in config.symbols]
    )
    grid, bars = align(raw, timeframe_to_ms(config.timeframe))
    lots, decimals, taker = [], [], []
    for symbol, b in zip(config.symbols, bars):
        try:
            inst = instrument_for(
                symbol,
                config.exchange,
                fee_model=config.fee_model,
                reference_price=float(b.close[0]),
            )
        except InstrumentError as exc:
            raise ConfigError(str(exc)) from None
        if inst.market_type is not MarketType.SPOT or inst.contract_size != 1.0:
            raise ConfigError(f"{symbol}: the portfolio environment holds spot markets")
        lots.append(inst.lot_size)
        decimals.append(step_decimals(inst.lot_size))
        taker.append(inst.taker_fee)
    features = np.stack([compute_features(b) for b in bars], axis=1)
    if len(grid) < WARMUP + config.window + 2:
        raise ConfigError("too few common bars for the window")
    return PortfolioMarket(
        config,
        grid,
        np.stack([b.open for b in bars]),
        np.stack([b.close for b in bars]),
        np.ascontiguousarray(features, dtype=np.float32),
        np.array(lots),
        np.array(decimals, dtype=np.int64),
        np.array(taker),
    )


def softmax(scores: np.ndarray) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64).reshape(-1)
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


@numba.njit(cache=True)
def rebalance(
    holdings: np.ndarray,
    cash: float,
    weights: np.ndarray,
    close: np.ndarray,
    open_next: np.ndarray,
    lots: np.ndarray,
    lot_decimals: np.ndarray,
    taker: np.ndarray,
    slippage: float,
    band: float,
) -> tuple[float, float, float, int]:
    """Move ``holdings`` (in place) toward ``weights`` (assets, then cash) of equity at the
    close: quantities decided at ``close``, filled at ``open_next`` — sells first, then buys
    with the cash there is. Returns (cash, fees paid, traded value, fills)."""
    n = len(holdings)
    equity = cash
    for i in range(n):
        equity += holdings[i] * close[i]
    fees, traded, fills = 0.0, 0.0, 0
    if equity <= 0.0:
        return cash, fees, traded, fills
    delta = np.zeros(n)
    for i in range(n):
        current = holdings[i] * close[i] / equity
        if abs(weights[i] - current) < band:
            continue
        target = floor_step(weights[i] * equity / close[i], lots[i], lot_decimals[i])
        delta[i] = target - holdings[i]
    for i in range(n):  # sells free the cash the buys need
        if delta[i] < 0.0:
            qty = -delta[i]
            price = rules.slipped_price(open_next[i], -1, slippage)
            fee = rules.fee_for(qty, price, 1.0, taker[i])
            cash += qty * price - fee
            holdings[i] -= qty
            fees += fee
            traded += qty * price
            fills += 1
    need = 0.0
    for i in range(n):
        if delta[i] > 0.0:
            price = rules.slipped_price(open_next[i], 1, slippage)
            need += delta[i] * price * (1.0 + taker[i])
    scale = 1.0 if need <= cash else max(cash, 0.0) / need
    for i in range(n):
        if delta[i] > 0.0:
            qty = floor_step(delta[i] * scale, lots[i], lot_decimals[i])
            if qty <= 0.0:
                continue
            price = rules.slipped_price(open_next[i], 1, slippage)
            fee = rules.fee_for(qty, price, 1.0, taker[i])
            cash -= qty * price + fee
            holdings[i] += qty
            fees += fee
            traded += qty * price
            fills += 1
    return cash, fees, traded, fills


class PortfolioEnv(gym.Env[np.ndarray, np.ndarray]):
    """A spot portfolio over several markets of one quote currency, rebalanced to softmax
    target weights each bar, paying the venue's fees and slippage on every unit of turnover."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self, config: PortfolioConfig | None = None, *, market: PortfolioMarket | None = None
    ) -> None:
        self.market = market if market is not None else build_portfolio(config or PortfolioConfig())
        self.config = self.market.config
        n = self.config.n_assets
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(self.config.observation_size,), dtype=np.float32
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n + 1,), dtype=np.float32)
        self.holdings = np.zeros(n)
        self.cash = self.config.capital
        self.t = self.end = self.market.first_decision
        self.peak = self.equity = self.config.capital
        self.fees = self.turnover = 0.0
        self.fills = 0

    # -- state --------------------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        """Current weights of the assets, then cash, at the last close."""
        values = self.holdings * self.market.close[:, self.t]
        equity = self.cash + values.sum()
        if equity <= 0:
            return np.r_[np.zeros(len(values)), 1.0]
        return np.r_[values, self.cash] / equity

    def _observation(self) -> np.ndarray:
        w = self.config.window
        window = self.market.features[self.t - w + 1 : self.t + 1].reshape(-1)
        return np.concatenate([window, self.weights().astype(np.float32)]).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {
            "equity": self.equity,
            "fees": self.fees,
            "turnover": self.turnover,
            "fills": self.fills,
            "bar": self.t,
            "weights": self.weights(),
        }

    # -- gymnasium ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        market, length = self.market, self.config.episode_length
        last = len(market) - 1
        latest = max(market.first_decision, last - (length if length else 1))
        start = options.get("start")
        if start is None:
            start = int(self.np_random.integers(market.first_decision, latest + 1))
        if not market.first_decision <= int(start) < last:
            raise ValueError(f"episode start {start} is outside the playable bars")
        self.t = int(start)
        self.end = last if length == 0 else min(self.t + length, last)
        self.holdings[:] = 0.0
        self.cash = self.config.capital
        self.peak = self.equity = self.config.capital
        self.fees = self.turnover = 0.0
        self.fills = 0
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        config, market = self.config, self.market
        scores = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        target = softmax(config.score_scale * scores)
        t = self.t
        self.cash, fees, traded, fills = rebalance(
            self.holdings,
            self.cash,
            target,
            market.close[:, t],
            market.open[:, t + 1],
            market.lots,
            market.lot_decimals,
            market.taker,
            config.slippage,
            config.rebalance_band,
        )
        equity_before = self.equity
        self.t = t + 1
        self.equity = float(self.cash + (self.holdings * market.close[:, self.t]).sum())
        self.peak = max(self.peak, self.equity)
        self.fees += fees
        self.fills += fills
        turnover = traded / equity_before if equity_before > 0 else 0.0
        self.turnover += turnover
        if config.reward == "log_return":
            growth = self.equity / equity_before if equity_before > 0 else 0.0
            reward = math.log(growth) if growth > 0 else -10.0
        else:
            reward = (self.equity - equity_before) / config.capital
        reward = reward * config.reward_scale - config.turnover_penalty * turnover
        drawdown = 1.0 - self.equity / self.peak if self.peak > 0 else 1.0
        terminated = self.equity <= 0.0 or (
            config.max_drawdown > 0 and drawdown >= config.max_drawdown
        )
        truncated = (not terminated) and self.t >= self.end
        return self._observation(), float(reward), bool(terminated), bool(truncated), self._info()
