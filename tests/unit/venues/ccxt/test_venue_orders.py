"""Orders through the venue on recorded payloads: placement with our client order id in each
exchange's own field, cancels, leverage and margin mode, the requests compared with ccxt's
recorded requests, and faults injected at the HTTP layer (timeouts, 429, 5xx, malformed JSON,
a lost create reply)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import RecordingListener, SleepLog
from recorded import (
    RecordedExchange,
    Reply,
    compare_request,
    connection_reset,
    malformed_json,
    request_entry,
    response_entry,
    server_error,
    timeout,
    too_many_requests,
)

from axis.domain.enums import OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.venues.ccxt_venue import CcxtVenue
from axis.venues.errors import OrderStateUnknown, RateLimited, VenueUnavailable

pytestmark = pytest.mark.asyncio

CLIENT_ID = "trend-BTC-0000000042"


def _order(
    symbol: str, kind: str, side: str, amount: float, price: float | None = None, **kw: Any
) -> Order:
    return Order(CLIENT_ID, symbol, OrderSide(side), OrderType(kind), amount, price=price, **kw)


# -- placement on the recorded create replies --------------------------------------------------

# The recorded createOrder reply of each exchange, and an order of ours that fits the markets
# file (binance's recorded SOL/USDT is not listed; okx's 0.01 is below its lot of 0.1).
CREATE = {
    "binance": (0, _order("LTC/USDT", "limit", "buy", 0.05, 241.0)),
    "okx": (0, _order("BTC/USDT:USDT", "market", "buy", 1.0)),
    "gate": (0, _order("人生K线/USDT:USDT", "market", "buy", 100.0)),
    "bybit": (1, _order("LTC/USDT", "limit", "buy", 0.1, 60.0)),
}
CLIENT_FIELD = {
    "binance": ("newClientOrderId", CLIENT_ID),
    "okx": ("clOrdId", "trendBTC0000000042"),
    "gate": ("text", "t-" + CLIENT_ID[-26:]),
    "bybit": ("orderLinkId", CLIENT_ID),
}


def _sent_field(request: Any, field: str) -> str | None:
    import json
    from urllib.parse import parse_qsl

    if field in request.query:
        return str(request.query[field])
    body = request.body or ""
    try:
        data = json.loads(body)
    except ValueError:
        return dict(parse_qsl(body)).get(field)
    if isinstance(data, list):
        data = data[0]
    value = data.get(field)
    return None if value is None else str(value)


async def test_place_sends_our_client_id_and_acknowledges(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    index, template = CREATE[recorded.exchange_id]
    entry = response_entry(recorded.exchange_id, "createOrder", index)
    recorded.http.serve(entry["httpResponse"])
    order = _order(
        template.symbol, template.type.value, template.side.value, template.quantity, template.price
    )
    await venue.place(order)

    creates = [r for r in recorded.http.requests if r.method == "POST"]
    assert len(creates) == 1
    field, value = CLIENT_FIELD[recorded.exchange_id]
    assert _sent_field(creates[0], field) == value
    parsed = entry["parsedResponse"]
    assert order.exchange_order_id == parsed["id"]
    assert listener.updates[0] == (CLIENT_ID, OrderStatus.SUBMITTED)
    if parsed["status"] == "closed":  # gate's market order came back filled
        assert order.status is OrderStatus.FILLED
        assert [(f.quantity, f.price) for f in listener.fills] == [
            (parsed["filled"], pytest.approx(parsed["average"]))
        ]
    else:
        assert order.status is OrderStatus.SUBMITTED
        assert venue.open_orders() == [order]


@pytest.mark.parametrize("exchange_id", ["gate"])
async def test_cancel_applies_the_exchange_state(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    entry = recorded.serve_recorded("cancelOrder")
    parsed = entry["parsedResponse"]
    order = _order("LTC/USDT:USDT", "limit", "buy", 1.0, 81.0)
    order.submit()
    order.exchange_order_id = parsed["id"]
    venue.orders[CLIENT_ID] = order
    venue.cancel(CLIENT_ID)
    await venue.drain()
    assert order.status is OrderStatus.CANCELLED
    assert listener.updates == [(CLIENT_ID, OrderStatus.CANCELLED)]
    (sent,) = recorded.http.requests
    assert sent.method == "DELETE"
    assert parsed["id"] in sent.path


# -- requests compared with ccxt's recorded requests -------------------------------------------

REQUESTS: list[tuple[str, str, list[Any]]] = [
    ("binance", "createOrder", ["LTC/USDT:USDT", "limit", "buy", 0.1, 55]),
    ("binance", "createOrder", ["LTC/USDT", "limit", "buy", 0.2, 50]),
    ("okx", "createOrder", ["LTC/USDT", "limit", "buy", 2, 50]),
    ("bybit", "createOrder", ["ADA/USDT:USDT", "limit", "buy", 50, 0.1]),
    ("bybit", "createOrder", ["LTC/USDT", "limit", "buy", 0.1, 60, {"postOnly": True}]),
    ("binance", "createOrder", ["LTC/USDT:USDT", "limit", "buy", 0.2, 60, {"reduceOnly": True}]),
    ("binance", "cancelOrder", ["", "BTC/USDT:USDT", {"clientOrderId": "myswap"}]),
    ("binance", "setLeverage", [5, "LTC/USDT:USDT"]),
    ("gate", "setLeverage", [5, "LTC/USDT:USDT"]),
    ("bybit", "setLeverage", [6, "LTC/USDT:USDT"]),
    ("okx", "setLeverage", [5, "LTC/USDT:USDT"]),
    ("binance", "setMarginMode", ["CROSS", "BTC/USDT:USDT"]),
    ("bybit", "setMarginMode", ["isolated", "BTC/USDT:USDT"]),
    ("okx", "setMarginMode", ["isolated", "ADA/USDT:USDT", {"leverage": 10}]),
    ("binance", "fetchOHLCV", ["BTC/USDT:USDT", "1m", 1699381234000, 5]),
    ("bybit", "fetchOHLCV", ["BTC/USDT", "1h", None, 5]),
    ("okx", "fetchOrderBook", ["BTC/USDT:USDT", 5]),
    ("binance", "fetchTicker", ["BTC/USDT:USDT"]),
    ("gate", "fetchMyTrades", ["LTC/USDT:USDT", 1699457638000, 5]),
    ("bybit", "fetchMyTrades", ["LTC/USDT:USDT"]),
    ("okx", "fetchOpenOrders", ["ADA/USDT:USDT"]),
    ("gate", "fetchOpenOrders", ["LTC/USDT:USDT"]),
    ("okx", "fetchPositions", []),
    ("bybit", "fetchBalance", []),
    ("okx", "fetchBalance", []),
    ("binance", "fetchFundingRate", ["BTC/USDT:USDT"]),
    ("gate", "fetchFundingRate", ["BTC/USDT:USDT"]),
    ("gate", "fetchFundingRateHistory", ["BTC/USDT:USDT"]),
    ("binance", "fetchFundingRateHistory", ["BTC/USDT:USDT"]),
]


async def _call_venue(venue: CcxtVenue, method: str, args: list[Any]) -> None:
    """The venue call that makes ccxt's ``method(*args)`` request."""
    params = args[-1] if args and isinstance(args[-1], dict) else {}
    if method == "createOrder":
        symbol, kind, side, amount, price = args[:5]
        from axis.domain.enums import TimeInForce

        tif = TimeInForce.POST_ONLY if params.get("postOnly") else TimeInForce.GTC
        order = _order(
            symbol,
            kind,
            side,
            float(amount),
            price,
            time_in_force=tif,
            reduce_only=bool(params.get("reduceOnly")),
        )
        await venue.place(order)
    elif method == "cancelOrder":
        order = Order(
            params["clientOrderId"], args[1], OrderSide.BUY, OrderType.LIMIT, 1.0, price=1.0
        )
        order.submit()
        venue.orders[order.client_order_id] = order
        await venue.cancel_order(order)
    elif method == "setLeverage":
        await venue.set_leverage(args[1], args[0])
    elif method == "setMarginMode":
        if "leverage" in params:
            venue._leverage[args[1]] = params["leverage"]  # known from an earlier set_leverage
        await venue.set_margin_mode(args[1], args[0].lower())
    elif method == "fetchOHLCV":
        await venue.fetch_ohlcv(*args)
    elif method == "fetchOrderBook":
        await venue.fetch_order_book(*args)
    elif method == "fetchTicker":
        await venue.fetch_ticker(*args)
    elif method == "fetchMyTrades":
        await venue.fetch_my_trades(*args[:3])
    elif method == "fetchOpenOrders":
        await venue.fetch_open_orders(*args)
    elif method == "fetchPositions":
        await venue.fetch_positions()
    elif method == "fetchBalance":
        await venue.fetch_balances()
    elif method == "fetchFundingRate":
        await venue.fetch_funding_rate(*args)
    elif method == "fetchFundingRateHistory":
        await venue.fetch_funding_rate_history(*args)
    else:  # pragma: no cover - the table above lists only these
        raise AssertionError(method)


