"""The pre-trade risk chain: every order of every mode passes these checks in this order.

Each check sees the order intent (possibly already resized by an earlier check) and answers
pass, resize (a smaller quantity) or veto (with the rule and a reason). Orders that only reduce
an existing position are never blocked by a limit on risk: a halted account must still be able
to flatten.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple, Protocol

from axis.domain.enums import MarginMode, OrderSide, OrderType
from axis.domain.futures import liquidation_distance
from axis.domain.instrument import Instrument
from axis.domain.liquidation import liquidation_price
from axis.risk.limits import RiskLimits, TradingState


class RiskAction(StrEnum):
    PASS = "pass"
    RESIZE = "resize"
    VETO = "veto"


@dataclass(slots=True)
class OrderIntent:
    """An order a strategy (or the monitor, or an API call) wants to place, before risk."""

    symbol: str
    side: OrderSide
    quantity: float
    type: OrderType = OrderType.MARKET
    price: float | None = None
    trigger_price: float | None = None
    reduce_only: bool = False
    tag: str = ""
    reference_price: float = math.nan  # price for notional checks: limit price or last mark


_NO_DETAILS: Mapping[str, float] = MappingProxyType({})


class RiskDecision(NamedTuple):
    """A check's answer. A tuple, not a dataclass: the chain makes several per order."""

    action: RiskAction
    quantity: float
    rule: str = ""
    reason: str = ""
    details: Mapping[str, float] = _NO_DETAILS


class RiskContext(Protocol):
    """What the chain needs to know about the account at the moment of the order."""

    limits: RiskLimits
    trading_state: TradingState

    def instrument_of(self, symbol: str) -> Instrument: ...
    def position_qty(self, symbol: str) -> float: ...
    def position_entry(self, symbol: str) -> float: ...
    def position_margin(self, symbol: str) -> float: ...
    def leverage(self, symbol: str) -> float: ...
    def margin_mode(self, symbol: str) -> MarginMode: ...
    def equity(self) -> float: ...
    def peak_equity(self) -> float: ...
    def day_start_equity(self) -> float: ...
    def total_notional(self) -> float: ...
    def open_order_count(self) -> int: ...


@dataclass(slots=True)
class RiskSnapshot:
    """The account as the chain sees it for one order on one symbol, read once: the checks
    then ask it instead of recomputing equity for each question."""

    limits: RiskLimits
    trading_state: TradingState
    instrument: Instrument
    quantity: float
    entry: float
    margin: float
    position_leverage: float
    mode: MarginMode
    account_equity: float
    peak: float
    day_start: float
    notional_total: float
    open_orders: int

    def instrument_of(self, symbol: str) -> Instrument:
        return self.instrument

    def position_qty(self, symbol: str) -> float:
        return self.quantity

    def position_entry(self, symbol: str) -> float:
        return self.entry

    def position_margin(self, symbol: str) -> float:
        return self.margin

    def leverage(self, symbol: str) -> float:
        return self.position_leverage

    def margin_mode(self, symbol: str) -> MarginMode:
        return self.mode

    def equity(self) -> float:
        return self.account_equity

    def peak_equity(self) -> float:
        return self.peak

    def day_start_equity(self) -> float:
        return self.day_start

    def total_notional(self) -> float:
        return self.notional_total

    def open_order_count(self) -> int:
        return self.open_orders


def reduces_position(intent: OrderIntent, position_qty: float) -> bool:
    """True when the order can only shrink the current position (never flip or grow it)."""
    signed = intent.quantity * intent.side.sign
    return position_qty != 0.0 and signed * position_qty < 0 and abs(signed) <= abs(position_qty)


class RiskCheck(Protocol):
    name: str

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision: ...


_ACTIVE = TradingState.ACTIVE
_new_decision = tuple.__new__  # NamedTuple's generated __new__ costs twice as much
_PASS, _RESIZE, _VETO = RiskAction.PASS, RiskAction.RESIZE, RiskAction.VETO


def _pass(intent: OrderIntent) -> RiskDecision:
    # Every check of every order answers this at least once: built without the keyword
    # handling of RiskDecision(...), same fields and defaults.
    return _new_decision(RiskDecision, (_PASS, intent.quantity, "", "", _NO_DETAILS))


def _no_price(intent: OrderIntent, rule: str) -> RiskDecision | None:
    """Fail closed: a check that sizes risk by price vetoes an order without a usable one
    (NaN would otherwise slip through every comparison)."""
    price = intent.reference_price
    if math.isfinite(price) and price > 0:
        return None
    return RiskDecision(RiskAction.VETO, 0.0, rule, f"no usable reference price ({price})")


class TradingStateCheck:
    """Halted: only reducing orders. Reducing: the same. Active: everything."""

    name = "trading_state"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        if ctx.trading_state is _ACTIVE:
            return _pass(intent)
        if reduces_position(intent, ctx.position_qty(intent.symbol)):
            return _pass(intent)
        return RiskDecision(
            RiskAction.VETO, 0.0, self.name, f"trading is {ctx.trading_state.value}"
        )


