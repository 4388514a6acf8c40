"""The wire format round-trips every venue object exactly, and the event log numbers, keeps
and replays events by cursor."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.domain.catalog import instrument_for
from axis.domain.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from axis.domain.orders import Fill, Order
from axis.gateway import wire
from axis.gateway.events import EventLog
from axis.venues.base import BalanceReport, FundingEvent, LiquidationEvent, PositionReport

prices = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False)


def roundtrip(data: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(data))


@given(
    qty=prices,
    price=prices,
    filled=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    kind=st.sampled_from(list(OrderType)),
    tif=st.sampled_from(list(TimeInForce)),
    reduce_only=st.booleans(),
)
def test_orders_round_trip_with_their_state(
    qty: float, price: float, filled: float, kind: OrderType, tif: TimeInForce, reduce_only: bool
) -> None:
    order = Order(
        "cid-1",
        "BTC/USDT:USDT",
        OrderSide.SELL,
        kind,
        qty,
        price=price,
        trigger_price=price,
        time_in_force=tif,
        reduce_only=reduce_only,
        tag="entry",
        created_at=1_700_000_000_000,
    )
    order.submit()
    if filled > 0:
        order.apply_fill(qty * filled, price, 0.01)
    order.exchange_order_id = "88"
    decoded = wire.decode_order(roundtrip(wire.encode_order(order)))
    assert decoded == order


def test_a_bare_request_decodes_as_a_new_order() -> None:
    order = wire.decode_order(
        {"clientOrderId": "a", "symbol": "BTC/USDT", "side": "buy", "type": "market", "quantity": 1}
    )
    assert order.status.value == "new"
    assert order.time_in_force is TimeInForce.GTC


def test_reports_and_events_round_trip() -> None:
    fill = Fill("c", "BTC/USDT:USDT", OrderSide.BUY, 0.5, 100.5, 0.02, LiquiditySide.MAKER, 5, "t")
    assert wire.decode_fill(roundtrip(wire.encode_fill(fill))) == fill
    position = PositionReport("BTC/USDT:USDT", -2.0, 100.0, 5.0, "cross", None, -1.5, 101.0)
    assert wire.decode_position(roundtrip(wire.encode_position(position))) == position
    balance = BalanceReport("USDT", 10.0, 7.0, 3.0)
    assert wire.decode_balance(roundtrip(wire.encode_balance(balance))) == balance
    funding = FundingEvent("BTC/USDT:USDT", 8, 0.0001, 100.0, -0.2)
    assert wire.decode_funding(roundtrip(wire.encode_funding(funding))) == funding
    liq = LiquidationEvent("BTC/USDT:USDT", 9, "long", 1.0, 90.0, 89.5, -10.0)
    assert wire.decode_liquidation(roundtrip(wire.encode_liquidation(liq))) == liq
    for symbol in ("BTC/USDT:USDT", "ETH/USDT"):
        instrument = instrument_for(symbol)
        # strict JSON: the infinite top tier must not need a non-standard token
        text = json.dumps(wire.encode_instrument(instrument), allow_nan=False)
        assert wire.decode_instrument(json.loads(text)) == instrument


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": "1"}, "quantity: expected a number"),
        ({"quantity": True}, "quantity: expected a number"),
        ({"type": "iceberg"}, "type: 'iceberg' is not a valid OrderType"),
        ({"type": "limit", "price": None}, "a limit needs a price"),
        ({"symbol": 5}, "symbol: expected a string"),
    ],
)
def test_a_bad_order_names_the_field(change: dict[str, object], message: str) -> None:
    data = {
        "clientOrderId": "a",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "market",
        "quantity": 1,
        **change,
    }
    with pytest.raises(wire.WireError, match=message):
        wire.decode_order(data)


def _update(log: EventLog, cid: str) -> None:
    order = Order(cid, "BTC/USDT", OrderSide.BUY, OrderType.MARKET, 1.0)
    order.submit()
    log.on_order_update(order)


def test_the_event_log_replays_by_cursor_and_reports_gaps() -> None:
    log = EventLog(window=3)
    for i in range(5):
        _update(log, f"o-{i}")
    assert log.seq == 5
    assert log.since(log.epoch, -1).events == []  # "from now on"
    replay = log.since(log.epoch, 3)
    assert [seq for seq, _ in replay.events] == [4, 5]
    assert not replay.gap
    assert json.loads(replay.events[0][1])["order"]["clientOrderId"] == "o-3"
    stale = log.since(log.epoch, 1)  # events 2 is gone (the window keeps 3..5)
    assert [seq for seq, _ in stale.events] == [3, 4, 5]
    assert stale.gap
    assert log.since(log.epoch, 2).gap is False
    assert log.since(log.epoch, 5).events == []
    restarted = log.since("another-run", 4)
    assert restarted.gap
    assert [seq for seq, _ in restarted.events] == [3, 4, 5]
    assert [seq for seq, _ in log.after(4)] == [5]


def test_the_event_log_scrubs_what_it_keeps() -> None:
    log = EventLog(lambda text: text.replace("SECRETVALUE", "***"))
    order = Order("c", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, 1.0)
    order.reject("bad signature SECRETVALUE")
    log.on_order_update(order)
    ((_, text),) = log.after(0)
    assert "SECRETVALUE" not in text
    assert "bad signature ***" in text
