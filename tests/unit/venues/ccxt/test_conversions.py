"""The pure conversions between ccxt's unified structures and our domain types."""

from __future__ import annotations

import math
from typing import Any

import pytest

from axis.domain.enums import OrderSide, OrderType, TimeInForce
from axis.domain.orders import OrderStatus
from axis.venues.ccxt_venue import (
    brackets_from_ccxt_tiers,
    closed_bars,
    fee_in_quote,
    order_from_ccxt,
    position_from_ccxt,
)


@pytest.mark.parametrize(
    ("fee", "expected"),
    [
        ({"cost": 0.5, "currency": "USDT"}, 0.5),
        ({"cost": 0.001, "currency": "LTC"}, 0.05),  # base-currency fee at the fill price 50
        ({"cost": 0.01, "currency": "BNB"}, 0.0),
        (None, 0.0),
    ],
)
@pytest.mark.parametrize("symbol", ["LTC/USDT", "LTC/USDT:USDT"])
def test_fees_are_kept_in_the_quote_currency(
    fee: dict[str, Any] | None, expected: float, symbol: str
) -> None:
    assert fee_in_quote(fee, symbol, 50.0) == pytest.approx(expected)


ORDER = {"id": "9", "symbol": "BTC/USDT:USDT", "side": "sell", "amount": 2.0, "timestamp": 5}


@pytest.mark.parametrize(
    ("raw", "kind", "price", "trigger"),
    [
        ({"type": "limit", "price": 100.0}, OrderType.LIMIT, 100.0, None),
        ({"type": "market"}, OrderType.MARKET, None, None),
        ({"type": "stop_market", "triggerPrice": 90.0}, OrderType.STOP_MARKET, None, 90.0),
        ({"type": "STOP", "price": 89.0, "triggerPrice": 90.0}, OrderType.STOP_LIMIT, 89.0, 90.0),
        (
            {"type": "stop_limit", "price": 89.0, "stopPrice": 90.0},
            OrderType.STOP_LIMIT,
            89.0,
            90.0,
        ),
        ({"type": "take_profit_market", "triggerPrice": 120.0}, OrderType.TAKE_PROFIT, None, 120.0),
    ],
)
def test_order_types_from_ccxt(
    raw: dict[str, Any], kind: OrderType, price: float | None, trigger: float | None
) -> None:
    order = order_from_ccxt({**ORDER, **raw, "status": "open", "filled": 0.0}, "axis-1")
    assert order is not None
    assert (order.type, order.price, order.trigger_price) == (kind, price, trigger)
    assert order.side is OrderSide.SELL


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("open", 0.0, OrderStatus.SUBMITTED),
        ("open", 0.5, OrderStatus.PARTIALLY_FILLED),
        ("closed", 2.0, OrderStatus.FILLED),
        ("closed", 1.5, OrderStatus.CANCELLED),  # closed short of full
        ("canceled", 0.0, OrderStatus.CANCELLED),
        ("expired", 0.0, OrderStatus.EXPIRED),
        ("rejected", 0.0, OrderStatus.REJECTED),
    ],
)
def test_order_status_from_ccxt(status: str, filled: float, expected: OrderStatus) -> None:
    raw = {**ORDER, "type": "limit", "price": 1.0, "status": status, "filled": filled}
    order = order_from_ccxt(raw, "axis-1")
    assert order is not None
    assert order.status is expected
    assert order.filled_qty == filled


def test_post_only_and_ioc_from_ccxt() -> None:
    raw = {**ORDER, "type": "limit", "price": 1.0, "status": "open", "filled": 0.0}
    post_only = order_from_ccxt({**raw, "postOnly": True}, "a")
    ioc = order_from_ccxt({**raw, "timeInForce": "IOC"}, "b")
    assert post_only is not None
    assert post_only.time_in_force is TimeInForce.POST_ONLY
    assert ioc is not None
    assert ioc.time_in_force is TimeInForce.IOC


def test_an_order_without_size_is_skipped() -> None:
    assert order_from_ccxt({**ORDER, "amount": None, "filled": None, "status": "open"}, "a") is None


def test_positions_are_signed_and_empty_ones_dropped() -> None:
    short = position_from_ccxt(
        {
            "symbol": "BTC/USDT:USDT",
            "contracts": 3,
            "side": "short",
            "entryPrice": 100,
            "leverage": 5,
            "marginMode": "isolated",
            "liquidationPrice": 120,
        }
    )
    assert short is not None
    assert (short.quantity, short.leverage, short.margin_mode) == (-3, 5, "isolated")
    assert short.liquidation_price == 120
    assert position_from_ccxt({"symbol": "BTC/USDT:USDT", "contracts": 0}) is None


def test_brackets_from_tiers_are_contiguous_with_binance_cum() -> None:
    tiers = [
        {
            "minNotional": 50000,
            "maxNotional": 250000,
            "maxLeverage": 100,
            "maintenanceMarginRate": 0.005,
        },
        {
            "minNotional": 0,
            "maxNotional": 50000,
            "maxLeverage": 125,
            "maintenanceMarginRate": 0.004,
        },
        {
            "minNotional": 250000,
            "maxNotional": None,
            "maxLeverage": 50,
            "maintenanceMarginRate": 0.01,
        },
    ]
    brackets = brackets_from_ccxt_tiers(tiers, {})
    assert [(b.notional_floor, b.notional_cap) for b in brackets] == [
        (0, 50000),
        (50000, 250000),
        (250000, math.inf),
    ]
    assert [b.maint_amount for b in brackets] == pytest.approx([0, 50, 1300])


@pytest.mark.parametrize("reply", [[], {"BTC/USDT:USDT": []}, None, ["tier", 3]])
def test_without_usable_tiers_one_bracket_at_the_market_maximum(reply: object) -> None:
    market = {"limits": {"leverage": {"max": 75}}}
    (bracket,) = brackets_from_ccxt_tiers(reply, market)
    assert (bracket.notional_floor, bracket.notional_cap) == (0.0, math.inf)
    assert bracket.max_leverage == 75
    assert bracket.maint_margin_rate == pytest.approx(0.5 / 75)


def test_closed_bars_sorted_deduplicated_and_forming_held_back() -> None:
    minute = 60_000
    rows = [
        [2 * minute, 3, 3, 3, 3, 1],
        [0, 1, 1, 1, 1, 1],
        [minute, 2, 2, 2, 2, 1],
        [minute, 2, 2, 2, 2.5, 1],
    ]
    bars = closed_bars("BTC/USDT", "1m", rows, now_ms=2 * minute + 10)
    assert [(b.timestamp, b.close) for b in bars] == [(0, 1.0), (minute, 2.5)]
