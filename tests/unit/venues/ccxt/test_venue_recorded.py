"""The venue on ccxt's real exchange classes, fed the recorded payloads of all four exchanges.

Each test serves a recorded ``httpResponse`` and checks the venue's result against the recorded
``parsedResponse`` (ccxt's expected unified structure), or checks the request the venue made
against the recorded request. Only the ``venue``/``recorded`` fixtures are used, so the tests
can run through another LiveVenue implementation.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from recorded import RecordedExchange, exchanges_with, plain_entry, response_entries

from axis.domain.enums import MarketType, OrderSide
from axis.domain.orders import OrderStatus
from axis.venues.ccxt_venue import CcxtVenue

pytestmark = pytest.mark.asyncio


def _first(exchange_id: str, method: str, max_args: int = 4) -> dict[str, Any]:
    """The plain recorded entry of ``method`` (tests that need one are parametrized over
    :func:`exchanges_with` it)."""
    entry = plain_entry(exchange_id, method, max_args)
    assert entry is not None, f"{exchange_id} has no plain recorded {method}"
    return entry


async def test_spot_instrument_from_recorded_markets(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    market = recorded.exchange.market("BTC/USDT")
    instrument = await venue.instrument("BTC/USDT")
    assert instrument.market_type is MarketType.SPOT
    assert instrument.tick_size == pytest.approx(market["precision"]["price"])
    assert instrument.lot_size == pytest.approx(market["precision"]["amount"])
    assert instrument.min_qty == pytest.approx(market["limits"]["amount"]["min"] or 0.0)
    assert instrument.taker_fee == pytest.approx(market["taker"])
    assert instrument.brackets == ()
    assert recorded.http.requests == []  # markets were preloaded: nothing fetched


async def test_perpetual_without_tiers_gets_one_bracket_at_market_max(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    recorded.http.serve({"code": -2015, "msg": "Invalid API-key"}, status=401)
    market = recorded.exchange.market("BTC/USDT:USDT")
    instrument = await venue.instrument("BTC/USDT:USDT")
    assert instrument.market_type is MarketType.LINEAR_PERPETUAL
    assert instrument.contract_size == pytest.approx(market["contractSize"])
    (bracket,) = instrument.brackets
    assert bracket.notional_cap == math.inf
    assert bracket.max_leverage == (market["limits"]["leverage"].get("max") or 1.0)


@pytest.mark.parametrize("exchange_id", ["binance"])
async def test_perpetual_brackets_from_leverage_tiers(
    venue: CcxtVenue, recorded: RecordedExchange
) -> None:
    # Binance's /fapi/v1/leverageBracket reply (shape of the exchange API; first tiers of BTC).
    recorded.http.serve(
        [
            {
                "symbol": "BTCUSDT",
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": 125,
                        "notionalCap": 50000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.004,
                        "cum": 0.0,
                    },
                    {
                        "bracket": 2,
                        "initialLeverage": 100,
                        "notionalCap": 250000,
                        "notionalFloor": 50000,
                        "maintMarginRatio": 0.005,
                        "cum": 50.0,
                    },
                    {
                        "bracket": 3,
                        "initialLeverage": 50,
                        "notionalCap": 3000000,
                        "notionalFloor": 250000,
                        "maintMarginRatio": 0.01,
                        "cum": 1300.0,
                    },
                ],
            }
        ]
    )
    instrument = await venue.instrument("BTC/USDT:USDT")
    assert [b.max_leverage for b in instrument.brackets] == [125, 100, 50]
    assert [b.notional_cap for b in instrument.brackets] == [50000, 250000, 3000000]
    # The maintenance amounts our rule derives equal Binance's own "cum" column.
    assert [b.maint_amount for b in instrument.brackets] == pytest.approx([0.0, 50.0, 1300.0])
    assert recorded.http.calls_to("/fapi/v1/leverageBracket")


@pytest.mark.parametrize("exchange_id", exchanges_with("fetchOHLCV"))
async def test_ohlcv_matches_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = _first(recorded.exchange_id, "fetchOHLCV")
    recorded.http.serve(entry["httpResponse"])
    symbol, timeframe, since, limit = (entry["input"] + [None, None, None])[:4]
    bars = await venue.fetch_ohlcv(symbol, timeframe, since, limit, closed_before_ms=2**62)
    expected = sorted(entry["parsedResponse"], key=lambda row: row[0])
    assert [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        tuple(row) for row in expected
    ]
    # The newest candle is still forming until its period has passed: it is held back.
    last = expected[-1][0]
    forming = await venue.fetch_ohlcv(symbol, timeframe, since, limit, closed_before_ms=last + 1)
    assert [b.timestamp for b in forming] == [row[0] for row in expected[:-1]]


async def test_ticker_matches_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = recorded.serve_recorded("fetchTicker")
    ticker = await venue.fetch_ticker(entry["input"][0])
    parsed = entry["parsedResponse"]
    assert (ticker.symbol, ticker.bid, ticker.ask, ticker.last) == (
        parsed["symbol"],
        parsed["bid"],
        parsed["ask"],
        parsed["last"],
    )


@pytest.mark.parametrize("exchange_id", exchanges_with("fetchOrderBook", 9))
async def test_order_book_matches_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = recorded.serve_recorded("fetchOrderBook")
    book = await venue.fetch_order_book(*entry["input"])
    parsed = entry["parsedResponse"]
    assert book.bids == tuple((p, q) for p, q, *_ in parsed["bids"])
    assert book.asks == tuple((p, q) for p, q, *_ in parsed["asks"])
    assert book.bids[0][0] < book.asks[0][0]


@pytest.mark.parametrize("exchange_id", exchanges_with("fetchBalance"))
async def test_balances_match_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = _first(recorded.exchange_id, "fetchBalance")
    recorded.http.serve(entry["httpResponse"])
    balances = {b.currency: b for b in await venue.fetch_balances()}
    parsed = entry["parsedResponse"]
    expected = {c: t for c, t in parsed["total"].items() if t is not None}
    assert {c: b.total for c, b in balances.items()} == expected
    for currency, balance in balances.items():
        assert balance.free == (parsed["free"].get(currency) or 0.0)


@pytest.mark.parametrize("exchange_id", exchanges_with("fetchPositions", 1))
async def test_positions_match_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = _first(recorded.exchange_id, "fetchPositions", max_args=1)
    recorded.http.serve(entry["httpResponse"])
    reports = await venue.fetch_positions()
    expected = [p for p in entry["parsedResponse"] if p.get("contracts")]
    assert [(r.symbol, r.entry_price) for r in reports] == [
        (p["symbol"], p["entryPrice"]) for p in expected
    ]
    for report, position in zip(reports, expected, strict=True):
        sign = -1 if position["side"] == "short" else 1
        assert report.quantity == sign * position["contracts"]


@pytest.mark.parametrize("exchange_id", exchanges_with("fetchOpenOrders"))
async def test_open_orders_match_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = _first(recorded.exchange_id, "fetchOpenOrders")
    recorded.http.serve(entry["httpResponse"])
    orders = await venue.fetch_open_orders(entry["input"][0])
    parsed = entry["parsedResponse"]
    assert [o.exchange_order_id for o in orders] == [p["id"] for p in parsed]
    for order, raw in zip(orders, parsed, strict=True):
        assert order.quantity == raw["amount"]
        assert order.side is OrderSide(raw["side"])
        assert order.status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


async def test_my_trades_match_recorded(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    entry = response_entries(recorded.exchange_id, "fetchMyTrades")[0]
    recorded.http.serve(entry["httpResponse"])
    parsed = entry["parsedResponse"]
    fills = await venue.fetch_my_trades(entry["input"][0] or parsed[0]["symbol"])
    assert [(f.trade_id, f.quantity, f.price) for f in fills] == [
        (t["id"], t["amount"], t["price"]) for t in parsed
    ]
    # Fees in the quote currency: a fee the exchange took in the base is worth cost * price.
    expected_fees = []
    for t in parsed:
        fee = t.get("fee") or {}
        base = t["symbol"].split("/")[0]
        rate = t["price"] if fee.get("currency") == base else 1.0
        expected_fees.append((fee.get("cost") or 0.0) * rate)
    assert [f.fee for f in fills] == pytest.approx(expected_fees)


LOOKUP_FIELD = {"binance": "origClientOrderId", "okx": "clOrdId", "bybit": "orderLinkId"}


@pytest.mark.parametrize("exchange_id", ["binance", "okx", "bybit"])
async def test_fetch_order_by_client_order_id(venue: CcxtVenue, recorded: RecordedExchange) -> None:
    method = "fetchClosedOrders" if recorded.exchange_id == "bybit" else "fetchOrder"
    entry = recorded.serve_recorded(method)
    parsed = entry["parsedResponse"]
    raw = parsed[0] if isinstance(parsed, list) else parsed
    client_id = raw["clientOrderId"] or "axis-0000000007"
    order = await venue.fetch_order(raw["symbol"], client_id)
    assert order is not None
    assert order.exchange_order_id == raw["id"]
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == raw["filled"]
    sent = recorded.http.requests[0]
    assert client_id in (sent.query.get(LOOKUP_FIELD[recorded.exchange_id]), sent.body or "")
