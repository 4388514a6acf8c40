"""Reconciliation: the worker's book (journal, engine) against what the venue reports.

Run at start and every minute. Each difference is either *explained* and resolved, or recorded
as a :class:`Discrepancy` that moves the worker to ``reducing`` or ``halted``:

- an order stored but never acknowledged (the worker stopped between "stored" and "sent") that
  the venue does not know is sent now, under the same client order id: never a second id;
- an order the venue knows but the journal holds as unsent (stopped between "sent" and
  "acknowledged") is adopted with the venue's state; nothing is re-sent;
- fills the venue reports beyond the quantity the journal holds as filled (they happened while
  the worker was down) are applied, oldest first, each once;
- an acknowledged order the venue cannot find → ``reducing``; an open order with our prefix the
  journal never stored, or a position different from the book's → ``halted``.

At start the book is empty, so the venue's position is adopted (``at_start``); later a
position difference is never papered over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from axis.domain.orders import Fill, Order, OrderStatus
from axis.risk.limits import TradingState
from axis.venues.base import LiveVenue, PositionReport, VenueListener


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: str
    detail: str
    state: TradingState  # what it forces: REDUCING or HALTED


@dataclass(slots=True)
class ReconcileReport:
    resubmitted: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    fills_applied: list[str] = field(default_factory=list)
    positions_adopted: list[str] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def state(self) -> TradingState:
        """The most restrictive trading state the discrepancies call for."""
        states = {d.state for d in self.discrepancies}
        if TradingState.HALTED in states:
            return TradingState.HALTED
        if TradingState.REDUCING in states:
            return TradingState.REDUCING
        return TradingState.ACTIVE


class Book(Protocol):
    """What reconciliation reads and changes on the worker's side (the runtime's
    :class:`axis.worker.runtime.EngineBook`)."""

    def open_orders(self) -> dict[str, Order]: ...
    def position(self, symbol: str) -> float: ...
    def adopt_position(self, report: PositionReport) -> None: ...
    def record(self, order: Order) -> None: ...


def _ours(order_id: str, prefix: str) -> bool:
    return order_id.startswith(f"{prefix[:24]}-")


def _adopt_status(order: Order, reported: Order) -> bool:
    """Move ``order`` to the state the venue reports (fills excluded: those come as fills).
    Returns whether it changed."""
    changed = False
    if order.status is OrderStatus.NEW and reported.status is not OrderStatus.NEW:
        order.submit()
        changed = True
    if reported.exchange_order_id and reported.exchange_order_id != order.exchange_order_id:
        order.exchange_order_id = reported.exchange_order_id
        changed = True
    if order.is_open and reported.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        if reported.status is OrderStatus.CANCELLED:
            order.cancel()
        else:
            order.expire()
        changed = True
    if order.is_open and reported.status is OrderStatus.REJECTED and order.filled_qty == 0:
        order.reject(reported.reject_reason or "rejected by the venue")
        changed = True
    return changed


async def reconcile(
    venue: LiveVenue,
    book: Book,
    listener: VenueListener,
    *,
    symbol: str,
    prefix: str,
    at_start: bool = False,
    position_tolerance: float = 1e-9,
) -> ReconcileReport:
    """Compare and resolve (see the module docstring). ``at_start``: the worker has just
    started; its book knows only the journal, so unsent orders are sent and the venue's
    position (as it stood before anything was re-sent) becomes the book's."""
    report = ReconcileReport()
    # Before anything is re-sent: at start this is the position the book adopts.
    positions = {p.symbol: p for p in await venue.fetch_positions()}
    known = book.open_orders()
    at_venue = {o.client_order_id: o for o in await venue.fetch_open_orders(symbol)}
    for cid in at_venue:
        if _ours(cid, prefix) and cid not in known:
            report.discrepancies.append(
                Discrepancy(
                    "unknown_order",
                    f"open order {cid} at {venue.name} is not in the journal",
                    TradingState.HALTED,
                )
            )
    for cid, order in list(known.items()):
        reported = at_venue.get(cid) or await venue.fetch_order(symbol, cid)
        if reported is None:
            if order.status is OrderStatus.NEW and at_start:
                venue.submit(order)  # stored, never sent: send it now under its own id
                report.resubmitted.append(cid)
            elif order.status is not OrderStatus.NEW:  # NEW while running: still in flight
                report.discrepancies.append(
                    Discrepancy(
                        "missing_order",
                        f"order {cid} ({order.status.value}) is unknown to {venue.name}",
                        TradingState.REDUCING,
                    )
                )
            continue
        applied = len(report.fills_applied)
        if reported.filled_qty > order.filled_qty * (1 + 1e-9) + 1e-12:
            # At start the adopted position already holds these fills: the order only.
            await _apply_missed_fills(venue, order, listener, symbol, report, to_book=not at_start)
        if _adopt_status(order, reported) or len(report.fills_applied) > applied:
            book.record(order)
            listener.on_order_update(order)
            report.adopted.append(cid)
    if at_start:
        _adopt_positions(positions.get(symbol), book, symbol, position_tolerance, report)
    elif getattr(venue, "accepting_risk", True) and not any(
        o.status is OrderStatus.NEW for o in book.open_orders().values()
    ):
        # Orders still in flight would make the comparison race their fills, and a failover
        # in progress moves the position between venues: compare next time.
        positions = {p.symbol: p for p in await venue.fetch_positions()}
        _compare_positions(
            positions.get(symbol), venue.name, book, symbol, position_tolerance, report
        )
    return report


async def _apply_missed_fills(
    venue: LiveVenue,
    order: Order,
    listener: VenueListener,
    symbol: str,
    report: ReconcileReport,
    *,
    to_book: bool,
) -> None:
    """Apply the order's executions past the filled quantity the journal already holds."""
    since = order.created_at or None
    fills: list[Fill] = sorted(
        (
            f
            for f in await venue.fetch_my_trades(symbol, since)
            if f.client_order_id == order.client_order_id
        ),
        key=lambda f: (f.timestamp, f.trade_id),
    )
    already = order.filled_qty
    for fill in fills:
        if already > 1e-12:  # recorded before the worker stopped
            already -= fill.quantity
            continue
        if order.status is OrderStatus.NEW:
            order.submit()
        order.apply_fill(fill.quantity, fill.price, fill.fee)
        if to_book:
            listener.on_fill(order, fill)
        report.fills_applied.append(fill.trade_id)


def _adopt_positions(
    position: PositionReport | None,
    book: Book,
    symbol: str,
    tolerance: float,
    report: ReconcileReport,
) -> None:
    venue_qty = position.quantity if position is not None else 0.0
    if abs(venue_qty - book.position(symbol)) <= tolerance * max(1.0, abs(venue_qty)):
        return
    book.adopt_position(
        position if position is not None else PositionReport(symbol, 0.0, 0.0, 0.0, "isolated")
    )
    report.positions_adopted.append(symbol)


def _compare_positions(
    position: PositionReport | None,
    venue_name: str,
    book: Book,
    symbol: str,
    tolerance: float,
    report: ReconcileReport,
) -> None:
    venue_qty = position.quantity if position is not None else 0.0
    mine = book.position(symbol)
    if abs(venue_qty - mine) <= tolerance * max(1.0, abs(venue_qty)):
        return
    report.discrepancies.append(
        Discrepancy(
            "position_mismatch",
            f"{symbol}: the book holds {mine:g}, {venue_name} reports {venue_qty:g}",
            TradingState.HALTED,
        )
    )
