"""The pre-trade risk chain: each check's pass / resize / veto with its rule and reason, the
chain's order (first veto wins, resizes compound), reducing orders passing a halted or
limit-breached account, and the seed's example (15x vetoed, 10x too close to liquidation)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from axis.domain.catalog import instrument_for
from axis.domain.enums import MarginMode, OrderSide, OrderType
from axis.domain.instrument import Instrument
from axis.domain.liquidation import liquidation_price
from axis.risk.chain import (
    DailyLossCheck,
    DrawdownHaltCheck,
    InstrumentRulesCheck,
    LeverageCheck,
    LiquidationDistanceCheck,
    MaxOpenOrdersCheck,
    OrderIntent,
    PositionNotionalCheck,
    RiskAction,
    RiskChain,
    RiskContext,
    RiskDecision,
    TradingStateCheck,
    reduces_position,
)
from axis.risk.limits import RiskLimits, RiskProfile, TradingState, limits_for

PERP = "BTC/USDT:USDT"  # Binance: tick 0.1, lot 0.001, min notional 100; 125x below 50,000
SPOT = "BTC/USDT"
BALANCED = limits_for(RiskProfile.BALANCED)
AGGRESSIVE = limits_for(RiskProfile.AGGRESSIVE)
INSTRUMENTS = {PERP: instrument_for(PERP), SPOT: instrument_for(SPOT)}


@dataclass
class FakeContext:
    """A RiskContext with every figure set by hand."""

    limits: RiskLimits = BALANCED
    trading_state: TradingState = TradingState.ACTIVE
    position: float = 0.0
    entry: float = 0.0
    margin: float = 0.0
    leverage_: float = 5.0
    mode: MarginMode = MarginMode.ISOLATED
    equity_: float = 10_000.0
    peak: float = 10_000.0
    day_start: float = 10_000.0
    notional_total: float = 0.0
    open_orders: int = 0
    instruments: dict[str, Instrument] = field(default_factory=lambda: dict(INSTRUMENTS))

    def instrument_of(self, symbol: str) -> Instrument:
        return self.instruments[symbol]

    def position_qty(self, symbol: str) -> float:
        return self.position

    def position_entry(self, symbol: str) -> float:
        return self.entry

    def position_margin(self, symbol: str) -> float:
        return self.margin

    def leverage(self, symbol: str) -> float:
        return self.leverage_

    def margin_mode(self, symbol: str) -> MarginMode:
        return self.mode

    def equity(self) -> float:
        return self.equity_

    def peak_equity(self) -> float:
        return self.peak

    def day_start_equity(self) -> float:
        return self.day_start

    def total_notional(self) -> float:
        return self.notional_total

    def open_order_count(self) -> int:
        return self.open_orders


def test_fake_context_implements_the_protocol() -> None:
    ctx: RiskContext = FakeContext()
    assert ctx.equity() == 10_000.0


def buy(qty: float, price: float = 68_000.0, symbol: str = PERP, **kw: object) -> OrderIntent:
    return OrderIntent(symbol, OrderSide.BUY, qty, reference_price=price, **kw)  # type: ignore[arg-type]


def sell(qty: float, price: float = 68_000.0, symbol: str = PERP, **kw: object) -> OrderIntent:
    return OrderIntent(symbol, OrderSide.SELL, qty, reference_price=price, **kw)  # type: ignore[arg-type]


def assert_pass(decision: RiskDecision, quantity: float) -> None:
    assert decision.action is RiskAction.PASS
    assert decision.quantity == quantity
    assert decision.rule == ""


def assert_veto(decision: RiskDecision, rule: str, reason: str) -> None:
    assert decision.action is RiskAction.VETO
    assert decision.quantity == 0.0
    assert decision.rule == rule
    assert decision.reason == reason


# -- reduces_position -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "intent", "expected"),
    [
        (0.5, sell(0.5), True),
        (0.5, sell(0.2), True),
        (0.5, sell(0.6), False),  # would flip to a short
        (0.5, buy(0.1), False),  # adds
        (0.0, sell(0.1), False),  # opens a short
        (-0.5, buy(0.5), True),
        (-0.5, buy(0.51), False),
    ],
)
def test_reduces_position(position: float, intent: OrderIntent, expected: bool) -> None:
    assert reduces_position(intent, position) is expected


# -- trading state ----------------------------------------------------------------------------


def test_trading_state_active_passes() -> None:
    assert_pass(TradingStateCheck().check(buy(0.1), FakeContext()), 0.1)


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCING])
def test_trading_state_vetoes_new_risk(state: TradingState) -> None:
    ctx = FakeContext(trading_state=state, position=0.5)
    assert_veto(TradingStateCheck().check(buy(0.1), ctx), "trading_state", f"trading is {state}")
    assert_veto(TradingStateCheck().check(sell(0.6), ctx), "trading_state", f"trading is {state}")


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCING])
def test_trading_state_lets_a_reducing_order_through(state: TradingState) -> None:
    ctx = FakeContext(trading_state=state, position=0.5)
    assert_pass(TradingStateCheck().check(sell(0.5), ctx), 0.5)


# -- drawdown halt ----------------------------------------------------------------------------


def test_drawdown_below_the_limit_passes() -> None:
    ctx = FakeContext(peak=10_000.0, equity_=8_001.0)
    assert_pass(DrawdownHaltCheck().check(buy(0.1), ctx), 0.1)


def test_drawdown_at_the_limit_vetoes() -> None:
    # Exactly 20% below the peak: 1 - 8000/10000 is 0.19999999999999996 in floats, which must
    # still count as having reached the balanced profile's 20% halt.
    ctx = FakeContext(peak=10_000.0, equity_=8_000.0)
    decision = DrawdownHaltCheck().check(buy(0.1), ctx)
    assert_veto(decision, "max_drawdown", "drawdown 20.00% reached the 20.00% halt")
    assert decision.details == {"drawdown": pytest.approx(0.2), "limit": 0.2}


def test_drawdown_beyond_the_limit_still_lets_a_close_through() -> None:
    ctx = FakeContext(peak=10_000.0, equity_=6_500.0, position=0.3)
    decision = DrawdownHaltCheck().check(buy(0.1), ctx)
    assert_veto(decision, "max_drawdown", "drawdown 35.00% reached the 20.00% halt")
    assert_pass(DrawdownHaltCheck().check(sell(0.3), ctx), 0.3)


# -- daily loss -------------------------------------------------------------------------------


def test_daily_loss_below_the_limit_passes() -> None:
    ctx = FakeContext(day_start=10_000.0, equity_=9_501.0)
    assert_pass(DailyLossCheck().check(buy(0.1), ctx), 0.1)


def test_daily_loss_at_the_limit_vetoes() -> None:
    ctx = FakeContext(day_start=10_000.0, equity_=9_500.0)
    decision = DailyLossCheck().check(buy(0.1), ctx)
    assert_veto(decision, "daily_loss_limit", "today's loss 5.00% reached the 5.00% limit")
    assert decision.details == {"loss": pytest.approx(0.05), "limit": 0.05}


def test_daily_loss_lets_a_reducing_order_through() -> None:
    ctx = FakeContext(day_start=10_000.0, equity_=9_000.0, position=-0.2)
    assert_veto(
        DailyLossCheck().check(sell(0.1), ctx),
        "daily_loss_limit",
        "today's loss 10.00% reached the 5.00% limit",
    )
    assert_pass(DailyLossCheck().check(buy(0.2), ctx), 0.2)


def test_conservative_daily_loss_limit_is_two_percent() -> None:
    ctx = FakeContext(limits=limits_for("conservative"), day_start=10_000.0, equity_=9_800.0)
    assert_veto(
        DailyLossCheck().check(buy(0.1), ctx),
        "daily_loss_limit",
        "today's loss 2.00% reached the 2.00% limit",
    )


# -- max open orders --------------------------------------------------------------------------


def test_open_orders_below_the_limit_pass() -> None:
    assert_pass(MaxOpenOrdersCheck().check(buy(0.1), FakeContext(open_orders=19)), 0.1)


def test_open_orders_at_the_limit_veto() -> None:
    decision = MaxOpenOrdersCheck().check(buy(0.1), FakeContext(open_orders=20))
    assert_veto(decision, "max_open_orders", "20 open orders reach the limit of 20")
    assert decision.details == {"open_orders": 20.0, "limit": 20.0}


def test_open_orders_at_the_limit_still_let_a_reducing_order_through() -> None:
    # A stop-loss or a close must never be blocked by a limit on risk.
    ctx = FakeContext(open_orders=20, position=0.4)
    assert_pass(MaxOpenOrdersCheck().check(sell(0.4, type=OrderType.STOP_MARKET), ctx), 0.4)


# -- max leverage -----------------------------------------------------------------------------


def test_leverage_within_profile_and_bracket_passes() -> None:
    ctx = FakeContext(leverage_=10.0, equity_=10_000.0)
    assert_pass(LeverageCheck().check(buy(0.1), ctx), 0.1)


def test_seed_example_15x_long_is_vetoed_by_the_balanced_profile() -> None:
    ctx = FakeContext(leverage_=15.0)
    decision = LeverageCheck().check(buy(0.1), ctx)
    assert_veto(
        decision,
        "max_leverage",
        "leverage 15x exceeds the allowed 10x (profile 10x, exchange bracket 125x)",
    )
    assert decision.details == {"leverage": 15.0, "allowed": 10.0}


def test_leverage_above_the_exchange_bracket_is_vetoed() -> None:
    # 150 BTC at 68,000 is 10.2M of notional: Binance's 10M-20M bracket allows 10x only.
    ctx = FakeContext(limits=AGGRESSIVE, leverage_=20.0, equity_=1_000_000.0)
    decision = LeverageCheck().check(buy(150.0), ctx)
    assert_veto(
        decision,
        "max_leverage",
        "leverage 20x exceeds the allowed 10x (profile 20x, exchange bracket 10x)",
    )
    assert decision.details == {"leverage": 20.0, "allowed": 10.0}
    # 140 BTC (9.52M) stays in the 20x bracket.
    assert_pass(LeverageCheck().check(buy(140.0), ctx), 140.0)


def test_spot_allows_only_1x() -> None:
    assert_pass(LeverageCheck().check(buy(0.1, symbol=SPOT), FakeContext(leverage_=1.0)), 0.1)
    assert_veto(
        LeverageCheck().check(buy(0.01, symbol=SPOT), FakeContext(leverage_=2.0, equity_=1e6)),
        "max_leverage",
        "leverage 2x exceeds the allowed 1x (profile 10x, exchange bracket 1x)",
    )


def test_leverage_resizes_to_equity_times_max_leverage() -> None:
    # Equity 1,000 at 10x: at most 10,000 of notional → 10,000 / 68,000 = 0.147 BTC.
    ctx = FakeContext(leverage_=10.0, equity_=1_000.0)
    decision = LeverageCheck().check(buy(0.2), ctx)
    assert decision.action is RiskAction.RESIZE
    assert decision.quantity == 0.147
    assert decision.rule == "max_leverage"
    assert decision.reason == "resized to stay under equity × max leverage (10,000.00)"
    assert decision.details == {"cap": 10_000.0, "requested": 0.2}


def test_leverage_resize_counts_the_existing_position() -> None:
    ctx = FakeContext(leverage_=10.0, equity_=1_000.0, position=0.05)
    decision = LeverageCheck().check(buy(0.2), ctx)
    assert (decision.action, decision.quantity) == (RiskAction.RESIZE, 0.097)


def test_leverage_resize_of_a_flip_keeps_the_close_and_caps_the_new_side() -> None:
    # Long 0.1, sell 0.5 → short 0.4 (27,200): capped at short 0.147, so sell 0.247.
    ctx = FakeContext(leverage_=10.0, equity_=1_000.0, position=0.1)
    decision = LeverageCheck().check(sell(0.5), ctx)
    assert (decision.action, decision.quantity) == (RiskAction.RESIZE, 0.247)


def test_leverage_vetoes_when_no_room_is_left() -> None:
    ctx = FakeContext(leverage_=10.0, equity_=1_000.0, position=0.147)
    decision = LeverageCheck().check(buy(0.01), ctx)
    assert_veto(decision, "max_leverage", "no room under equity × max leverage (10,000.00)")
    assert decision.details == {"cap": 10_000.0}


def test_leverage_vetoes_on_negative_equity() -> None:
    ctx = FakeContext(leverage_=5.0, equity_=-1_000.0)
    decision = LeverageCheck().check(buy(0.05), ctx)
    assert_veto(decision, "max_leverage", "no room under equity × max leverage (-10,000.00)")


@pytest.mark.parametrize("price", [math.nan, math.inf, 0.0, -1.0])
def test_leverage_fails_closed_without_a_reference_price(price: float) -> None:
    decision = LeverageCheck().check(buy(0.1, price=price), FakeContext(equity_=1_000.0))
    assert_veto(decision, "max_leverage", f"no usable reference price ({price})")


def test_leverage_never_blocks_a_reducing_order() -> None:
    ctx = FakeContext(leverage_=50.0, equity_=100.0, position=0.5)
    assert_pass(LeverageCheck().check(sell(0.5), ctx), 0.5)


# -- notional caps ----------------------------------------------------------------------------


def test_notional_within_the_caps_passes() -> None:
    # Equity 1,000 × max total leverage 15 = 15,000 ≥ 6,800.
    assert_pass(PositionNotionalCheck().check(buy(0.1), FakeContext(equity_=1_000.0)), 0.1)


def test_symbol_notional_cap_resizes() -> None:
    limits = RiskLimits(max_position_notional=5_000.0)
    decision = PositionNotionalCheck().check(buy(0.1), FakeContext(limits=limits))
    assert decision.action is RiskAction.RESIZE
    assert decision.quantity == 0.073  # 5,000 / 68,000 = 0.0735
    assert decision.rule == "max_notional"
    assert decision.reason == "resized to stay under the symbol's notional cap (5,000.00)"
    assert decision.details == {"cap": 5_000.0, "requested": 0.1}


def test_account_notional_cap_resizes_for_other_positions() -> None:
    # 15,000 allowed in all, 10,000 taken by other symbols: 5,000 left.
    ctx = FakeContext(equity_=1_000.0, notional_total=10_000.0)
    decision = PositionNotionalCheck().check(buy(0.1), ctx)
    assert (decision.action, decision.quantity) == (RiskAction.RESIZE, 0.073)
    assert decision.reason == "resized to stay under the account's notional cap (5,000.00)"


def test_absolute_total_notional_cap_resizes() -> None:
    limits = RiskLimits(max_total_notional=3_400.0)
    decision = PositionNotionalCheck().check(buy(0.1), FakeContext(limits=limits))
    assert (decision.action, decision.quantity) == (RiskAction.RESIZE, 0.05)
    assert decision.reason == "resized to stay under the account's notional cap (3,400.00)"


def test_symbol_cap_resize_still_respects_the_account_cap() -> None:
    # The symbol may hold 5,000 but the account has only 2,000 of room: the tighter one binds.
    limits = RiskLimits(max_position_notional=5_000.0)
    ctx = FakeContext(limits=limits, equity_=1_000.0, notional_total=13_000.0)
    decision = PositionNotionalCheck().check(buy(0.1), ctx)
    assert (decision.action, decision.quantity) == (RiskAction.RESIZE, 0.029)
    assert decision.reason == "resized to stay under the account's notional cap (2,000.00)"


def test_notional_cap_vetoes_when_the_account_is_full() -> None:
    ctx = FakeContext(equity_=1_000.0, notional_total=15_000.0)
    decision = PositionNotionalCheck().check(buy(0.1), ctx)
    assert_veto(decision, "max_notional", "no room under the account's notional cap (0.00)")


def test_notional_cap_never_blocks_a_reducing_order() -> None:
    limits = RiskLimits(max_position_notional=1_000.0)
    ctx = FakeContext(limits=limits, position=-1.0, notional_total=68_000.0)
    assert_pass(PositionNotionalCheck().check(buy(1.0), ctx), 1.0)


# -- liquidation distance ---------------------------------------------------------------------


def binance_isolated_liq(side: int, qty: float, entry: float, leverage: float) -> float:
    """Binance's isolated liquidation price in the first bracket (MMR 0.4%, no cum)."""
    margin = qty * entry / leverage
    return (margin - side * qty * entry) / (qty * (0.004 - side))