class DrawdownHaltCheck:
    """Halts new risk once equity has fallen ``max_drawdown`` below its peak."""

    name = "max_drawdown"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        peak, equity = ctx.peak_equity(), ctx.equity()
        drawdown = 1.0 - equity / peak if peak > 0 else 0.0
        # Compared in money so that exactly at the limit (8,000 of a 10,000 peak) halts.
        if peak <= 0 or equity > peak * (1.0 - ctx.limits.max_drawdown):
            return _pass(intent)
        if reduces_position(intent, ctx.position_qty(intent.symbol)):
            return _pass(intent)
        return RiskDecision(
            RiskAction.VETO,
            0.0,
            self.name,
            f"drawdown {drawdown:.2%} reached the {ctx.limits.max_drawdown:.2%} halt",
            {"drawdown": drawdown, "limit": ctx.limits.max_drawdown},
        )


class DailyLossCheck:
    """Stops new risk for the rest of the UTC day once the day's loss reaches the limit."""

    name = "daily_loss_limit"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        start, equity = ctx.day_start_equity(), ctx.equity()
        loss = 1.0 - equity / start if start > 0 else 0.0
        if start <= 0 or equity > start * (1.0 - ctx.limits.daily_loss_limit):
            return _pass(intent)
        if reduces_position(intent, ctx.position_qty(intent.symbol)):
            return _pass(intent)
        return RiskDecision(
            RiskAction.VETO,
            0.0,
            self.name,
            f"today's loss {loss:.2%} reached the {ctx.limits.daily_loss_limit:.2%} limit",
            {"loss": loss, "limit": ctx.limits.daily_loss_limit},
        )


class MaxOpenOrdersCheck:
    name = "max_open_orders"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        count, limit = ctx.open_order_count(), ctx.limits.max_open_orders
        if count < limit or reduces_position(intent, ctx.position_qty(intent.symbol)):
            return _pass(intent)
        return RiskDecision(
            RiskAction.VETO,
            0.0,
            self.name,
            f"{count} open orders reach the limit of {limit}",
            {"open_orders": float(count), "limit": float(limit)},
        )


def _resulting_qty(intent: OrderIntent, current: float) -> float:
    """The position ``intent`` leaves behind from a ``current`` one (signed contracts)."""
    return current + intent.quantity * intent.side.sign


class LeverageCheck:
    """The position's leverage setting must fit the profile and the exchange bracket; the
    notional it reaches must not exceed equity × max leverage (resized down when it would)."""

    name = "max_leverage"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        current = ctx.position_qty(intent.symbol)
        if reduces_position(intent, current):
            return _pass(intent)
        if (veto := _no_price(intent, self.name)) is not None:
            return veto
        inst = ctx.instrument_of(intent.symbol)
        price = intent.reference_price
        leverage = ctx.leverage(intent.symbol)
        after = abs(_resulting_qty(intent, current))
        notional = inst.notional(after, price)
        bracket_max = inst.max_leverage_for(notional) if inst.is_perpetual else 1.0
        allowed = min(ctx.limits.max_leverage, bracket_max)
        if leverage > allowed + 1e-12:
            return RiskDecision(
                RiskAction.VETO,
                0.0,
                self.name,
                f"leverage {leverage:g}x exceeds the allowed {allowed:g}x "
                f"(profile {ctx.limits.max_leverage:g}x, exchange bracket {bracket_max:g}x)",
                {"leverage": leverage, "allowed": allowed},
            )
        cap = ctx.equity() * allowed
        if notional <= cap:
            return _pass(intent)
        return _shrink_to_notional(intent, ctx, cap, self.name, "equity × max leverage")


def _shrink_to_notional(
    intent: OrderIntent, ctx: RiskContext, cap: float, rule: str, what: str
) -> RiskDecision:
    """Resize an order so the position it leaves has at most ``cap`` notional."""
    inst = ctx.instrument_of(intent.symbol)
    price = intent.reference_price
    current = ctx.position_qty(intent.symbol)
    max_abs = inst.round_qty(max(cap, 0.0) / (price * inst.contract_size))
    target = math.copysign(max_abs, intent.side.sign)
    allowed_qty = inst.round_qty(max((target - current) * intent.side.sign, 0.0))
    if allowed_qty <= 0:
        return RiskDecision(
            RiskAction.VETO, 0.0, rule, f"no room under {what} ({cap:,.2f})", {"cap": cap}
        )
    return RiskDecision(
        RiskAction.RESIZE,
        allowed_qty,
        rule,
        f"resized to stay under {what} ({cap:,.2f})",
        {"cap": cap, "requested": intent.quantity},
    )


