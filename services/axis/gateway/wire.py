"""The gateway's JSON wire format: venue objects to plain dicts and back.

Written by hand over the domain dataclasses (no pydantic in the order path): every order
update and fill crosses this boundary twice. Field names are camelCase, like the rest of the
platform's wire formats. ``decode_*`` raise :class:`WireError` naming the field at fault.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, TypeVar

from axis.domain.enums import Exchange, LiquiditySide, MarketType, OrderSide, OrderType, TimeInForce
from axis.domain.instrument import Instrument, LeverageBracket
from axis.domain.orders import Fill, Order, OrderStatus
from axis.venues.base import (
    BalanceReport,
    ClosedBar,
    FundingEvent,
    FundingRate,
    LiquidationEvent,
    OrderBook,
    PositionReport,
    Ticker,
)

Json = dict[str, Any]
E = TypeVar("E", bound=StrEnum)


class WireError(ValueError):
    """A payload that does not decode: names the field at fault."""


def _field(data: Json, key: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError):
        raise WireError(f"{key}: field required") from None


def _float(data: Json, key: str) -> float:
    value = _field(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{key}: expected a number")
    return float(value)


def _opt_float(data: Json, key: str) -> float | None:
    return None if data.get(key) is None else _float(data, key)


def _str(data: Json, key: str) -> str:
    value = _field(data, key)
    if not isinstance(value, str):
        raise WireError(f"{key}: expected a string")
    return value


def _enum(kind: type[E], data: Json, key: str) -> E:
    value = _field(data, key)
    try:
        return kind(value)
    except ValueError:
        raise WireError(f"{key}: {value!r} is not a valid {kind.__name__}") from None


# -- orders -----------------------------------------------------------------------------------
def encode_order(order: Order) -> Json:
    """The whole order, state included: a snapshot at the moment of encoding."""
    return {
        "clientOrderId": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "quantity": order.quantity,
        "price": order.price,
        "triggerPrice": order.trigger_price,
        "timeInForce": order.time_in_force.value,
        "reduceOnly": order.reduce_only,
        "tag": order.tag,
        "createdAt": order.created_at,
        "status": order.status.value,
        "filledQty": order.filled_qty,
        "avgFillPrice": order.avg_fill_price,
        "fees": order.fees,
        "rejectReason": order.reject_reason,
        "exchangeOrderId": order.exchange_order_id,
        "triggered": order.triggered,
        "history": [status.value for status in order.history],
    }


def decode_order(data: Json) -> Order:
    """An order from its wire form; a bare request (no ``status``) decodes as a NEW order."""
    try:
        order = Order(
            _str(data, "clientOrderId"),
            _str(data, "symbol"),
            _enum(OrderSide, data, "side"),
            _enum(OrderType, data, "type"),
            _float(data, "quantity"),
            price=_opt_float(data, "price"),
            trigger_price=_opt_float(data, "triggerPrice"),
            time_in_force=_enum(TimeInForce, data, "timeInForce")
            if "timeInForce" in data
            else TimeInForce.GTC,
            reduce_only=bool(data.get("reduceOnly", False)),
            tag=str(data.get("tag", "")),
            created_at=int(data.get("createdAt", 0)),
        )
    except ValueError as exc:  # the order's own checks (quantity, price, trigger)
        if isinstance(exc, WireError):
            raise
        raise WireError(str(exc)) from None
    if "status" in data:
        apply_order_state(order, data)
    return order


def apply_order_state(order: Order, data: Json) -> None:
    """Copy the venue-side state of ``data`` onto ``order`` (the caller's own object)."""
    order.status = _enum(OrderStatus, data, "status")
    order.filled_qty = _float(data, "filledQty")
    order.avg_fill_price = _float(data, "avgFillPrice")
    order.fees = _float(data, "fees")
    order.reject_reason = str(data.get("rejectReason", ""))
    order.exchange_order_id = str(data.get("exchangeOrderId", ""))
    order.triggered = bool(data.get("triggered", False))
    order.history = [OrderStatus(s) for s in data.get("history", ())]


# -- fills and account events -----------------------------------------------------------------
def encode_fill(fill: Fill) -> Json:
    return {
        "clientOrderId": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "liquidity": fill.liquidity.value,
        "timestamp": fill.timestamp,
        "tradeId": fill.trade_id,
    }


def decode_fill(data: Json) -> Fill:
    return Fill(
        _str(data, "clientOrderId"),
        _str(data, "symbol"),
        _enum(OrderSide, data, "side"),
        _float(data, "quantity"),
        _float(data, "price"),
        _float(data, "fee"),
        _enum(LiquiditySide, data, "liquidity"),
        int(_float(data, "timestamp")),
        str(data.get("tradeId", "")),
    )


def encode_funding(event: FundingEvent) -> Json:
    return {
        "symbol": event.symbol,
        "timestamp": event.timestamp,
        "rate": event.rate,
        "markPrice": event.mark_price,
        "amount": event.amount,
    }


def decode_funding(data: Json) -> FundingEvent:
    return FundingEvent(
        _str(data, "symbol"),
        int(_float(data, "timestamp")),
        _float(data, "rate"),
        _float(data, "markPrice"),
        _float(data, "amount"),
    )


def encode_liquidation(event: LiquidationEvent) -> Json:
    return {
        "symbol": event.symbol,
        "timestamp": event.timestamp,
        "side": event.side,
        "quantity": event.quantity,
        "liquidationPrice": event.liquidation_price,
        "markPrice": event.mark_price,
        "realizedPnl": event.realized_pnl,
    }


def decode_liquidation(data: Json) -> LiquidationEvent:
    return LiquidationEvent(
        _str(data, "symbol"),
        int(_float(data, "timestamp")),
        _str(data, "side"),
        _float(data, "quantity"),
        _float(data, "liquidationPrice"),
        _float(data, "markPrice"),
        _float(data, "realizedPnl"),
    )


# -- account reports --------------------------------------------------------------------------
def encode_position(report: PositionReport) -> Json:
    return {
        "symbol": report.symbol,
        "quantity": report.quantity,
        "entryPrice": report.entry_price,
        "leverage": report.leverage,
        "marginMode": report.margin_mode,
        "liquidationPrice": report.liquidation_price,
        "unrealizedPnl": report.unrealized_pnl,
        "markPrice": report.mark_price,
    }


def decode_position(data: Json) -> PositionReport:
    return PositionReport(
        _str(data, "symbol"),
        _float(data, "quantity"),
        _float(data, "entryPrice"),
        _float(data, "leverage"),
        _str(data, "marginMode"),
        _opt_float(data, "liquidationPrice"),
        _float(data, "unrealizedPnl"),
        _opt_float(data, "markPrice"),
    )


def encode_balance(report: BalanceReport) -> Json:
    return {
        "currency": report.currency,
        "total": report.total,
        "free": report.free,
        "used": report.used,
    }


def decode_balance(data: Json) -> BalanceReport:
    return BalanceReport(
        _str(data, "currency"), _float(data, "total"), _float(data, "free"), _float(data, "used")
    )


# -- instruments ------------------------------------------------------------------------------
def encode_instrument(instrument: Instrument) -> Json:
    return {
        "symbol": instrument.symbol,
        "exchange": instrument.exchange.value,
        "marketType": instrument.market_type.value,
        "tickSize": instrument.tick_size,
        "lotSize": instrument.lot_size,
        "minQty": instrument.min_qty,
        "minNotional": instrument.min_notional,
        "contractSize": instrument.contract_size,
        "makerFee": instrument.maker_fee,
        "takerFee": instrument.taker_fee,
        # The top tier's cap is infinite, which JSON cannot carry: null stands for it.
        "brackets": [
            [
                b.notional_floor,
                b.notional_cap if math.isfinite(b.notional_cap) else None,
                b.max_leverage,
                b.maint_margin_rate,
                b.maint_amount,
            ]
            for b in instrument.brackets
        ],
    }


def decode_instrument(data: Json) -> Instrument:
    brackets = _field(data, "brackets")
    if not isinstance(brackets, list) or not all(
        isinstance(row, list) and len(row) == 5 for row in brackets
    ):
        raise WireError("brackets: expected rows of five numbers")
    return Instrument(
        _str(data, "symbol"),
        _enum(Exchange, data, "exchange"),
        _enum(MarketType, data, "marketType"),
        _float(data, "tickSize"),
        _float(data, "lotSize"),
        _float(data, "minQty"),
        _float(data, "minNotional"),
        _float(data, "contractSize"),
        _float(data, "makerFee"),
        _float(data, "takerFee"),
        tuple(
            LeverageBracket(
                float(floor),
                math.inf if cap is None else float(cap),
                float(lev),
                float(mmr),
                float(amount),
            )
            for floor, cap, lev, mmr, amount in brackets
        ),
    )


# -- market data ------------------------------------------------------------------------------
def _opt_int(data: Json, key: str) -> int | None:
    return None if data.get(key) is None else int(_float(data, key))


def encode_bar(bar: ClosedBar) -> list[Any]:
    """A candle as a row (many travel at once): symbol and timeframe go with the list."""
    return [bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume]


def decode_bars(symbol: str, timeframe: str, rows: list[list[Any]]) -> list[ClosedBar]:
    return [
        ClosedBar(symbol, timeframe, int(t), float(o), float(h), float(lo), float(c), float(v))
        for t, o, h, lo, c, v in rows
    ]


def encode_ticker(ticker: Ticker) -> Json:
    return {
        "symbol": ticker.symbol,
        "timestamp": ticker.timestamp,
        "bid": ticker.bid,
        "ask": ticker.ask,
        "last": ticker.last,
        "markPrice": ticker.mark_price,
        "indexPrice": ticker.index_price,
        "quoteVolume": ticker.quote_volume,
    }


def decode_ticker(data: Json) -> Ticker:
    return Ticker(
        _str(data, "symbol"),
        int(_float(data, "timestamp")),
        _opt_float(data, "bid"),
        _opt_float(data, "ask"),
        _opt_float(data, "last"),
        _opt_float(data, "markPrice"),
        _opt_float(data, "indexPrice"),
        _opt_float(data, "quoteVolume"),
    )


def encode_order_book(book: OrderBook) -> Json:
    return {
        "symbol": book.symbol,
        "timestamp": book.timestamp,
        "bids": [list(level) for level in book.bids],
        "asks": [list(level) for level in book.asks],
    }


def decode_order_book(data: Json) -> OrderBook:
    return OrderBook(
        _str(data, "symbol"),
        _opt_int(data, "timestamp"),
        tuple((float(p), float(q)) for p, q in _field(data, "bids")),
        tuple((float(p), float(q)) for p, q in _field(data, "asks")),
    )


def encode_funding_rate(rate: FundingRate) -> Json:
    return {
        "symbol": rate.symbol,
        "timestamp": rate.timestamp,
        "rate": rate.rate,
        "markPrice": rate.mark_price,
        "nextTimestamp": rate.next_timestamp,
    }


def decode_funding_rate(data: Json) -> FundingRate:
    return FundingRate(
        _str(data, "symbol"),
        int(_float(data, "timestamp")),
        _float(data, "rate"),
        _opt_float(data, "markPrice"),
        _opt_int(data, "nextTimestamp"),
    )
