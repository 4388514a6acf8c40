"""The order state machine: every legal transition, illegal ones raising, fills accumulating
average price and fees, over-fills refused, and the price/trigger each order type needs."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from axis.domain.enums import OrderSide, OrderType
from axis.domain.orders import Order, OrderStateError, OrderStatus

S = OrderStatus


def make_order(
    order_type: OrderType = OrderType.LIMIT,
    quantity: float = 1.0,
    price: float | None = 100.0,
    trigger_price: float | None = None,
) -> Order:
    return Order(
        "axis-0000000001",
        "BTC/USDT:USDT",
        OrderSide.BUY,
        order_type,
        quantity,
        price=price,
        trigger_price=trigger_price,
    )


def order_in(status: OrderStatus) -> Order:
    """An order of quantity 1.0 driven along legal transitions into ``status``."""
    order = make_order()
    if status is S.NEW:
        return order
    if status is S.REJECTED:
        order.reject("no")
        return order
    order.submit()
    if status is S.SUBMITTED:
        return order
    if status is S.FILLED:
        order.apply_fill(1.0, 100.0, 0.04)
        return order
    if status is S.PARTIALLY_FILLED:
        order.apply_fill(0.4, 100.0, 0.016)
        return order
    if status is S.CANCELLED:
        order.cancel()
        return order
    order.expire()
    return order


# Each legal transition: (from, action, to). The action takes the order and performs it.
Action = Callable[[Order], None]


def _submit(o: Order) -> None:
    o.submit()


def _reject(o: Order) -> None:
    o.reject("insufficient margin")


def _cancel(o: Order) -> None:
    o.cancel()


def _expire(o: Order) -> None:
    o.expire()


def _fill_part(o: Order) -> None:
    o.apply_fill(0.25, 101.0, 0.01)


def _fill_rest(o: Order) -> None:
    o.apply_fill(o.leaves_qty, 101.0, 0.01)


LEGAL: list[tuple[OrderStatus, Action, OrderStatus]] = [
    (S.NEW, _submit, S.SUBMITTED),
    (S.NEW, _reject, S.REJECTED),
    (S.SUBMITTED, _fill_part, S.PARTIALLY_FILLED),
    (S.SUBMITTED, _fill_rest, S.FILLED),
    (S.SUBMITTED, _cancel, S.CANCELLED),
    (S.SUBMITTED, _reject, S.REJECTED),
    (S.SUBMITTED, _expire, S.EXPIRED),
    (S.PARTIALLY_FILLED, _fill_part, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, _fill_rest, S.FILLED),
    (S.PARTIALLY_FILLED, _cancel, S.CANCELLED),
    (S.PARTIALLY_FILLED, _expire, S.EXPIRED),
]


@pytest.mark.parametrize(
    ("start", "action", "end"),
    LEGAL,
    ids=[f"{a.value}-{f.__name__.strip('_')}-{b.value}" for a, f, b in LEGAL],
)
def test_legal_transition(start: OrderStatus, action: Action, end: OrderStatus) -> None:
    order = order_in(start)
    history_before = list(order.history)
    action(order)
    assert order.status is end
    assert order.history == [*history_before, start]


ILLEGAL: list[tuple[OrderStatus, Action]] = [
    (S.NEW, _cancel),
    (S.NEW, _expire),
    (S.NEW, _fill_part),
    (S.SUBMITTED, _submit),
    (S.PARTIALLY_FILLED, _submit),
    (S.PARTIALLY_FILLED, _reject),
    (S.FILLED, _submit),
    (S.FILLED, _cancel),
    (S.FILLED, _expire),
    (S.FILLED, _reject),
    (S.CANCELLED, _submit),
    (S.CANCELLED, _cancel),
    (S.CANCELLED, _fill_part),
    (S.CANCELLED, _expire),
    (S.REJECTED, _submit),
    (S.REJECTED, _reject),
    (S.REJECTED, _cancel),
    (S.REJECTED, _fill_part),
    (S.EXPIRED, _submit),
    (S.EXPIRED, _fill_part),
    (S.EXPIRED, _cancel),
]


@pytest.mark.parametrize(
    ("start", "action"),
    ILLEGAL,
    ids=[f"{a.value}-{f.__name__.strip('_')}" for a, f in ILLEGAL],
)
def test_illegal_transition_raises_and_changes_nothing(start: OrderStatus, action: Action) -> None:
    order = order_in(start)
    before = (
        order.status,
        list(order.history),
        order.filled_qty,
        order.avg_fill_price,
        order.fees,
        order.reject_reason,
    )
    with pytest.raises(OrderStateError, match="axis-0000000001"):
        action(order)
    after = (
        order.status,
        list(order.history),
        order.filled_qty,
        order.avg_fill_price,
        order.fees,
        order.reject_reason,
    )
    assert after == before


def test_illegal_transition_message_names_both_states() -> None:
    order = order_in(S.CANCELLED)
    with pytest.raises(OrderStateError, match="illegal transition cancelled -> submitted"):
        order.submit()


def test_status_open_and_terminal_sets() -> None:
    assert {s for s in S if s.is_open} == {S.NEW, S.SUBMITTED, S.PARTIALLY_FILLED}
    assert {s for s in S if s.is_terminal} == {S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}
    assert order_in(S.PARTIALLY_FILLED).is_open
    assert not order_in(S.EXPIRED).is_open


def test_reject_records_the_reason() -> None:
    order = order_in(S.SUBMITTED)
    order.reject("max_leverage: leverage 15x exceeds the allowed 10x")
    assert order.status is S.REJECTED
    assert order.reject_reason == "max_leverage: leverage 15x exceeds the allowed 10x"
    assert order.history == [S.NEW, S.SUBMITTED]


# -- fills ------------------------------------------------------------------------------------


def test_fills_accumulate_average_price_and_fees() -> None:
    order = make_order(quantity=1.0, price=101.0)
    order.submit()
    order.apply_fill(0.25, 100.0, 0.010)
    assert order.status is S.PARTIALLY_FILLED
    assert order.leaves_qty == pytest.approx(0.75)
    order.apply_fill(0.25, 102.0, 0.020)
    assert order.status is S.PARTIALLY_FILLED
    assert order.avg_fill_price == pytest.approx(101.0)
    order.apply_fill(0.5, 104.0, 0.030)
    assert order.status is S.FILLED
    # (0.25*100 + 0.25*102 + 0.5*104) / 1.0
    assert order.avg_fill_price == pytest.approx(102.5)
    assert order.filled_qty == pytest.approx(1.0)
    assert order.fees == pytest.approx(0.060)
    assert order.leaves_qty == 0.0
    assert order.history == [S.NEW, S.SUBMITTED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED]


def test_fill_dust_from_float_sums_completes_the_order() -> None:
    # 0.1 + 0.2 is 0.30000000000000004: the order of 0.3 must end FILLED, not refuse the fill.
    order = make_order(quantity=0.3)
    order.submit()
    order.apply_fill(0.1, 100.0, 0.0)
    order.apply_fill(0.2, 100.0, 0.0)
    assert order.status is S.FILLED
    assert order.leaves_qty == 0.0


def test_fill_within_dust_of_the_rest_is_accepted() -> None:
    # 0.7 left after 0.3 of 1.0; a venue reporting 0.7000000000000001 is the same quantity.
    order = make_order(quantity=1.0)
    order.submit()
    order.apply_fill(0.3, 100.0, 0.0)
    order.apply_fill(0.7000000000000001, 100.0, 0.0)
    assert order.status is S.FILLED


def test_overfill_raises_and_leaves_the_order_unchanged() -> None:
    order = make_order(quantity=1.0)
    order.submit()
    order.apply_fill(0.6, 100.0, 0.01)
    with pytest.raises(OrderStateError, match=r"fill of 0\.5 exceeds the 0\.4 left"):
        order.apply_fill(0.5, 100.0, 0.01)
    assert order.status is S.PARTIALLY_FILLED
    assert order.filled_qty == pytest.approx(0.6)
    assert order.fees == pytest.approx(0.01)


def test_fill_of_a_filled_order_raises() -> None:
    order = order_in(S.FILLED)
    with pytest.raises(OrderStateError, match="exceeds"):
        order.apply_fill(0.001, 100.0, 0.0)
    assert order.filled_qty == 1.0


@pytest.mark.parametrize("quantity", [0.0, -0.1, math.nan])
def test_fill_quantity_must_be_positive(quantity: float) -> None:
    order = order_in(S.SUBMITTED)
    with pytest.raises(OrderStateError, match="fill quantity must be positive"):
        order.apply_fill(quantity, 100.0, 0.0)
    assert order.status is S.SUBMITTED
    assert order.filled_qty == 0.0


@pytest.mark.parametrize("price", [-5.0, math.nan])
def test_fill_price_must_be_a_price(price: float) -> None:
    order = order_in(S.SUBMITTED)
    with pytest.raises(OrderStateError, match=f"fill price {price} is invalid"):
        order.apply_fill(0.5, price, 0.0)
    assert order.status is S.SUBMITTED
    assert order.filled_qty == 0.0
    assert order.avg_fill_price == 0.0


def test_fill_of_a_cancelled_order_raises_without_counting_it() -> None:
    # A venue reporting a fill for a cancelled order is a bug to surface; the order's figures
    # must still say what really happened before it.
    order = order_in(S.PARTIALLY_FILLED)
    order.cancel()
    with pytest.raises(OrderStateError, match="cancelled -> "):
        order.apply_fill(0.1, 120.0, 0.5)
    assert order.filled_qty == pytest.approx(0.4)
    assert order.avg_fill_price == pytest.approx(100.0)
    assert order.fees == pytest.approx(0.016)


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_type", "price", "trigger"),
    [
        (OrderType.MARKET, None, None),
        (OrderType.LIMIT, 100.0, None),
        (OrderType.STOP_MARKET, None, 95.0),
        (OrderType.STOP_LIMIT, 94.5, 95.0),
        (OrderType.TAKE_PROFIT, None, 110.0),
    ],
)
def test_valid_orders_per_type(
    order_type: OrderType, price: float | None, trigger: float | None
) -> None:
    order = make_order(order_type, price=price, trigger_price=trigger)
    assert order.status is S.NEW
    assert order.is_stop is (trigger is not None)


@pytest.mark.parametrize(
    ("order_type", "price", "trigger", "message"),
    [
        (OrderType.LIMIT, None, None, "a limit needs a price"),
        (OrderType.LIMIT, 0.0, None, "a limit needs a price"),
        (OrderType.LIMIT, -1.0, None, "a limit needs a price"),
        (OrderType.LIMIT, math.nan, None, "a limit needs a price"),
        (OrderType.STOP_LIMIT, None, 95.0, "a stop_limit needs a price"),
        (OrderType.STOP_LIMIT, 94.5, None, "a stop_limit needs a trigger price"),
        (OrderType.STOP_MARKET, None, None, "a stop_market needs a trigger price"),
        (OrderType.STOP_MARKET, None, 0.0, "a stop_market needs a trigger price"),
        (OrderType.STOP_MARKET, None, math.nan, "a stop_market needs a trigger price"),
        (OrderType.TAKE_PROFIT, None, None, "a take_profit needs a trigger price"),
        (OrderType.TAKE_PROFIT, None, -3.0, "a take_profit needs a trigger price"),
    ],
)
def test_missing_or_bad_price_or_trigger_is_refused(
    order_type: OrderType, price: float | None, trigger: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_order(order_type, price=price, trigger_price=trigger)


@pytest.mark.parametrize("quantity", [0.0, -1.0, math.nan])
def test_quantity_must_be_positive(quantity: float) -> None:
    with pytest.raises(ValueError, match="quantity must be positive"):
        make_order(OrderType.MARKET, quantity=quantity, price=None)