def test_seed_example_10x_long_is_too_close_to_liquidation() -> None:
    # 0.1 BTC at 68,000 and 10x isolated: margin 680, liquidation at
    # (6,800 - 680) / (0.1 × 0.996) = 61,445.78, which is 9.64% below the entry.
    ctx = FakeContext(leverage_=10.0)
    decision = LiquidationDistanceCheck().check(buy(0.1), ctx)
    assert_veto(decision, "min_liquidation_distance", "Liquidation distance 9.64% < 15%")
    liq = 6_120.0 / 0.0996
    assert liq == pytest.approx(binance_isolated_liq(1, 0.1, 68_000.0, 10.0))
    assert decision.details == {
        "liquidation_price": pytest.approx(liq),
        "liquidation_distance": pytest.approx((68_000.0 - liq) / 68_000.0),
        "min_liquidation_distance": 0.15,
        "entry_price": 68_000.0,
        "leverage": 10.0,
    }
    assert decision.details["liquidation_price"] == pytest.approx(61_445.78, abs=0.01)


@pytest.mark.parametrize(
    ("side", "leverage", "distance", "passes"),
    [
        (1, 5.0, 0.196787, True),  # liq 54,618.47
        (1, 6.0, 0.163320, True),  # liq 56,894.91: 6.5x is the most that passes 15%
        (1, 7.0, 0.139414, False),  # liq 58,519.51
        (-1, 5.0, 0.195219, True),  # liq 81,274.90
        (-1, 7.0, 0.138303, False),  # liq 77,404.61
    ],
)
def test_liquidation_distance_at_several_leverages(
    side: int, leverage: float, distance: float, passes: bool
) -> None:
    intent = buy(0.1) if side > 0 else sell(0.1)
    decision = LiquidationDistanceCheck().check(intent, FakeContext(leverage_=leverage))
    liq = binance_isolated_liq(side, 0.1, 68_000.0, leverage)
    assert abs(68_000.0 - liq) / 68_000.0 == pytest.approx(distance, abs=1e-6)
    if passes:
        assert_pass(decision, 0.1)
    else:
        assert_veto(
            decision, "min_liquidation_distance", f"Liquidation distance {distance:.2%} < 15%"
        )
        assert decision.details["liquidation_price"] == pytest.approx(liq)


