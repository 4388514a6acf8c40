"""Tradable instruments: symbol, precision, limits, fees and leverage brackets.

Symbols follow ccxt: ``BTC/USDT`` is spot, ``BTC/USDT:USDT`` is the USDT-settled linear
perpetual. Prices and quantities are float64 here; exchange precision is applied with the
rounding helpers below, at the venue boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numba

from axis.domain.enums import Exchange, MarketType, OrderSide

# Relative slack for float noise when snapping to a tick: 100.3 / 0.1 is 1002.9999999999999.
# Tight enough that a real shortfall (a balance a hair under a lot) never rounds up.
_SNAP_REL = 1e-12


class InstrumentError(ValueError):
    """An instrument definition or a value that breaks its rules."""


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One notional tier of a perpetual: the leverage it allows and the margin it keeps.

    ``maint_amount`` is the exchange's maintenance amount ("cum" on Binance): the constant that
    keeps maintenance margin continuous across tiers, ``notional * mmr - maint_amount``.
    """

    notional_floor: float
    notional_cap: float
    max_leverage: float
    maint_margin_rate: float
    maint_amount: float = 0.0

    def maintenance_margin(self, notional: float) -> float:
        return abs(notional) * self.maint_margin_rate - self.maint_amount


def brackets_from_tiers(tiers: list[tuple[float, float, float]]) -> tuple[LeverageBracket, ...]:
    """Build brackets from (notional_cap, max_leverage, mmr) rows, deriving each maintenance
    amount so maintenance margin is continuous at every boundary (Binance's "cum" rule):
    ``cum[n] = cum[n-1] + floor[n] * (mmr[n] - mmr[n-1])``."""
    brackets: list[LeverageBracket] = []
    floor, cum, prev_mmr = 0.0, 0.0, 0.0
    for cap, max_leverage, mmr in tiers:
        cum += floor * (mmr - prev_mmr)
        brackets.append(LeverageBracket(floor, cap, max_leverage, mmr, cum))
        floor, prev_mmr = cap, mmr
    return tuple(brackets)


@lru_cache(maxsize=1024)
def step_decimals(step: float) -> int:
    """Decimal places of a step such as 0.001 (3) or 5 (0), for clean rounding output."""
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


@numba.njit(cache=True)
def _grid_units(value: float, step: float) -> float:
    """``value / step``, snapped to the whole number it is within float noise of."""
    units = value / step
    nearest = round(units)
    if abs(units - nearest) <= _SNAP_REL * max(1.0, abs(units)):
        return nearest
    return units


@numba.njit(cache=True)
def floor_step(value: float, step: float, decimals: int) -> float:
    """``value`` rounded down to a multiple of ``step`` (numba: shared with the kernel)."""
    return round(math.floor(_grid_units(value, step)) * step, decimals)


@numba.njit(cache=True)
def ceil_step(value: float, step: float, decimals: int) -> float:
    return round(math.ceil(_grid_units(value, step)) * step, decimals)


def floor_to_step(value: float, step: float) -> float:
    return float(floor_step(value, step, step_decimals(step)))


def ceil_to_step(value: float, step: float) -> float:
    return float(ceil_step(value, step, step_decimals(step)))


def nearest_step(value: float, step: float) -> float:
    return round(round(value / step) * step, step_decimals(step))


_LINEAR_PERPETUAL = MarketType.LINEAR_PERPETUAL


