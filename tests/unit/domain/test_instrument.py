"""Instrument rules: rounding to tick and lot (with float noise), stop triggers that never round
past the asked level, affordable quantities within the balance, leverage bracket lookup at the
boundaries, symbol parts, order checks and refused definitions."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from axis.domain.catalog import instrument_for
from axis.domain.enums import Exchange, MarketType, OrderSide
from axis.domain.instrument import (
    Instrument,
    InstrumentError,
    LeverageBracket,
    brackets_from_tiers,
    ceil_to_step,
    floor_to_step,
    nearest_step,
    step_decimals,
)

BTC_PERP = instrument_for("BTC/USDT:USDT")  # Binance: tick 0.1, lot 0.001, min notional 100
BTC_SPOT = instrument_for("BTC/USDT")  # tick 0.01, lot 0.00001, min notional 5

TICKS = [0.1, 0.01, 0.5, 0.0001, 5.0, 0.25, 1e-8]


def spot(
    tick: float = 0.1,
    lot: float = 0.001,
    *,
    min_qty: float = 0.0,
    min_notional: float = 0.0,
    contract_size: float = 1.0,
    taker_fee: float = 0.0004,
) -> Instrument:
    return Instrument(
        "X/USDT",
        Exchange.BINANCE,
        MarketType.SPOT,
        tick,
        lot,
        min_qty=min_qty,
        min_notional=min_notional,
        contract_size=contract_size,
        taker_fee=taker_fee,
    )


# -- step helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "decimals"), [(0.1, 1), (0.001, 3), (5.0, 0), (1.0, 0), (0.25, 2), (1e-8, 8)]
)
def test_step_decimals(step: float, decimals: int) -> None:
    assert step_decimals(step) == decimals


@pytest.mark.parametrize(
    ("value", "step", "down", "up", "nearest"),
    [
        # 100.3 / 0.1 is 1002.9999999999999: a naive floor gives 100.2.
        (100.3, 0.1, 100.3, 100.3, 100.3),
        # 0.3 / 0.1 is 2.9999999999999996 and 0.7 / 0.1 is 6.999999999999999.
        (0.3, 0.1, 0.3, 0.3, 0.3),
        (0.7, 0.1, 0.7, 0.7, 0.7),
        # 1.15 / 0.05 is 22.999999999999996.
        (1.15, 0.05, 1.15, 1.15, 1.15),
        # 0.57 / 0.01 is 56.99999999999999; ceil must not bump it to 0.58.
        (0.57, 0.01, 0.57, 0.57, 0.57),
        (100.34, 0.1, 100.3, 100.4, 100.3),
        (100.36, 0.1, 100.3, 100.4, 100.4),
        (68_001.3, 5.0, 68_000.0, 68_005.0, 68_000.0),
        (0.000123456, 1e-8, 0.00012345, 0.00012346, 0.00012346),
    ],
)
def test_rounding_helpers_with_float_noise(
    value: float, step: float, down: float, up: float, nearest: float
) -> None:
    assert floor_to_step(value, step) == down
    assert ceil_to_step(value, step) == up
    assert nearest_step(value, step) == nearest


@given(st.integers(min_value=1, max_value=10**11), st.sampled_from(TICKS))
def test_values_on_the_grid_round_to_themselves(k: int, step: float) -> None:
    value = round(k * step, step_decimals(step))
    assert floor_to_step(value, step) == value
    assert ceil_to_step(value, step) == value
    assert nearest_step(value, step) == value


@given(
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from(TICKS),
)
def test_floor_and_ceil_bracket_the_value_within_one_step(value: float, step: float) -> None:
    assume(value / step < 1e12)  # beyond that float64 cannot tell the grid points apart
    down, up = floor_to_step(value, step), ceil_to_step(value, step)
    slack = max(step, value) * 2e-12  # the float-noise snap: 1e-12 of the step count
    assert down <= value + slack
    assert up >= value - slack
    assert value - down < step + slack
    assert up - value < step + slack


def test_rounding_keeps_large_lot_counts_on_the_grid() -> None:
    # Above ~2**24 steps the float noise in value / step exceeds any fixed absolute slack:
    # 376.78328 / 0.00001 must still snap to 37,678,328 lots, not lose one.
    assert BTC_SPOT.round_qty(376.78328) == 376.78328
    assert floor_to_step(2_097_153.3, 0.1) == 2_097_153.3
    assert BTC_SPOT.check_order(376.78328, 68_000.0) is None


# -- prices and quantities --------------------------------------------------------------------


def test_round_qty_rounds_down_and_drops_the_sign() -> None:
    assert BTC_PERP.round_qty(0.0019999) == 0.001
    assert BTC_PERP.round_qty(0.003) == 0.003  # 0.003 / 0.001 is 2.9999999999999996
    assert BTC_PERP.round_qty(-0.1237) == 0.123
    assert BTC_PERP.round_qty(0.0009) == 0.0
    assert BTC_SPOT.round_qty(0.123456789) == 0.12345


def test_round_price_to_nearest_tick() -> None:
    assert BTC_PERP.round_price(68_000.04) == 68_000.0
    assert BTC_PERP.round_price(68_000.06) == 68_000.1
    assert BTC_PERP.round_price(100.3) == 100.3


def test_limit_prices_never_round_to_a_worse_price() -> None:
    assert BTC_PERP.round_limit_price(68_000.06, OrderSide.BUY) == 68_000.0
    assert BTC_PERP.round_limit_price(68_000.06, OrderSide.SELL) == 68_000.1
    # Already on the tick despite float noise: unchanged for both sides.
    assert BTC_PERP.round_limit_price(100.3, OrderSide.BUY) == 100.3
    assert BTC_PERP.round_limit_price(100.3, OrderSide.SELL) == 100.3


def test_stop_prices_fire_no_later_than_asked() -> None:
    # A long's sell stop below the market rounds up; a short's buy stop above rounds down.
    assert BTC_PERP.round_stop_price(58_803.626, OrderSide.SELL) == 58_803.7
    assert BTC_PERP.round_stop_price(71_203.774, OrderSide.BUY) == 71_203.7
    assert BTC_PERP.round_stop_price(100.3, OrderSide.SELL) == 100.3
    assert BTC_PERP.round_stop_price(100.3, OrderSide.BUY) == 100.3


@given(
    st.floats(min_value=0.01, max_value=200_000.0, allow_nan=False),
    st.sampled_from([0.1, 0.01, 0.5, 0.0001, 5.0]),
    st.sampled_from(list(OrderSide)),
)
@example(100.3, 0.1, OrderSide.SELL)
@example(100.3, 0.1, OrderSide.BUY)
@example(58_803.626, 0.1, OrderSide.SELL)
def test_stop_rounding_never_passes_the_trigger(price: float, tick: float, side: OrderSide) -> None:
    inst = spot(tick=tick)
    rounded = inst.round_stop_price(price, side)
    slack = max(tick, price) * 2e-12
    if side is OrderSide.SELL:  # price falls to a sell stop: a higher level is reached sooner
        assert rounded >= price - slack
        assert rounded - price < tick + slack
    else:  # price rises to a buy stop: a lower level is reached sooner
        assert rounded <= price + slack
        assert price - rounded < tick + slack
    # The result lies on the tick grid.
    assert rounded == round(round(rounded / tick) * tick, step_decimals(tick))


# -- affordable quantity ----------------------------------------------------------------------


def test_affordable_qty_worked_example() -> None:
    # 10,000 USDT at 68,000 and 10x with the 0.05% taker fee: 68,000 × (0.1 + 0.0005) = 6,834
    # per contract → 1.4632... → 1.463 contracts.
    qty = BTC_PERP.affordable_qty(10_000.0, 68_000.0, leverage=10.0)
    assert qty == 1.463
    assert qty * 68_000.0 * (0.1 + 0.0005) <= 10_000.0
    assert BTC_PERP.affordable_qty(10_000.0, 68_000.0, leverage=10.0, fee_rate=0.0) == 1.47
    assert BTC_PERP.affordable_qty(0.0, 68_000.0) == 0.0
    assert BTC_PERP.affordable_qty(-5.0, 68_000.0) == 0.0
    assert BTC_PERP.affordable_qty(100.0, 0.0) == 0.0


@given(
    balance=st.floats(min_value=1.0, max_value=1e8, allow_nan=False),
    price=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
    leverage=st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 125.0]),
    fee=st.sampled_from([0.0, 0.0004, 0.0005, 0.001]),
    lot=st.sampled_from([1.0, 0.1, 0.001, 0.00001]),
    contract_size=st.sampled_from([1.0, 0.01, 10.0]),
)
def test_affordable_qty_fits_the_balance_and_is_the_largest_lot_multiple(
    balance: float, price: float, leverage: float, fee: float, lot: float, contract_size: float
) -> None:
    inst = spot(lot=lot, contract_size=contract_size)
    qty = inst.affordable_qty(balance, price, leverage=leverage, fee_rate=fee)
    per_contract = contract_size * price * (1.0 / leverage + fee)
    assume(balance / per_contract / lot < 1e12)  # float64 resolution of the lot count
    # Never above the balance (the venue's own margin check allows 1e-12 of float slack) ...
    assert qty * per_contract <= balance * (1.0 + 1e-12)
    # ... a whole number of lots ...
    assert qty == floor_to_step(qty, lot)
    # ... and one lot more would not fit.
    assert (qty + lot) * per_contract > balance * (1.0 - 1e-12)


def test_affordable_qty_never_rounds_up_across_a_lot_boundary() -> None:
    # A real shortfall of 1e-10 of the cost is not float noise: it must not round up a lot.
    inst = spot(lot=0.001, taker_fee=0.0)
    balance = 0.0049999999995  # 4.9999999995 lots at 1.0 per contract
    qty = inst.affordable_qty(balance, 1.0)
    assert qty * 1.0 <= balance
    assert qty == 0.004


# -- leverage brackets ------------------------------------------------------------------------


def test_bracket_lookup_at_the_boundaries() -> None:
    # Binance BTCUSDT: 125x below 50,000; 100x from 50,000 (a floor belongs to its tier).
    assert BTC_PERP.bracket_for(0.0).max_leverage == 125.0
    assert BTC_PERP.bracket_for(49_999.99).max_leverage == 125.0
    at_cap = BTC_PERP.bracket_for(50_000.0)
    assert (at_cap.notional_floor, at_cap.max_leverage, at_cap.maint_margin_rate) == (
        50_000.0,
        100.0,
        0.005,
    )
    assert at_cap.maint_amount == pytest.approx(50.0)
    assert BTC_PERP.bracket_for(-60_000.0).max_leverage == 100.0  # a short's signed notional
    assert BTC_PERP.bracket_for(250_000.0).max_leverage == 50.0
    assert BTC_PERP.max_leverage_for(12_000_000.0) == 10.0
    # Beyond the last cap, the last bracket still applies.
    assert BTC_PERP.bracket_for(1e12) is BTC_PERP.brackets[-1]
    assert BTC_PERP.max_leverage_for(1e12) == 1.0


def test_max_notional_for_a_leverage() -> None:
    assert BTC_PERP.max_notional_for(125.0) == 50_000.0
    assert BTC_PERP.max_notional_for(100.0) == 250_000.0
    assert BTC_PERP.max_notional_for(10.0) == 20_000_000.0
    assert BTC_PERP.max_notional_for(11.0) == 10_000_000.0
    assert BTC_PERP.max_notional_for(126.0) == 0.0


def test_spot_has_one_unlimited_1x_bracket() -> None:
    bracket = BTC_SPOT.bracket_for(1e9)
    assert bracket == LeverageBracket(0.0, math.inf, 1.0, 0.0, 0.0)
    assert BTC_SPOT.max_leverage_for(10.0) == 1.0


def test_brackets_from_tiers_keep_maintenance_margin_continuous() -> None:
    brackets = brackets_from_tiers([(10_000.0, 75.0, 0.0065), (50_000.0, 50.0, 0.01)])
    assert brackets[0] == LeverageBracket(0.0, 10_000.0, 75.0, 0.0065, 0.0)
    assert brackets[1].notional_floor == 10_000.0
    assert brackets[1].maint_amount == pytest.approx(35.0)
    at_floor = brackets[1].notional_floor
    assert brackets[0].maintenance_margin(at_floor) == pytest.approx(
        brackets[1].maintenance_margin(at_floor)
    )


# -- symbol parts and notional ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "base", "quote", "settle", "perpetual"),
    [
        ("BTC/USDT:USDT", "BTC", "USDT", "USDT", True),
        ("BTC/USDT", "BTC", "USDT", "USDT", False),
        ("ETH/BTC", "ETH", "BTC", "BTC", False),
        ("XRP/USDT:USDT", "XRP", "USDT", "USDT", True),
    ],
)
def test_symbol_parts(symbol: str, base: str, quote: str, settle: str, perpetual: bool) -> None:
    inst = instrument_for(symbol, reference_price=1.0)
    assert (inst.base, inst.quote, inst.settle, inst.is_perpetual) == (
        base,
        quote,
        settle,
        perpetual,
    )


def test_notional_uses_contract_size_and_absolute_quantity() -> None:
    inst = Instrument(
        "ETH/USDT:USDT",
        Exchange.OKX,
        MarketType.LINEAR_PERPETUAL,
        0.01,
        1.0,
        contract_size=0.1,
        brackets=brackets_from_tiers([(1e9, 100.0, 0.004)]),
    )
    assert inst.notional(-3.0, 2_000.0) == pytest.approx(600.0)


# -- check_order ------------------------------------------------------------------------------


def test_check_order_messages() -> None:
    inst = spot(tick=0.01, lot=0.001, min_qty=0.002, min_notional=10.0)
    assert inst.check_order(0.005, 2_500.0) is None
    assert inst.check_order(0.0, 2_500.0) == "quantity must be positive"
    assert inst.check_order(-0.005, 2_500.0) == "quantity must be positive"
    assert inst.check_order(0.0015, 2_500.0) == (
        "quantity 0.0015 is not a multiple of the lot size 0.001"
    )
    assert inst.check_order(0.001, 2_500.0) == "quantity 0.001 is below the minimum 0.002"
    assert inst.check_order(0.003, 2_500.0) == "notional 7.50 is below the minimum 10.0"
    # A reduce-only order may close any remainder: no minimum notional for it.
    assert inst.check_order(0.003, 2_500.0, reduce_only=True) is None
    # Float noise on a lot multiple is not a lot-size error.
    assert inst.check_order(0.1 + 0.2, 2_500.0) is None


def test_check_order_on_the_binance_btc_perpetual() -> None:
    assert BTC_PERP.check_order(0.002, 68_000.0) is None
    assert BTC_PERP.check_order(0.001, 68_000.0) == "notional 68.00 is below the minimum 100.0"
    assert BTC_PERP.check_order(0.001, 68_000.0, reduce_only=True) is None


# -- bad definitions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick", "lot", "contract_size"),
    [(0.0, 0.001, 1.0), (-0.1, 0.001, 1.0), (0.1, 0.0, 1.0), (0.1, 0.001, 0.0)],
)
def test_non_positive_sizes_are_refused(tick: float, lot: float, contract_size: float) -> None:
    with pytest.raises(InstrumentError, match="tick, lot and contract size must be positive"):
        spot(tick=tick, lot=lot, contract_size=contract_size)


def test_perpetual_needs_brackets() -> None:
    with pytest.raises(InstrumentError, match="a perpetual needs leverage brackets"):
        Instrument("BTC/USDT:USDT", Exchange.BINANCE, MarketType.LINEAR_PERPETUAL, 0.1, 0.001)


def test_brackets_must_be_contiguous() -> None:
    gap = (
        LeverageBracket(0.0, 50_000.0, 125.0, 0.004),
        LeverageBracket(60_000.0, 250_000.0, 100.0, 0.005, 50.0),
    )
    with pytest.raises(InstrumentError, match="leverage brackets must be contiguous"):
        Instrument(
            "BTC/USDT:USDT", Exchange.BINANCE, MarketType.LINEAR_PERPETUAL, 0.1, 0.001, brackets=gap
        )


def test_instrument_error_is_a_value_error() -> None:
    assert issubclass(InstrumentError, ValueError)