def test_liquidation_distance_uses_the_profile_minimum() -> None:
    # 10x (9.64%) passes the aggressive profile's 8% and fails the conservative 30%.
    aggressive = FakeContext(limits=AGGRESSIVE, leverage_=10.0)
    assert_pass(LiquidationDistanceCheck().check(buy(0.1), aggressive), 0.1)
    # Conservative, 30%: 3x (liq 68,000 × 2/3 / 0.996 = 45,515.39, 33.07%) passes and
    # 4x (liq 51,204.82, 24.70%) does not.
    conservative = limits_for("conservative")
    three = FakeContext(limits=conservative, leverage_=3.0)
    assert_pass(LiquidationDistanceCheck().check(buy(0.1), three), 0.1)
    four = FakeContext(limits=conservative, leverage_=4.0)
    assert_veto(
        LiquidationDistanceCheck().check(buy(0.1), four),
        "min_liquidation_distance",
        "Liquidation distance 24.70% < 30%",
    )


def test_cross_margin_backs_the_position_with_equity() -> None:
    # 10x cross with 10,000 of equity behind 6,800 of notional: never liquidated.
    ctx = FakeContext(leverage_=10.0, mode=MarginMode.CROSS, equity_=10_000.0)
    assert_pass(LiquidationDistanceCheck().check(buy(0.1), ctx), 0.1)


