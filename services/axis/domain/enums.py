"""Enumerations shared by every layer of the trading domain."""

from __future__ import annotations

from enum import StrEnum


class Exchange(StrEnum):
    BINANCE = "binance"
    OKX = "okx"
    GATE = "gate"
    BYBIT = "bybit"


class MarketType(StrEnum):
    SPOT = "spot"
    LINEAR_PERPETUAL = "linear_perpetual"


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    sign: int  # +1 for a buy, -1 for a sell: the direction the order moves the position

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


# A plain attribute, not a property: the order path reads it several times per order.
OrderSide.BUY.sign = 1
OrderSide.SELL.sign = -1


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is PositionSide.LONG else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT = "take_profit"  # a market order triggered when price reaches a profit target


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class LiquiditySide(StrEnum):
    MAKER = "maker"
    TAKER = "taker"
