"""Orders, their lifecycle as an explicit state machine, and fills.

The lifecycle::

    NEW ──submit──▶ SUBMITTED ──fill──▶ PARTIALLY_FILLED ──fill──▶ FILLED
     │                 │ │ │                  │ │
     └──reject──▶ REJECTED ◀┘ │ └─expire─▶ EXPIRED ◀┘ └──cancel──▶ CANCELLED
                         └──cancel──▶ CANCELLED

An illegal transition raises :class:`OrderStateError`: a venue that reports a fill for a
cancelled order is a bug to surface, not to paper over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from axis.domain.enums import LiquiditySide, OrderSide, OrderType, TimeInForce


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    is_open: bool  # working at the venue (new, submitted or partly filled)
    is_terminal: bool  # final: filled, cancelled, rejected or expired


_OPEN = frozenset({OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED})
_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
# Plain attributes, not properties: every order reads them several times on its way.
for _status in OrderStatus:
    _status.is_open = _status in _OPEN
    _status.is_terminal = _status in _TERMINAL

_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.SUBMITTED, OrderStatus.REJECTED}),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class OrderStateError(RuntimeError):
    """An order was asked to move along a transition its state machine does not have."""


# Quantities within this fraction of a lot are treated as equal (float dust from averaging).
_QTY_DUST = 1e-12


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution against an order. ``fee`` is in the settle currency and positive when paid."""

    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: float
    price: float
    fee: float
    liquidity: LiquiditySide
    timestamp: int
    trade_id: str = ""


# Built once: every order's validation asks these (a tuple built inline reads the members again).
_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_TRIGGERED = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT)


@dataclass(slots=True)
class Order:
    """An instruction to a venue, identified by our deterministic ``client_order_id``."""

    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: float
    price: float | None = None  # limit price (LIMIT, STOP_LIMIT)
    trigger_price: float | None = None  # stop/take-profit trigger
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    tag: str = ""  # why the strategy placed it: "entry", "stop_loss", "take_profit", ...
    created_at: int = 0
    status: OrderStatus = OrderStatus.NEW
    filled_qty: float = 0.0
    avg_fill_price: float = 0.0
    fees: float = 0.0
    reject_reason: str = ""
    exchange_order_id: str = ""
    triggered: bool = False  # a stop-limit whose trigger has fired now rests as a limit
    history: list[OrderStatus] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.quantity > 0:  # also refuses NaN
            raise ValueError(f"order {self.client_order_id}: quantity must be positive")
        needs_price = self.type in _PRICED
        needs_trigger = self.type in _TRIGGERED
        if needs_price and (self.price is None or not self.price > 0):
            raise ValueError(f"order {self.client_order_id}: a {self.type.value} needs a price")
        if needs_trigger and (self.trigger_price is None or not self.trigger_price > 0):
            raise ValueError(
                f"order {self.client_order_id}: a {self.type.value} needs a trigger price"
            )

    # -- state machine ------------------------------------------------------------------------
    def _check_move(self, status: OrderStatus) -> None:
        if status not in _TRANSITIONS[self.status]:
            raise OrderStateError(
                f"order {self.client_order_id}: illegal transition "
                f"{self.status.value} -> {status.value}"
            )

    def _move(self, status: OrderStatus) -> None:
        self._check_move(status)
        self.history.append(self.status)
        self.status = status

    def submit(self) -> None:
        self._move(OrderStatus.SUBMITTED)

    def reject(self, reason: str) -> None:
        self._move(OrderStatus.REJECTED)
        self.reject_reason = reason

    def cancel(self) -> None:
        self._move(OrderStatus.CANCELLED)

    def expire(self) -> None:
        self._move(OrderStatus.EXPIRED)

    def apply_fill(self, quantity: float, price: float, fee: float) -> None:
        """Record an execution; moves to PARTIALLY_FILLED or FILLED. A fill the state machine
        refuses raises before anything is recorded."""
        if not quantity > 0:
            raise OrderStateError(f"order {self.client_order_id}: fill quantity must be positive")
        if not price >= 0:  # NaN or negative: a broken report, not an execution
            raise OrderStateError(f"order {self.client_order_id}: fill price {price} is invalid")
        if quantity > self.leaves_qty * (1 + 1e-9) + _QTY_DUST:
            raise OrderStateError(
                f"order {self.client_order_id}: fill of {quantity} exceeds the "
                f"{self.leaves_qty} left"
            )
        total = self.filled_qty + quantity
        done = self.quantity - total <= self.quantity * 1e-9 + _QTY_DUST
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        self._check_move(status)
        self.avg_fill_price = (self.avg_fill_price * self.filled_qty + price * quantity) / total
        self.filled_qty = total
        self.fees += fee
        self._move(status)

    # -- views --------------------------------------------------------------------------------
    @property
    def leaves_qty(self) -> float:
        return max(self.quantity - self.filled_qty, 0.0)

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_stop(self) -> bool:
        return self.type in _TRIGGERED