def test_liquidation_distance_skips_spot_and_reducing_orders() -> None:
    assert_pass(LiquidationDistanceCheck().check(buy(0.1, symbol=SPOT), FakeContext()), 0.1)
    ctx = FakeContext(leverage_=50.0, position=0.3)
    assert_pass(LiquidationDistanceCheck().check(sell(0.3), ctx), 0.3)


# -- instrument rules -------------------------------------------------------------------------


def test_instrument_rules_pass_a_clean_order() -> None:
    assert_pass(InstrumentRulesCheck().check(buy(0.1), FakeContext()), 0.1)


def test_instrument_rules_round_down_to_the_lot() -> None:
    decision = InstrumentRulesCheck().check(buy(0.1239), FakeContext())
    assert decision.action is RiskAction.RESIZE
    assert (decision.quantity, decision.rule) == (0.123, "instrument_rules")
    assert decision.reason == "rounded to the lot size"


def test_instrument_rules_veto_a_quantity_below_one_lot() -> None:
    assert_veto(
        InstrumentRulesCheck().check(buy(0.0004), FakeContext()),
        "instrument_rules",
        "quantity 0.0004 rounds to zero at lot size 0.001",
    )


def test_instrument_rules_veto_below_min_notional_except_reduce_only() -> None:
    assert_veto(
        InstrumentRulesCheck().check(buy(0.001), FakeContext()),
        "instrument_rules",
        "notional 68.00 is below the minimum 100.0",
    )
    ctx = FakeContext(position=0.001)
    assert_pass(InstrumentRulesCheck().check(sell(0.001, reduce_only=True), ctx), 0.001)


