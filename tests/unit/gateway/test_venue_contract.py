"""The LiveVenue contract, run against the venue directly and through the gateway: the worker
must not be able to tell an in-process venue from a GatewayVenue (same events with the same
order objects, same query answers, same errors)."""

from __future__ import annotations

from typing import Any

import pytest

from axis.domain.catalog import instrument_for
from axis.domain.enums import OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.gateway import wire
from axis.venues.errors import (
    BadSymbol,
    ExchangeFailure,
    NotSupported,
    OrderRejected,
    RateLimited,
    RejectKind,
    VenueUnavailable,
)

from .conftest import ALT, PERP, Harness

pytestmark = pytest.mark.asyncio


def market(cid: str, side: OrderSide = OrderSide.BUY, qty: float = 0.01, **kw: Any) -> Order:
    return Order(cid, kw.pop("symbol", PERP), side, OrderType.MARKET, qty, **kw)


def limit(cid: str, price: float, side: OrderSide = OrderSide.BUY, qty: float = 0.01) -> Order:
    return Order(cid, PERP, side, OrderType.LIMIT, qty, price=price)


async def test_market_order_is_acknowledged_then_filled_on_the_callers_object(
    harness: Harness,
) -> None:
    order = market("m-1")
    harness.venue.submit(order)
    events = await harness.recorder.wait_for(1)
    assert events[0][0] == "order"
    assert events[0][1]["status"] == "submitted"
    harness.exchange.step()
    events = await harness.recorder.wait_for(2)
    kind, state, fill = events[1]
    assert kind == "fill"
    assert state["status"] == "filled"
    assert state["filledQty"] == pytest.approx(0.01)
    assert fill["clientOrderId"] == "m-1"
    assert fill["liquidity"] == "taker"
    # The listener was handed the submitted object itself, brought to the venue's state.
    assert all(o is order for o in harness.recorder.orders)
    assert order.status is OrderStatus.FILLED
    assert order.history == [OrderStatus.NEW, OrderStatus.SUBMITTED]
    assert order.avg_fill_price == pytest.approx(fill["price"])


async def test_resting_limit_order_is_listed_and_cancelled(harness: Harness) -> None:
    order = limit("l-1", 30_000.0)
    harness.venue.submit(order)
    await harness.recorder.wait_for(1)
    harness.exchange.step()
    assert [o.client_order_id for o in harness.venue.open_orders()] == ["l-1"]
    remote = await harness.venue.fetch_open_orders(PERP)
    assert [wire.encode_order(o) for o in remote] == [wire.encode_order(order)]
    assert await harness.venue.fetch_open_orders(ALT) == []
    harness.venue.cancel("l-1")
    events = await harness.recorder.wait_for(2)
    assert events[1][1]["status"] == "cancelled"
    assert order.status is OrderStatus.CANCELLED
    assert harness.venue.open_orders() == []
    fetched = await harness.venue.fetch_order(PERP, "l-1")
    assert fetched is not None
    assert fetched.status is OrderStatus.CANCELLED
    assert await harness.venue.fetch_order(PERP, "no-such-order") is None
    assert await harness.venue.fetch_order(ALT, "l-1") is None


async def test_order_for_an_unknown_market_is_rejected_with_the_reason(harness: Harness) -> None:
    order = market("x-1", symbol="DOGE/USDT:USDT")
    harness.venue.submit(order)
    events = await harness.recorder.wait_for(1)
    assert events[0][1]["status"] == "rejected"
    assert order.status is OrderStatus.REJECTED
    assert "unknown symbol DOGE/USDT:USDT" in order.reject_reason


async def test_positions_balances_and_trades_after_fills(harness: Harness) -> None:
    harness.venue.submit(market("p-1", qty=0.02))
    harness.venue.submit(market("p-2", OrderSide.SELL, qty=0.5, symbol=ALT))
    await harness.recorder.wait_for(2)
    harness.exchange.step()
    await harness.recorder.wait_for(4)
    positions = {p.symbol: p for p in await harness.venue.fetch_positions()}
    assert positions[PERP].quantity == pytest.approx(0.02)
    assert positions[ALT].quantity == pytest.approx(-0.5)
    assert positions[PERP].margin_mode == "isolated"
    assert positions[PERP].mark_price is not None
    (balance,) = await harness.venue.fetch_balances()
    assert balance.currency == "USDT"
    assert balance.used > 0
    assert balance.free == pytest.approx(balance.total - balance.used)
    trades = await harness.venue.fetch_my_trades(PERP)
    fills = [e[2] for e in harness.recorder.events if e[0] == "fill" and e[2]["symbol"] == PERP]
    assert [wire.encode_fill(t) for t in trades] == fills
    later = trades[0].timestamp + 1
    assert await harness.venue.fetch_my_trades(PERP, since_ms=later) == []


