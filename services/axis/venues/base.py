"""The Venue protocol: what the engine needs from anywhere orders can be executed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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