@pytest.mark.parametrize("quantity", [-0.5, 0.0, math.nan])
def test_instrument_rules_veto_a_non_positive_quantity(quantity: float) -> None:
    assert_veto(
        InstrumentRulesCheck().check(buy(quantity), FakeContext()),
        "instrument_rules",
        "quantity must be positive",
    )


# -- the chain --------------------------------------------------------------------------------


def test_default_chain_order() -> None:
    assert [c.name for c in RiskChain().checks] == [
        "trading_state",
        "max_drawdown",
        "daily_loss_limit",
        "max_open_orders",
        "max_leverage",
        "max_notional",
        "min_liquidation_distance",
        "instrument_rules",
    ]


def test_chain_passes_a_clean_order() -> None:
    intent = buy(0.1)
    assert_pass(RiskChain().evaluate(intent, FakeContext(leverage_=5.0)), 0.1)
    assert intent.quantity == 0.1


def test_seed_example_through_the_chain() -> None:
    # 15x: stopped by the leverage rule before the liquidation rule looks at it.
    decision = RiskChain().evaluate(buy(0.1), FakeContext(leverage_=15.0))
    assert decision.action is RiskAction.VETO
    assert decision.rule == "max_leverage"
    # 10x: allowed leverage, but liquidation 9.64% away is inside the balanced 15%.
    decision = RiskChain().evaluate(buy(0.1), FakeContext(leverage_=10.0))
    assert_veto(decision, "min_liquidation_distance", "Liquidation distance 9.64% < 15%")
    assert decision.details["liquidation_price"] == pytest.approx(61_445.78, abs=0.01)
    # 6x passes every check.
    assert_pass(RiskChain().evaluate(buy(0.1), FakeContext(leverage_=6.0)), 0.1)