@dataclass(frozen=True, slots=True)
class Instrument:
    """A market on one exchange. Quantities are in contracts; ``contract_size`` base units each
    (1.0 for spot and for most USDT perpetuals)."""

    symbol: str
    exchange: Exchange
    market_type: MarketType
    tick_size: float
    lot_size: float
    min_qty: float = 0.0
    min_notional: float = 0.0
    contract_size: float = 1.0
    maker_fee: float = 0.0002
    taker_fee: float = 0.0004
    brackets: tuple[LeverageBracket, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.lot_size <= 0 or self.contract_size <= 0:
            raise InstrumentError(f"{self.symbol}: tick, lot and contract size must be positive")
        if self.is_perpetual and not self.brackets:
            raise InstrumentError(f"{self.symbol}: a perpetual needs leverage brackets")
        for lower, upper in zip(self.brackets, self.brackets[1:], strict=False):
            if upper.notional_floor != lower.notional_cap:
                raise InstrumentError(f"{self.symbol}: leverage brackets must be contiguous")

    # -- symbol parts -------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]

    @property
    def settle(self) -> str:
        """The currency PnL and margin are paid in: the quote for spot and linear contracts."""
        parts = self.symbol.split(":")
        return parts[1] if len(parts) == 2 else self.quote

    @property
    def is_perpetual(self) -> bool:
        return self.market_type is _LINEAR_PERPETUAL

    # -- leverage brackets --------------------------------------------------------------------
    def bracket_for(self, notional: float) -> LeverageBracket:
        """The bracket whose notional range holds ``notional`` (a floor belongs to its tier)."""
        if not self.brackets:
            return LeverageBracket(0.0, math.inf, 1.0, 0.0, 0.0)
        size = abs(notional)
        for bracket in self.brackets:
            if size < bracket.notional_cap:
                return bracket
        return self.brackets[-1]

    def max_leverage_for(self, notional: float) -> float:
        return self.bracket_for(notional).max_leverage

    def max_notional_for(self, leverage: float) -> float:
        """The largest position notional that ``leverage`` is allowed for."""
        allowed = [b.notional_cap for b in self.brackets if b.max_leverage >= leverage]
        return max(allowed) if allowed else 0.0

    # -- precision ----------------------------------------------------------------------------
    def notional(self, quantity: float, price: float) -> float:
        return abs(quantity) * self.contract_size * price

    def round_qty(self, quantity: float) -> float:
        """Round a quantity down to the lot: never more than was asked for or can be paid."""
        lot = self.lot_size  # floor_to_step, without its call: every order rounds twice
        return float(floor_step(abs(quantity), lot, step_decimals(lot)))

    def round_price(self, price: float) -> float:
        return nearest_step(price, self.tick_size)

    def round_limit_price(self, price: float, side: OrderSide) -> float:
        """A buy limit rounds down and a sell limit up: never a worse price than asked for."""
        if side is OrderSide.BUY:
            return floor_to_step(price, self.tick_size)
        return ceil_to_step(price, self.tick_size)

    def round_stop_price(self, price: float, side: OrderSide) -> float:
        """Round a stop trigger so it fires no later than asked: a sell stop (below the market)
        rounds up, a buy stop (above the market) rounds down; never past the trigger."""
        if side is OrderSide.SELL:
            return ceil_to_step(price, self.tick_size)
        return floor_to_step(price, self.tick_size)

    def affordable_qty(
        self, balance: float, price: float, leverage: float = 1.0, fee_rate: float | None = None
    ) -> float:
        """The largest lot-rounded quantity whose margin plus taker fee fits in ``balance``."""
        if balance <= 0 or price <= 0:
            return 0.0
        fee = self.taker_fee if fee_rate is None else fee_rate
        per_contract = self.contract_size * price * (1.0 / leverage + fee)
        return self.round_qty(balance / per_contract)

    def check_order(self, quantity: float, price: float, reduce_only: bool = False) -> str | None:
        """Why an order of this size cannot be placed, or None when it can. A reduce-only
        order may close any remainder, so the minimum notional does not apply to it."""
        if quantity <= 0:
            return "quantity must be positive"
        if abs(self.round_qty(quantity) - quantity) > self.lot_size * 1e-6:
            return f"quantity {quantity} is not a multiple of the lot size {self.lot_size}"
        if quantity < self.min_qty:
            return f"quantity {quantity} is below the minimum {self.min_qty}"
        if not reduce_only and self.notional(quantity, price) < self.min_notional:
            return (
                f"notional {self.notional(quantity, price):.2f} is below the minimum "
                f"{self.min_notional}"
            )
        return None
