"""The order manager: risk chain, deterministic client order ids, write-ahead, state.

Every order of every mode is placed here. The sequence is fixed: the intent passes the risk
chain (which may resize or veto it), the order gets its client order id, the order is written to
the journal, and only then is it sent to the venue. A retry after a lost reply reuses the same
id, so the venue can never receive the same intent twice under two ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from axis.domain.orders import Order, OrderStatus
from axis.risk.chain import OrderIntent, RiskAction, RiskChain, RiskContext, RiskDecision
from axis.venues.base import Venue

_PASS, _VETO = RiskAction.PASS, RiskAction.VETO
_REJECTED = OrderStatus.REJECTED


class OrderJournal(Protocol):
    """Where orders are recorded before they are sent (the store, in paper and live mode)."""

    def write_ahead(self, order: Order) -> None: ...
    def record(self, order: Order) -> None: ...


@dataclass(slots=True)
class MemoryJournal:
    """An in-memory journal for backtests: every order and every state it passed through."""

    entries: list[tuple[str, str]] = field(default_factory=list)

    def write_ahead(self, order: Order) -> None:
        self.entries.append((order.client_order_id, "write_ahead"))

    def record(self, order: Order) -> None:
        # ``_value_`` is the member's value without the ``value`` property's descriptor call.
        self.entries.append((order.client_order_id, order.status._value_))


def client_order_id(prefix: str, sequence: int) -> str:
    """Deterministic id: the strategy's prefix and a sequence number, within the 36 characters
    and ``[A-Za-z0-9_-]`` that Binance, OKX, Gate.io and Bybit all accept."""
    return f"{prefix[:24]}-{sequence:010d}"


class OrderManager:
    def __init__(
        self,
        venue: Venue,
        chain: RiskChain,
        context: Callable[[OrderIntent], RiskContext],
        journal: OrderJournal,
        prefix: str,
        start_sequence: int = 0,
    ) -> None:
        self.venue = venue
        self.chain = chain
        self.context = context
        self.journal = journal
        self.prefix = prefix
        self.sequence = start_sequence
        self.orders: dict[str, Order] = {}
        self.open: dict[str, Order] = {}
        self.decisions: list[tuple[str, RiskDecision]] = []

    def place(self, intent: OrderIntent, timestamp: int) -> tuple[Order, RiskDecision]:
        """Run the risk chain and, unless vetoed, journal and send the order. A vetoed intent
        still yields an order, in state REJECTED, so the strategy hears why."""
        if not intent.quantity > 0 or intent.quantity == math.inf:
            raise ValueError(f"order quantity must be a positive number, got {intent.quantity}")
        decision = self.chain.evaluate(intent, self.context(intent))
        self.sequence += 1
        order = Order(
            client_order_id(self.prefix, self.sequence),
            intent.symbol,
            intent.side,
            intent.type,
            intent.quantity,
            price=intent.price,
            trigger_price=intent.trigger_price,
            reduce_only=intent.reduce_only,
            tag=intent.tag,
            created_at=timestamp,
        )
        self.orders[order.client_order_id] = order
        action = decision.action
        if action is not _PASS:
            self.decisions.append((order.client_order_id, decision))
        if action is _VETO:
            order.reject(f"{decision.rule}: {decision.reason}")
            self.journal.record(order)
            return order, decision
        self.journal.write_ahead(order)
        self.open[order.client_order_id] = order
        self.venue.submit(order)
        return order, decision

    def on_update(self, order: Order) -> None:
        self.journal.record(order)
        status = order.status
        if status.is_terminal or status is _REJECTED:
            self.open.pop(order.client_order_id, None)

    def cancel(self, client_order_id: str) -> None:
        if client_order_id in self.open:
            self.venue.cancel(client_order_id)

    def open_count(self) -> int:
        return len(self.open)