def test_first_veto_wins() -> None:
    ctx = FakeContext(
        trading_state=TradingState.HALTED,
        leverage_=15.0,
        equity_=5_000.0,
        open_orders=50,
    )
    assert RiskChain().evaluate(buy(0.1), ctx).rule == "trading_state"
    ctx.trading_state = TradingState.ACTIVE
    assert RiskChain().evaluate(buy(0.1), ctx).rule == "max_drawdown"
    ctx.peak = 5_000.0
    assert RiskChain().evaluate(buy(0.1), ctx).rule == "daily_loss_limit"
    ctx.day_start = 5_000.0
    assert RiskChain().evaluate(buy(0.1), ctx).rule == "max_open_orders"
    ctx.open_orders = 0
    assert RiskChain().evaluate(buy(0.1), ctx).rule == "max_leverage"


def test_resizes_compound_and_the_last_one_is_reported() -> None:
    # Leverage: 0.2 → 0.147 (10,000 cap); then the symbol's 5,000 cap: 0.147 → 0.073.
    limits = RiskLimits(max_position_notional=5_000.0)
    ctx = FakeContext(limits=limits, leverage_=10.0, mode=MarginMode.CROSS, equity_=1_000.0)
    ctx.peak = ctx.day_start = 1_000.0
    intent = buy(0.2)
    decision = RiskChain().evaluate(intent, ctx)
    assert decision.action is RiskAction.RESIZE
    assert decision.quantity == 0.073
    assert decision.rule == "max_notional"
    assert decision.reason == "resized to stay under the symbol's notional cap (5,000.00)"
    assert decision.details == {"cap": 5_000.0, "requested": 0.147}
    assert intent.quantity == 0.073  # the order manager sends the resized intent


