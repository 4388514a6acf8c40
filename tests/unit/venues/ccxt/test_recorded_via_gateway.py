"""The recorded-payload venue tests again, with the CcxtVenue behind a gateway on loopback and
the tests talking to a GatewayVenue: the same answers from the same recorded exchanges, and
the same order events, requests and refusals as the venue gives in-process.

The query tests of ``test_venue_recorded`` are collected here a second time with ``venue``
overridden; the order flow, which the in-process tests drive through CcxtVenue's own
``place``/``drain``, is checked here with ``submit`` both in-process and through the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
import test_venue_recorded as in_process
from conftest import ONE_WAY_REPLY, RecordingListener, SleepLog, make_venue
from recorded import RecordedExchange, response_entry, timeout

from axis.domain.enums import OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.gateway import create_gateway_app
from axis.gateway.server import InProcessServer
from axis.venues.ccxt_venue import CcxtVenue
from axis.venues.errors import BadSymbol
from axis.venues.gateway import GatewayVenue

pytestmark = pytest.mark.asyncio

# Every query test of the in-process module, collected again against the gateway's client.
globals().update(
    {name: getattr(in_process, name) for name in dir(in_process) if name[:5] == "test_"}
)


class Through:
    """A CcxtVenue served by an in-process gateway, and the GatewayVenue that reaches it."""

    def __init__(self, inner: CcxtVenue, recorded: RecordedExchange) -> None:
        self.inner = inner
        app = create_gateway_app(
            inner, connector="recorded", exchange=recorded.exchange_id, probe_interval_s=3600
        )
        self.events = app.state.gateway.events
        self.server = InProcessServer(app)
        self.client = GatewayVenue("http://127.0.0.1:0", name="recorded")

    async def start(self, listener: RecordingListener) -> None:
        await self.server.start()
        self.client = GatewayVenue(self.server.url, name="recorded")
        await self.client.connect(listener)

    async def drain(self) -> None:
        """Wait until the gateway's venue has finished every call and the client has heard
        every event it produced."""
        async with asyncio.timeout(5):
            await self.client.drain()  # the client's calls have been answered
            await self.inner.drain()  # and the exchange venue has finished them
            while self.client._seq < self.events.seq:
                await asyncio.sleep(0.002)

    async def stop(self) -> None:
        await self.client.close()
        await self.server.stop()


@pytest_asyncio.fixture
async def venue(
    recorded: RecordedExchange, listener: RecordingListener, sleeps: SleepLog
) -> AsyncIterator[GatewayVenue]:
    """Overrides the in-process ``venue``: the same recorded exchange, behind the gateway."""
    recorded.http.serve(ONE_WAY_REPLY[recorded.exchange_id])
    through = Through(make_venue(recorded, sleeps), recorded)
    await through.start(listener)
    recorded.http.requests.clear()
    yield through.client
    await through.stop()


@pytest_asyncio.fixture(params=["direct", "gateway"])
async def placing(
    request: pytest.FixtureRequest, recorded: RecordedExchange, listener: RecordingListener
) -> AsyncIterator[tuple[Any, Callable[[], Awaitable[None]]]]:
    """(venue, drain): the CcxtVenue itself, or the GatewayVenue in front of it."""
    recorded.http.serve(ONE_WAY_REPLY[recorded.exchange_id])
    inner = make_venue(recorded, SleepLog())
    if request.param == "direct":
        await inner.connect(listener)
        recorded.http.requests.clear()
        yield inner, inner.drain
        await inner.close()
        return
    through = Through(inner, recorded)
    await through.start(listener)
    recorded.http.requests.clear()
    yield through.client, through.drain
    await through.stop()


CLIENT_ID = "trend-BTC-0000000042"
CREATE = {  # the recorded create reply of each exchange, and an order that fits its markets
    "binance": (0, ("LTC/USDT", OrderType.LIMIT, 0.05, 241.0), ("newClientOrderId", CLIENT_ID)),
    "okx": (0, ("BTC/USDT:USDT", OrderType.MARKET, 1.0, None), ("clOrdId", "trendBTC0000000042")),
    "gate": (
        0,
        ("人生K线/USDT:USDT", OrderType.MARKET, 100.0, None),
        ("text", "t-" + CLIENT_ID[-26:]),
    ),
    "bybit": (1, ("LTC/USDT", OrderType.LIMIT, 0.1, 60.0), ("orderLinkId", CLIENT_ID)),
}


def _sent(request: Any, field: str) -> str | None:
    import json
    from urllib.parse import parse_qsl

    if field in request.query:
        return str(request.query[field])
    try:
        data = json.loads(request.body or "")
    except ValueError:
        return dict(parse_qsl(request.body or "")).get(field)
    data = data[0] if isinstance(data, list) else data
    return None if data.get(field) is None else str(data[field])


async def test_submit_places_our_client_id_and_reports_the_exchanges_answer(
    placing: tuple[Any, Callable[[], Awaitable[None]]],
    recorded: RecordedExchange,
    listener: RecordingListener,
) -> None:
    venue, drain = placing
    index, (symbol, kind, amount, price), (field, value) = CREATE[recorded.exchange_id]
    entry = response_entry(recorded.exchange_id, "createOrder", index)
    await venue.instrument(symbol)  # markets and tiers first: the next request is the create
    recorded.http.requests.clear()
    recorded.http.serve(entry["httpResponse"])
    order = Order(CLIENT_ID, symbol, OrderSide.BUY, kind, amount, price=price)
    venue.submit(order)
    await drain()
    creates = [r for r in recorded.http.requests if r.method == "POST"]
    assert len(creates) == 1
    assert _sent(creates[0], field) == value
    parsed = entry["parsedResponse"]
    assert order.exchange_order_id == parsed["id"]  # on the caller's own object
    assert listener.updates[0] == (CLIENT_ID, OrderStatus.SUBMITTED)
    if parsed["status"] == "closed":
        assert order.status is OrderStatus.FILLED
        assert [f.quantity for f in listener.fills] == [parsed["filled"]]
    else:
        assert order.status is OrderStatus.SUBMITTED
        assert [o.client_order_id for o in venue.open_orders()] == [CLIENT_ID]


@pytest.mark.parametrize("exchange_id", ["binance"])
@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ({"code": -2019, "msg": "Margin is insufficient."}, "insufficient_funds"),
        ({"code": -2022, "msg": "ReduceOnly Order is rejected."}, "reduce_only"),
    ],
)
async def test_an_exchange_refusal_rejects_the_order_with_the_reason(
    placing: tuple[Any, Callable[[], Awaitable[None]]],
    recorded: RecordedExchange,
    listener: RecordingListener,
    reply: dict[str, Any],
    kind: str,
) -> None:
    venue, drain = placing
    recorded.http.serve(reply, status=400)
    order = Order(
        CLIENT_ID,
        "LTC/USDT:USDT",
        OrderSide.SELL,
        OrderType.LIMIT,
        0.1,
        price=55.0,
        reduce_only=True,
    )
    venue.submit(order)
    await drain()
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason.startswith(kind)
    assert listener.updates == [(CLIENT_ID, OrderStatus.REJECTED)]
    assert len([r for r in recorded.http.requests if r.method == "POST"]) == 1


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_a_lost_create_reply_is_resolved_by_client_id_not_resent(
    placing: tuple[Any, Callable[[], Awaitable[None]]],
    recorded: RecordedExchange,
    listener: RecordingListener,
) -> None:
    venue, drain = placing
    found = response_entry("binance", "fetchOrder", 0)
    raw = found["parsedResponse"]
    recorded.http.serve(found["httpResponse"])
    await venue.instrument(raw["symbol"])
    recorded.http.then(timeout())  # the create is sent and its reply lost
    order = Order(CLIENT_ID, raw["symbol"], OrderSide(raw["side"]), OrderType.MARKET, raw["amount"])
    venue.submit(order)
    await drain()
    assert len([r for r in recorded.http.requests if r.method == "POST"]) == 1
    assert order.status is OrderStatus.FILLED
    assert order.exchange_order_id == raw["id"]
    assert [f.quantity for f in listener.fills] == [raw["filled"]]


async def test_an_unknown_symbol_is_the_same_error_both_ways(
    placing: tuple[Any, Callable[[], Awaitable[None]]],
) -> None:
    venue, _ = placing
    with pytest.raises(BadSymbol):
        await venue.instrument("NOPE/USDT:USDT")
