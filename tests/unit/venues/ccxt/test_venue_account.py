"""Account set-up and streams of the venue on recorded payloads: the one-way position-mode check,
margin mode per exchange, funding, the venue's construction (sandbox, shared limiter, ccxt's
endpoint weights), clock skew, and order updates from the order stream or polling."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
from conftest import ONE_WAY_REPLY, RecordingListener, make_venue
from recorded import RecordedExchange, recorded_exchange, response_entry

from axis.domain.enums import MarketType, OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.venues.ccxt_venue import CcxtVenue
from axis.venues.errors import PositionModeError
from axis.venues.exchanges import profile_for
from axis.venues.feeds import OrderUpdates
from axis.venues.ratelimit import RateLimiter, forget_limiters

pytestmark = pytest.mark.asyncio

HEDGE_REPLY: dict[str, Any] = {
    "binance": {"dualSidePosition": True},
    "okx": {"code": "0", "msg": "", "data": [{"posMode": "long_short_mode"}]},
}


def _contract_account(exchange_id: str) -> RecordedExchange:
    """A recorded exchange set up as CcxtVenue.create sets up a perpetuals connector."""
    options = profile_for(exchange_id).ccxt_options(MarketType.LINEAR_PERPETUAL)
    return recorded_exchange(exchange_id, options)


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_connect_refuses_a_hedge_mode_account(
    exchange_id: str, listener: RecordingListener
) -> None:
    recorded = _contract_account(exchange_id)
    venue = make_venue(recorded)
    recorded.http.serve(HEDGE_REPLY[recorded.exchange_id])
    with pytest.raises(PositionModeError, match="one-way"):
        await venue.connect(listener)
    await venue.close()


@pytest.mark.parametrize(
    ("exchange_id", "field", "hedge_value"),
    [("gate", "mode", "dual_long"), ("bybit", "positionIdx", "1")],
)
async def test_hedge_mode_seen_in_the_positions_where_there_is_no_mode_endpoint(
    exchange_id: str, field: str, hedge_value: str, listener: RecordingListener
) -> None:
    recorded = _contract_account(exchange_id)
    entry = response_entry(exchange_id, "fetchPositions", 0)
    body = entry["httpResponse"]
    rows = body if isinstance(body, list) else body["result"]["list"]
    venue = make_venue(recorded)
    recorded.http.serve(body)
    await venue.connect(listener)  # the recorded account is one-way
    await venue.close()

    rows[0][field] = hedge_value
    recorded = _contract_account(exchange_id)
    venue = make_venue(recorded)
    recorded.http.serve(body)
    with pytest.raises(PositionModeError):
        await venue.connect(listener)
    await venue.close()


async def test_connect_checks_the_position_mode_once(
    exchange_id: str, listener: RecordingListener
) -> None:
    recorded = _contract_account(exchange_id)
    venue = make_venue(recorded)
    recorded.http.serve(ONE_WAY_REPLY[recorded.exchange_id])
    await venue.connect(listener)
    assert len(recorded.http.requests) == 1  # markets preloaded: only the mode check
    assert venue.healthy()
    await venue.close()
    assert not venue.healthy()


@pytest.mark.parametrize("exchange_id", ["gate"])
async def test_gate_margin_mode_goes_through_the_leverage_call(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    recorded.http.serve({"leverage": "0", "cross_leverage_limit": "5"})
    await venue.set_margin_mode("LTC/USDT:USDT", "cross")
    assert recorded.http.requests == []  # no leverage known yet: applied with the leverage
    await venue.set_leverage("LTC/USDT:USDT", 5)
    (sent,) = recorded.http.requests
    assert sent.path.endswith("/positions/LTC_USDT/leverage")
    assert sent.query == {"leverage": "0", "cross_leverage_limit": "5"}
    recorded.http.requests.clear()
    await venue.set_margin_mode("LTC/USDT:USDT", "isolated")  # leverage known: applied now
    assert recorded.http.requests[0].query == {"leverage": "5"}


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_margin_mode_already_set_is_not_an_error(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    recorded.http.serve({"code": -4046, "msg": "No need to change margin type."}, status=400)
    await venue.set_margin_mode("BTC/USDT:USDT", "isolated")
    assert len(recorded.http.requests) == 1


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_leverage_must_be_positive(venue: CcxtVenue) -> None:
    with pytest.raises(ValueError, match="positive"):
        await venue.set_leverage("BTC/USDT:USDT", 0)


@pytest.mark.parametrize("exchange_id", ["bybit"])
async def test_tickers_match_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = recorded.serve_recorded("fetchTickers")
    tickers = await venue.fetch_tickers(*entry["input"])
    parsed = entry["parsedResponse"]
    assert sorted(tickers) == sorted(parsed)
    for symbol, ticker in tickers.items():
        assert (ticker.bid, ticker.ask, ticker.last) == (
            parsed[symbol]["bid"],
            parsed[symbol]["ask"],
            parsed[symbol]["last"],
        )


@pytest.mark.parametrize("exchange_id", ["bybit"])
async def test_funding_rate_matches_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = recorded.serve_recorded("fetchFundingRate")
    rate = await venue.fetch_funding_rate("BTC/USDT:USDT")
    parsed = entry["parsedResponse"]
    assert (rate.rate, rate.timestamp, rate.mark_price) == (
        parsed["fundingRate"],
        parsed["fundingTimestamp"],
        parsed["markPrice"],
    )


@pytest.mark.parametrize("exchange_id", ["gate"])
async def test_gate_funding_rate_from_its_contract(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    entry = response_entry("gate", "fetchFundingRates")
    recorded.http.serve(entry["httpResponse"][0])  # one contract: /futures/{settle}/contracts/{c}
    rate = await venue.fetch_funding_rate("BTC/USD:BTC")
    parsed = entry["parsedResponse"]["BTC/USD:BTC"]
    assert (rate.rate, rate.timestamp) == (parsed["fundingRate"], parsed["fundingTimestamp"])


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_funding_rate_history(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    # Binance's /fapi/v1/fundingRate reply (shape of the exchange API).
    recorded.http.serve(
        [
            {
                "symbol": "BTCUSDT",
                "fundingTime": 1730707200000,
                "fundingRate": "0.00010000",
                "markPrice": "68000.1",
            },
            {
                "symbol": "BTCUSDT",
                "fundingTime": 1730736000000,
                "fundingRate": "-0.00002500",
                "markPrice": "68591.4",
            },
        ]
    )
    rates = await venue.fetch_funding_rate_history("BTC/USDT:USDT", since_ms=1730700000000)
    assert [(r.timestamp, r.rate) for r in rates] == [
        (1730707200000, 0.0001),
        (1730736000000, -0.000025),
    ]
    assert recorded.http.requests[0].query["startTime"] == "1730700000000"


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_clock_skew_from_the_exchange_time(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    import itertools

    # Local clock: 1000 ms when the request leaves, 1100 ms when the answer arrives.
    ticks = itertools.chain([1000, 1100], itertools.repeat(1100))
    recorded.exchange.milliseconds = lambda: next(ticks)
    recorded.http.serve({"serverTime": 1300})
    assert await venue.clock_skew_ms() == 250  # 1300 against the midpoint 1050


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_endpoint_weights_are_spent_on_the_limiter(
    recorded: RecordedExchange, listener: RecordingListener
) -> None:
    limiter = RateLimiter(rate=0.001, capacity=1000)
    venue = CcxtVenue(recorded.exchange, limiter=limiter)
    entry = recorded.serve_recorded("fetchTicker")
    await venue.fetch_ticker(entry["input"][0])
    after_ticker = limiter.headroom()
    recorded.serve_recorded("fetchOrderBook")
    await venue.fetch_order_book("BTC/USDT", 5000)  # the deepest book weighs the most
    spent_ticker = (1 - after_ticker) * 1000
    spent_book = (after_ticker - limiter.headroom()) * 1000
    assert spent_ticker > 0
    assert spent_book > spent_ticker
    await venue.close()


async def test_create_builds_the_exchange_with_sandbox_keys_and_a_shared_limiter(
    exchange_id: str,
) -> None:
    forget_limiters()
    first = CcxtVenue.create(
        exchange_id,
        api_key="k-1",
        secret="s-1",
        password="p-1",
        sandbox=True,
        rate_limit_share=0.5,
    )
    second = CcxtVenue.create(exchange_id, api_key="k-1", secret="s-1", password="p-1")
    other = CcxtVenue.create(exchange_id, api_key="k-2", secret="s-2", password="p-2")
    try:
        assert first.limiter is second.limiter  # one account, one limiter
        assert other.limiter is not first.limiter
        assert first.exchange.isSandboxModeEnabled
        assert not second.exchange.isSandboxModeEnabled
        assert hasattr(first.exchange, "watch_ohlcv")  # ccxt pro's class
        assert first.exchange.options["defaultType"] == "swap"
        assert first.limiter.rate == pytest.approx(0.5 * 1000 / first.exchange.rateLimit)
    finally:
        for venue in (first, second, other):
            await venue.close()
        forget_limiters()


async def test_create_refuses_an_unknown_exchange() -> None:
    with pytest.raises(ValueError, match="not supported"):
        CcxtVenue.create("kraken")


# -- order updates: websocket stream or polling ------------------------------------------------


class _Stream:
    """Stands in for ccxt pro's watch_orders: each call returns the next batch."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    async def __call__(self, *args: Any) -> Any:
        item = self.batches.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_order_stream_turns_exchange_updates_into_fills(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    order = Order("axis-0000000001", "LTC/USDT", OrderSide.BUY, OrderType.LIMIT, 0.2, price=50.0)
    order.submit()
    order.exchange_order_id = "3811057334"
    venue.orders[order.client_order_id] = order
    venue._by_venue_id[order.client_order_id] = order.client_order_id
    base = {
        "id": "3811057334",
        "clientOrderId": "axis-0000000001",
        "symbol": "LTC/USDT",
        "type": "limit",
        "side": "buy",
        "amount": 0.2,
        "price": 50.0,
        "timestamp": 1,
    }
    partial = dict(base, status="open", filled=0.05, average=50.0, fee={"cost": 0.01})
    done = dict(base, status="closed", filled=0.2, average=49.925, fee={"cost": 0.04})
    stranger = dict(base, id="1", clientOrderId="someone-else", status="open", filled=0.0)
    recorded.exchange.watch_orders = _Stream(
        [[partial, stranger], ccxt.NetworkError("ws closed"), [done], ccxt.AuthenticationError("x")]
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    stream = OrderUpdates(venue, websocket=True, sleep=sleep)
    with pytest.raises(Exception, match="x"):
        await stream.run()
    assert stream.reconnects == 1
    assert len(slept) == 1
    assert [(f.quantity, f.price) for f in listener.fills] == [
        (0.05, 50.0),
        (pytest.approx(0.15), pytest.approx(49.9)),
    ]
    assert [f.fee for f in listener.fills] == [0.01, pytest.approx(0.03)]
    assert order.status is OrderStatus.FILLED
    assert "someone-else" not in venue.orders


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_order_polling_queries_working_orders_by_client_id(
    venue: CcxtVenue, recorded: RecordedExchange, listener: RecordingListener
) -> None:
    entry = recorded.serve_recorded("fetchOrder")
    raw = entry["parsedResponse"]
    order = Order(raw["clientOrderId"], "LTC/USDT", OrderSide.SELL, OrderType.MARKET, 0.1)
    order.submit()
    order.exchange_order_id = raw["id"]
    venue.orders[order.client_order_id] = order

    stream = OrderUpdates(venue, websocket=False)

    async def stop_after_one_round(seconds: float) -> None:
        stream.stop()

    stream._sleep = stop_after_one_round
    await stream.run()
    (sent,) = recorded.http.requests
    assert sent.query["origClientOrderId"] == raw["clientOrderId"]
    assert order.status is OrderStatus.FILLED
    assert [f.quantity for f in listener.fills] == [0.1]
    assert listener.updates == []  # the fill itself tells the listener (as SimulatedVenue)


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_finished_orders_are_not_kept_forever(
    venue: CcxtVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    import axis.venues.ccxt_venue as module

    monkeypatch.setattr(module, "_RETAINED_FINISHED", 3)
    working = Order("axis-open", "LTC/USDT", OrderSide.BUY, OrderType.LIMIT, 1.0, price=50.0)
    venue.orders[working.client_order_id] = working
    venue.apply_exchange_order({"id": "0", "status": "open", "filled": 0}, working)
    for i in range(6):
        order = Order(f"axis-{i}", "LTC/USDT", OrderSide.BUY, OrderType.MARKET, 1.0)
        venue.orders[order.client_order_id] = order
        raw = {"id": str(i + 1), "status": "closed", "filled": 1.0, "average": 50.0}
        venue.apply_exchange_order(raw, order)
        venue.apply_exchange_order(raw, order)  # a repeated report changes nothing
    assert sorted(venue.orders) == ["axis-3", "axis-4", "axis-5", "axis-open"]
    assert venue.open_orders() == [working]


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_position_stream_keeps_the_latest_positions(venue: CcxtVenue) -> None:
    from axis.venues.feeds import PositionUpdates

    long_btc = {"symbol": "BTC/USDT:USDT", "contracts": 2, "side": "long", "entryPrice": 100}
    short_eth = {"symbol": "ETH/USDT:USDT", "contracts": 5, "side": "short", "entryPrice": 10}
    closed_btc = {"symbol": "BTC/USDT:USDT", "contracts": 0, "side": None}
    venue.exchange.watch_positions = _Stream(
        [[long_btc, short_eth], ccxt.RequestTimeout("ws"), [closed_btc], ccxt.PermissionDenied("k")]
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    watcher = PositionUpdates(venue, websocket=True, sleep=sleep, clock_ms=lambda: 42)
    with pytest.raises(Exception, match="k"):
        await watcher.run()
    assert {s: p.quantity for s, p in watcher.positions.items()} == {"ETH/USDT:USDT": -5}
    assert watcher.reconnects == 1
    assert len(slept) == 1
    assert watcher.updated_at_ms == 42


@pytest.mark.parametrize("exchange_id", ["gate"])
async def test_position_polling_replaces_the_snapshot(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    from axis.venues.feeds import PositionUpdates

    entry = response_entry("gate", "fetchPositions", 0)
    recorded.http.serve(entry["httpResponse"])
    watcher = PositionUpdates(venue, websocket=False)

    async def stop_after_one_round(seconds: float) -> None:
        watcher.stop()

    watcher._sleep = stop_after_one_round
    await watcher.run()
    expected = {p["symbol"] for p in entry["parsedResponse"] if p.get("contracts")}
    assert set(watcher.positions) == expected
    assert expected