class PositionNotionalCheck:
    """Per-symbol and account-wide notional caps (absolute, and total leverage × equity)."""

    name = "max_notional"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        current = ctx.position_qty(intent.symbol)
        if reduces_position(intent, current):
            return _pass(intent)
        if (veto := _no_price(intent, self.name)) is not None:
            return veto
        inst = ctx.instrument_of(intent.symbol)
        price = intent.reference_price
        after = inst.notional(_resulting_qty(intent, current), price)
        limits = ctx.limits
        others = ctx.total_notional() - inst.notional(current, price)
        total_cap = ctx.equity() * limits.max_total_leverage
        if limits.max_total_notional is not None:
            total_cap = min(total_cap, limits.max_total_notional)
        # The tighter cap binds: a resize for the symbol's cap must still fit the account's.
        cap, what = max(total_cap - others, 0.0), "the account's notional cap"
        if limits.max_position_notional is not None and limits.max_position_notional <= cap:
            cap, what = limits.max_position_notional, "the symbol's notional cap"
        if after <= cap:
            return _pass(intent)
        return _shrink_to_notional(intent, ctx, cap, self.name, what)


class LiquidationDistanceCheck:
    """A new or enlarged perpetual position must keep its liquidation price at least
    ``min_liquidation_distance`` away from the entry reference price."""

    name = "min_liquidation_distance"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        inst = ctx.instrument_of(intent.symbol)
        current = ctx.position_qty(intent.symbol)
        if not inst.is_perpetual or reduces_position(intent, current):
            return _pass(intent)
        if (veto := _no_price(intent, self.name)) is not None:
            return veto
        after = _resulting_qty(intent, current)
        if after == 0.0:
            return _pass(intent)
        price = intent.reference_price
        leverage = ctx.leverage(intent.symbol)
        base_qty = abs(after) * inst.contract_size
        entry, margin = price, base_qty * price / leverage
        if current * after > 0:  # adding to a position: its entry and margin carry over
            added = abs(after) - abs(current)
            entry = (ctx.position_entry(intent.symbol) * abs(current) + price * added) / abs(after)
            margin = (
                ctx.position_margin(intent.symbol) + added * inst.contract_size * price / leverage
            )
        if ctx.margin_mode(intent.symbol) is MarginMode.CROSS:
            margin = max(ctx.equity(), margin)
        side = 1 if after > 0 else -1
        liq = liquidation_price(inst, side, base_qty, entry, margin, ctx.margin_mode(intent.symbol))
        distance = float(liquidation_distance(price, liq))
        if distance >= ctx.limits.min_liquidation_distance:
            return _pass(intent)
        return RiskDecision(
            RiskAction.VETO,
            0.0,
            self.name,
            f"Liquidation distance {distance:.2%} < {ctx.limits.min_liquidation_distance:.0%}",
            {
                "liquidation_price": liq,
                "liquidation_distance": distance,
                "min_liquidation_distance": ctx.limits.min_liquidation_distance,
                "entry_price": entry,
                "leverage": leverage,
            },
        )


class InstrumentRulesCheck:
    """Exchange precision and minimums: quantity to the lot (down), min quantity/notional."""

    name = "instrument_rules"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        inst = ctx.instrument_of(intent.symbol)
        if not intent.quantity > 0:  # round_qty drops the sign: refuse before rounding
            return RiskDecision(RiskAction.VETO, 0.0, self.name, "quantity must be positive")
        rounded = inst.round_qty(intent.quantity)
        problem = (
            inst.check_order(rounded, intent.reference_price, intent.reduce_only)
            if rounded > 0
            else None
        )
        if rounded <= 0:
            problem = f"quantity {intent.quantity} rounds to zero at lot size {inst.lot_size}"
        if problem is not None:
            return RiskDecision(RiskAction.VETO, 0.0, self.name, problem)
        if rounded != intent.quantity:
            return RiskDecision(RiskAction.RESIZE, rounded, self.name, "rounded to the lot size")
        return _pass(intent)


def default_checks() -> list[RiskCheck]:
    """The chain in its fixed order: state and loss limits first, precision last."""
    return [
        TradingStateCheck(),
        DrawdownHaltCheck(),
        DailyLossCheck(),
        MaxOpenOrdersCheck(),
        LeverageCheck(),
        PositionNotionalCheck(),
        LiquidationDistanceCheck(),
        InstrumentRulesCheck(),
    ]


@dataclass(slots=True)
class RiskChain:
    checks: list[RiskCheck] = field(default_factory=default_checks)

    def evaluate(self, intent: OrderIntent, ctx: RiskContext) -> RiskDecision:
        """Run every check; the intent's quantity shrinks with each resize. The first veto
        ends the chain. The result's rule/reason name the last check that changed anything."""
        original = intent.quantity
        last: RiskDecision | None = None
        for check in self.checks:
            decision = check.check(intent, ctx)
            action = decision.action
            if action is _PASS:
                continue
            if action is _VETO:
                intent.quantity = original
                return decision
            if action is _RESIZE:
                intent.quantity = decision.quantity
                last = decision
        if last is None:
            return _pass(intent)
        return RiskDecision(
            RiskAction.RESIZE, intent.quantity, last.rule, last.reason, last.details
        )