def test_lot_rounding_is_reported_as_a_resize() -> None:
    intent = buy(0.1239)
    decision = RiskChain().evaluate(intent, FakeContext())
    assert (decision.action, decision.quantity, decision.rule) == (
        RiskAction.RESIZE,
        0.123,
        "instrument_rules",
    )
    assert intent.quantity == 0.123


def test_a_veto_after_a_resize_restores_the_requested_quantity() -> None:
    # Leverage resizes 0.2 → 0.147, then the 10x isolated position is 9.64% from liquidation.
    ctx = FakeContext(leverage_=10.0, equity_=1_000.0, peak=1_000.0, day_start=1_000.0)
    intent = buy(0.2)
    decision = RiskChain().evaluate(intent, ctx)
    assert_veto(decision, "min_liquidation_distance", "Liquidation distance 9.64% < 15%")
    assert intent.quantity == 0.2


def test_reducing_orders_pass_a_halted_and_limit_breached_account() -> None:
    ctx = FakeContext(
        trading_state=TradingState.HALTED,
        position=0.5,
        leverage_=50.0,  # above the profile
        equity_=5_000.0,  # 50% drawdown and daily loss
        open_orders=20,  # at the limit
        notional_total=1e9,
        limits=RiskLimits(max_position_notional=100.0, max_total_notional=100.0),
    )
    for qty in (0.5, 0.2):
        intent = sell(qty, reduce_only=True, tag="exit")
        assert_pass(RiskChain().evaluate(intent, ctx), qty)
    stop = sell(0.5, type=OrderType.STOP_MARKET, trigger_price=60_000.0, reduce_only=True)
    stop.reference_price = 60_000.0
    assert_pass(RiskChain().evaluate(stop, ctx), 0.5)
    # More than the position would flip it: that is new risk.
    assert RiskChain().evaluate(sell(0.6), ctx).rule == "trading_state"
    assert RiskChain().evaluate(buy(0.1), ctx).rule == "trading_state"


def test_a_custom_chain_runs_only_its_checks_in_its_order() -> None:
    chain = RiskChain([InstrumentRulesCheck(), TradingStateCheck()])
    ctx = FakeContext(trading_state=TradingState.HALTED)
    assert chain.evaluate(buy(0.0001), ctx).rule == "instrument_rules"
    assert chain.evaluate(buy(0.1), ctx).rule == "trading_state"
    assert_pass(RiskChain([]).evaluate(buy(0.1), ctx), 0.1)


def test_adding_to_a_position_measures_liquidation_from_the_combined_entry() -> None:
    """A 6x long opened at 60,000 and enlarged at 68,000: the combined position's entry is
    64,000 and its margin what each part posted, so its liquidation price sits far below the
    68,000 mark (passes), while a fresh 6x position at 68,000 alone would sit closer."""
    inst = INSTRUMENTS[PERP]
    ctx = FakeContext(position=0.1, entry=60_000.0, margin=0.1 * 60_000.0 / 6, leverage_=6.0)
    check = LiquidationDistanceCheck()
    decision = check.check(buy(0.1), ctx)
    assert decision.action is RiskAction.PASS
    combined = liquidation_price(inst, 1, 0.2, 64_000.0, 0.2 * 64_000.0 / 6)
    fresh = liquidation_price(inst, 1, 0.2, 68_000.0, 0.2 * 68_000.0 / 6)
    assert combined < fresh
    # the same order on a position entered higher, at 75,000, comes too close
    ctx = FakeContext(position=0.1, entry=75_000.0, margin=0.1 * 75_000.0 / 6, leverage_=6.0)
    veto = check.check(buy(0.1), ctx)
    assert veto.action is RiskAction.VETO
    expected = liquidation_price(inst, 1, 0.2, 71_500.0, 0.2 * 71_500.0 / 6)
    assert veto.details["liquidation_price"] == pytest.approx(expected)
    assert veto.details["entry_price"] == pytest.approx(71_500.0)