async def test_funding_reaches_the_listener(harness: Harness) -> None:
    harness.venue.submit(market("f-1"))
    await harness.recorder.wait_for(1)
    for _ in range(12):  # funding settles at the bar on the 8h boundary (bar 10)
        harness.exchange.step()
    events = await harness.recorder.wait_for(3)
    funding = [e[1] for e in events if e[0] == "funding"]
    assert len(funding) == 1
    assert funding[0]["symbol"] == PERP
    assert funding[0]["amount"] < 0


async def test_instrument_matches_the_exchange(harness: Harness) -> None:
    instrument = await harness.venue.instrument(PERP)
    assert instrument == instrument_for(PERP)
    with pytest.raises(BadSymbol, match="unknown symbol SOL/USDT"):
        await harness.venue.instrument("SOL/USDT")


async def test_leverage_and_margin_mode_change_only_while_flat(harness: Harness) -> None:
    await harness.venue.set_leverage(PERP, 5.0)
    await harness.venue.set_margin_mode(PERP, "cross")
    harness.venue.submit(market("lv-1"))
    await harness.recorder.wait_for(1)
    harness.exchange.step()
    await harness.recorder.wait_for(2)
    (position,) = await harness.venue.fetch_positions()
    assert position.leverage == 5.0
    assert position.margin_mode == "cross"
    with pytest.raises(ExchangeFailure, match="only change while the position is flat"):
        await harness.venue.set_leverage(PERP, 10.0)
    with pytest.raises(ExchangeFailure, match="only change while the position is flat"):
        await harness.venue.set_margin_mode(PERP, "isolated")


async def test_a_failing_exchange_call_raises_the_same_error(harness: Harness) -> None:
    harness.exchange.fail_next(
        "fetch_balances", VenueUnavailable("exchange did not answer", timeout=True)
    )
    with pytest.raises(VenueUnavailable, match="exchange did not answer") as caught:
        await harness.venue.fetch_balances()
    assert caught.value.timeout is True
    assert caught.value.retryable is True
    assert await harness.venue.fetch_balances()  # the next call goes through
    harness.exchange.fail_next("fetch_positions", RateLimited("slow down", retry_after=1.5))
    with pytest.raises(RateLimited) as throttled:
        await harness.venue.fetch_positions()
    assert throttled.value.retry_after == 1.5
    rejection = OrderRejected("margin is short", RejectKind.INSUFFICIENT_FUNDS)
    harness.exchange.fail_next("set_leverage", rejection)
    with pytest.raises(OrderRejected) as rejected:
        await harness.venue.set_leverage(PERP, 2.0)
    assert rejected.value.kind is RejectKind.INSUFFICIENT_FUNDS
    assert rejected.value.reason == "insufficient_funds: margin is short"


async def test_market_data_as_the_exchange_has_it(harness: Harness) -> None:
    for _ in range(3):
        harness.exchange.step()
    bars = await harness.venue.fetch_ohlcv(PERP, "5m")
    assert len(bars) == 3
    assert bars[0].symbol == PERP
    assert bars[0].timeframe == "5m"
    assert await harness.venue.fetch_ohlcv(PERP, "5m", since_ms=bars[1].timestamp) == bars[1:]
    assert await harness.venue.fetch_ohlcv(PERP, "5m", limit=1) == bars[:1]
    closed = bars[2].timestamp  # the third bar has not closed by its own open
    assert await harness.venue.fetch_ohlcv(PERP, "5m", closed_before_ms=closed) == bars[:2]
    ticker = await harness.venue.fetch_ticker(PERP)
    assert ticker.last == bars[-1].close
    funding = await harness.venue.fetch_funding_rate(PERP)
    assert funding.rate == pytest.approx(0.0001)
    with pytest.raises(NotSupported, match="not 1h"):
        await harness.venue.fetch_ohlcv(PERP, "1h")


async def test_the_venue_is_healthy_once_connected(harness: Harness) -> None:
    assert harness.venue.healthy()