@pytest.mark.parametrize(
    ("exchange_id", "method", "args"),
    REQUESTS,
    ids=[f"{e}-{m}-{i}" for i, (e, m, _) in enumerate(REQUESTS)],
)
async def test_requests_match_recorded(
    venue: CcxtVenue, recorded: RecordedExchange, method: str, args: list[Any]
) -> None:
    entry = request_entry(recorded.exchange_id, method, args)
    recorded.http.serve(Reply(None, status=599))  # the reply is not the point: stop there
    with contextlib.suppress(Exception):
        await _call_venue(venue, method, args)
    path = urlsplit(entry["url"]).path
    sent = [r for r in recorded.http.requests if r.path == path]
    assert sent, f"no request to {path}: {[r.url for r in recorded.http.requests]}"
    compare_request(recorded.exchange_id, entry, sent[0], venue.profile.client_id_param)


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", ["binance", "okx", "gate", "bybit"])
@pytest.mark.parametrize("fault", [timeout, connection_reset, server_error, malformed_json])
async def test_queries_retry_transient_faults(
    venue: CcxtVenue, recorded: RecordedExchange, sleeps: SleepLog, fault: Any
) -> None:
    entry = recorded.serve_recorded("fetchTicker")
    recorded.http.then(fault())
    ticker = await venue.fetch_ticker(entry["input"][0])
    assert ticker.last == entry["parsedResponse"]["last"]
    assert len(recorded.http.requests) == 2
    assert len(sleeps.delays) == 1
    assert sleeps.delays[0] > 0


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_faults_past_the_retry_budget_surface_as_unavailable(
    venue: CcxtVenue, recorded: RecordedExchange, sleeps: SleepLog
) -> None:
    recorded.http.serve(server_error(503).body, status=503)
    with pytest.raises(VenueUnavailable):
        await venue.fetch_ticker("BTC/USDT")
    assert len(recorded.http.requests) == venue.retry.attempts
    assert len(sleeps.delays) == venue.retry.attempts - 1
    assert all(0 < d <= venue.retry.max_delay for d in sleeps.delays)
    assert not venue.healthy()


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_rate_limit_honours_retry_after(
    venue: CcxtVenue, recorded: RecordedExchange, sleeps: SleepLog
) -> None:
    entry = recorded.serve_recorded("fetchTicker")
    recorded.http.then(too_many_requests(retry_after=7))
    await venue.fetch_ticker(entry["input"][0])
    assert venue.limiter.penalties == 1
    # The account's limiter held the retry (and anyone else) for the 7 s the exchange asked.
    assert venue.limiter.waits == 1
    assert sleeps.now >= 7
    assert len(recorded.http.requests) == 2


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_rate_limit_past_the_budget_raises_rate_limited(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    limited = too_many_requests(retry_after=2)
    recorded.http.serve(limited.body, status=429, headers=limited.headers)
    with pytest.raises(RateLimited) as raised:
        await venue.fetch_ticker("BTC/USDT")
    assert raised.value.retry_after == 2


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_rate_limited_create_is_retried_with_the_same_client_id(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    recorded.serve_recorded("createOrder")
    recorded.http.then(too_many_requests(retry_after=1))
    order = _order("LTC/USDT", "limit", "buy", 0.05, 241.0)
    await venue.place(order)
    creates = [r for r in recorded.http.requests if r.method == "POST"]
    assert [_sent_field(r, "newClientOrderId") for r in creates] == [CLIENT_ID, CLIENT_ID]
    assert order.status is OrderStatus.SUBMITTED


# The recorded order each exchange answers a lookup by client order id with.
LOOKUP = {"binance": ("fetchOrder", 0), "okx": ("fetchOrder", 0), "bybit": ("fetchClosedOrders", 0)}


@pytest.mark.parametrize("exchange_id", ["binance", "okx", "bybit"])
@pytest.mark.parametrize("fault", [timeout, connection_reset, server_error, malformed_json])
async def test_lost_create_reply_is_resolved_by_client_id_never_resent(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener, fault: Any
) -> None:
    method, index = LOOKUP[recorded.exchange_id]
    found = response_entry(recorded.exchange_id, method, index)
    parsed = found["parsedResponse"]
    raw = parsed[0] if isinstance(parsed, list) else parsed
    recorded.http.serve(found["httpResponse"])
    await venue.instrument(raw["symbol"])  # loaded before: the next request is the create
    recorded.http.then(fault())  # the create itself: sent, reply lost
    order = Order(CLIENT_ID, raw["symbol"], OrderSide(raw["side"]), OrderType.MARKET, raw["amount"])
    venue.submit(order)
    await venue.drain()

    creates = [r for r in recorded.http.requests if r.method == "POST"]
    assert len(creates) == 1  # never re-sent
    lookups = recorded.http.requests[recorded.http.requests.index(creates[0]) + 1 :]
    field, value = CLIENT_FIELD[recorded.exchange_id]
    lookup_field = {"binance": "origClientOrderId"}.get(recorded.exchange_id, field)
    assert _sent_field(lookups[0], lookup_field) == value
    assert order.status is OrderStatus.FILLED
    assert order.exchange_order_id == raw["id"]
    assert listener.updates[0] == (CLIENT_ID, OrderStatus.SUBMITTED)
    assert [f.quantity for f in listener.fills] == [raw["filled"]]
    assert venue.in_flight == {}


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_lost_reply_of_an_order_the_exchange_never_got_rejects_it(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    recorded.http.serve({"code": -2013, "msg": "Order does not exist."}, status=400)
    recorded.http.then(timeout())
    order = _order("LTC/USDT", "limit", "buy", 0.05, 241.0)
    await venue.place(order)
    assert len([r for r in recorded.http.requests if r.method == "POST"]) == 1
    assert order.status is OrderStatus.REJECTED
    assert "not received" in order.reject_reason
    assert venue.in_flight == {}


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_unreachable_after_a_lost_reply_leaves_the_order_in_flight(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    recorded.http.default = timeout()
    order = _order("LTC/USDT", "market", "sell", 0.1)
    with pytest.raises(OrderStateUnknown):
        await venue.place(order)
    assert venue.in_flight == {CLIENT_ID: order}
    assert order.status is OrderStatus.NEW
    assert len([r for r in recorded.http.requests if r.method == "POST"]) == 1
    # Later the exchange answers: reconciliation resolves the order.
    recorded.serve_recorded("fetchOrder")
    await venue.resolve_in_flight()
    assert venue.in_flight == {}
    assert order.status is OrderStatus.FILLED


REJECTIONS = [
    ({"code": -2019, "msg": "Margin is insufficient."}, "insufficient_funds"),
    ({"code": -2022, "msg": "ReduceOnly Order is rejected."}, "reduce_only"),
    ({"code": -1013, "msg": "Filter failure: PRICE_FILTER"}, "invalid_order"),
]


@pytest.mark.parametrize("exchange_id", ["binance"])
@pytest.mark.parametrize(("reply", "kind"), REJECTIONS)
async def test_exchange_refusals_reject_the_order_with_the_reason(
    venue: CcxtVenue,
    recorded: RecordedExchange,
    listener: RecordingListener,
    reply: dict[str, Any],
    kind: str,
) -> None:
    recorded.http.serve(reply, status=400)
    order = _order("LTC/USDT:USDT", "limit", "sell", 0.1, 55.0, reduce_only=True)
    await venue.place(order)
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason.startswith(kind)
    assert listener.updates == [(CLIENT_ID, OrderStatus.REJECTED)]
    # A refusal is never retried.
    assert len([r for r in recorded.http.requests if r.method == "POST"]) == 1


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_duplicate_client_id_on_create_resolves_to_the_existing_order(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    # A restarted worker re-sends an order the exchange already has under our id.
    recorded.serve_recorded("fetchOrder")
    recorded.http.then(Reply({"code": -4116, "msg": "ClientOrderId is duplicated."}, status=400))
    order = _order("LTC/USDT", "market", "sell", 0.1)
    await venue.place(order)
    assert len([r for r in recorded.http.requests if r.method == "POST"]) == 1
    assert order.status is OrderStatus.FILLED
    assert [f.quantity for f in listener.fills] == [0.1]


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_stop_orders_carry_their_trigger(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    args = ["LTC/USDT:USDT", "limit", "sell", 0.21, 50, {"stopLossPrice": 51}]
    entry = request_entry("binance", "createOrder", args)
    recorded.http.serve(Reply(None, status=599))
    await venue.instrument("LTC/USDT:USDT")
    recorded.http.requests.clear()
    order = Order(
        CLIENT_ID,
        "LTC/USDT:USDT",
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        0.21,
        price=50.0,
        trigger_price=51.0,
    )
    with contextlib.suppress(Exception):
        await venue.place(order)
    sent = recorded.http.requests[0]
    # ccxt moves our id to the algo-order field: still ours, under the exchange's name for it.
    compare_request("binance", entry, sent, "newClientOrderId", frozenset({"clientAlgoId"}))
    assert _sent_field(sent, "clientAlgoId") == CLIENT_ID


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_order_stream_resolves_an_in_flight_order(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    recorded.http.default = timeout()
    order = _order("LTC/USDT", "market", "sell", 0.1)
    with pytest.raises(OrderStateUnknown):
        await venue.place(order)
    # The exchange's order stream reports the order under our client id.
    raw = {
        "id": "77",
        "clientOrderId": CLIENT_ID,
        "symbol": "LTC/USDT",
        "status": "closed",
        "type": "market",
        "side": "sell",
        "amount": 0.1,
        "filled": 0.1,
        "average": 90.8,
    }
    assert venue.apply_exchange_order(raw) is order
    assert venue.in_flight == {}
    assert order.status is OrderStatus.FILLED
    requests_before = len(recorded.http.requests)
    await venue.resolve_in_flight()  # nothing left to resolve: no request
    assert len(recorded.http.requests) == requests_before
