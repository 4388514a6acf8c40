"""The Venue protocol: what the engine needs from anywhere orders can be executed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order


@dataclass(frozen=True, slots=True)
class FundingEvent:
    symbol: str
    timestamp: int
    rate: float
    mark_price: float
    amount: float  # cash to the account: negative when the position paid


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    symbol: str
    timestamp: int
    side: str  # side of the liquidated position
    quantity: float
    liquidation_price: float
    mark_price: float
    realized_pnl: float


class VenueListener(Protocol):
    """Receives what happens at a venue, in the order it happens."""

    def on_order_update(self, order: Order) -> None: ...
    def on_fill(self, order: Order, fill: Fill) -> None: ...
    def on_funding(self, event: FundingEvent) -> None: ...
    def on_liquidation(self, event: LiquidationEvent) -> None: ...


class Venue(Protocol):
    """A place that accepts, matches and reports orders: simulated, gateway or exchange."""

    name: str

    def submit(self, order: Order) -> None: ...
    def cancel(self, client_order_id: str) -> None: ...
    def open_orders(self) -> list[Order]: ...


# -- venues outside the process (exchange, gateway, failover) ----------------------------------


@dataclass(frozen=True, slots=True)
class PositionReport:
    """A position as the venue reports it, for reconciliation. ``quantity`` is signed
    contracts (positive long)."""

    symbol: str
    quantity: float
    entry_price: float
    leverage: float
    margin_mode: str
    liquidation_price: float | None = None
    unrealized_pnl: float = 0.0
    mark_price: float | None = None


@dataclass(frozen=True, slots=True)
class BalanceReport:
    currency: str
    total: float
    free: float
    used: float


@dataclass(frozen=True, slots=True)
class ClosedBar:
    """One finished candle from a live or replayed feed."""

    symbol: str
    timeframe: str
    timestamp: int  # open time, epoch ms
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    timestamp: int
    bid: float | None
    ask: float | None
    last: float | None
    mark_price: float | None = None
    index_price: float | None = None
    quote_volume: float | None = None


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Best levels first: bids descending, asks ascending, as (price, quantity)."""

    symbol: str
    timestamp: int | None
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A funding rate: the current one (settling at ``timestamp``) or a settled one."""

    symbol: str
    timestamp: int  # settlement time of this rate, epoch ms
    rate: float
    mark_price: float | None = None
    next_timestamp: int | None = None  # the settlement after this one, when the exchange says


class BarFeed(Protocol):
    """Closed bars in time order, per symbol: from an exchange (websocket or polling, with
    reconnect, gap detection and backfill) or a replayed history."""

    def __aiter__(self) -> AsyncIterator[ClosedBar]: ...


class LiveVenue(Venue, Protocol):
    """A venue outside the process: an exchange through ccxt, a gateway, or a failover group.

    ``submit`` and ``cancel`` return at once; the network call runs on the event loop and its
    outcome reaches the listener as order updates and fills, as on every venue. The queries are
    what the worker reconciles with. Errors are the venue error taxonomy
    (:mod:`axis.venues.errors`).
    """

    async def connect(self, listener: VenueListener) -> None: ...
    async def close(self) -> None: ...
    async def instrument(self, symbol: str) -> Instrument: ...
    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None: ...
    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]: ...
    async def fetch_positions(self) -> list[PositionReport]: ...
    async def fetch_balances(self) -> list[BalanceReport]: ...
    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]: ...
    async def set_leverage(self, symbol: str, leverage: float) -> None: ...
    async def set_margin_mode(self, symbol: str, mode: str) -> None: ...
    def healthy(self) -> bool: ...
