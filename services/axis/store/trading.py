"""Repositories of trading records: positions, orders (the write-ahead journal), fills.

:class:`SqlOrderJournal` is the engine's :class:`~axis.engine.oms.OrderJournal` on the database:
the order manager writes each order here before the venue sees it, and every state change
after. With ``commit_each`` (the worker) each write is its own committed transaction; without
it (an API call with paper execution) the writes join the caller's transaction, so an order,
its fill and the position it opens are stored together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from axis.domain.orders import Fill, OrderStatus
from axis.domain.orders import Order as DomainOrder
from axis.store.models import Order, Position, Trade
from axis.store.types import to_decimal

OPEN_ORDER_STATES = tuple(s.value for s in OrderStatus if s.is_open)


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class PositionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, position: Position) -> Position:
        self.session.add(position)
        self.session.flush()
        return position

    def get(self, position_id: int) -> Position | None:
        return self.session.get(Position, position_id)

    def open_for_user(self, user_id: int) -> list[Position]:
        query = (
            select(Position)
            .where(Position.user_id == user_id, Position.status == "open")
            .order_by(Position.id)
        )
        return list(self.session.scalars(query))

    def open_for_market(self, user_id: int, exchange: str, symbol: str) -> Position | None:
        query = select(Position).where(
            Position.user_id == user_id,
            Position.exchange == exchange,
            Position.symbol == symbol,
            Position.status == "open",
        )
        return self.session.scalars(query).first()

    def for_user(self, user_id: int, status: str | None = None, limit: int = 100) -> list[Position]:
        query = select(Position).where(Position.user_id == user_id)
        if status is not None:
            query = query.where(Position.status == status)
        return list(self.session.scalars(query.order_by(Position.id.desc()).limit(limit)))


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_client_id(self, client_order_id: str) -> Order | None:
        return self.session.scalars(
            select(Order).where(Order.client_order_id == client_order_id)
        ).first()

    def open_count(self, user_id: int) -> int:
        query = select(func.count()).where(
            Order.user_id == user_id, Order.status.in_(OPEN_ORDER_STATES)
        )
        return int(self.session.scalar(query) or 0)

    def open_orders(self, user_id: int | None = None) -> list[Order]:
        query = select(Order).where(Order.status.in_(OPEN_ORDER_STATES))
        if user_id is not None:
            query = query.where(Order.user_id == user_id)
        return list(self.session.scalars(query.order_by(Order.id)))

    def for_user(self, user_id: int, limit: int = 100) -> list[Order]:
        query = select(Order).where(Order.user_id == user_id).order_by(Order.id.desc())
        return list(self.session.scalars(query.limit(limit)))

    def save(
        self,
        order: DomainOrder,
        *,
        exchange: str,
        user_id: int | None = None,
        strategy_id: int | None = None,
        position_id: int | None = None,
        row: Order | None = None,
    ) -> Order:
        """Insert the order or update the stored row to its current state (``row``, when the
        caller already holds it in this session, saves looking it up)."""
        if row is None:
            row = self.by_client_id(order.client_order_id)
        if row is None:
            row = Order(
                client_order_id=order.client_order_id,
                user_id=user_id,
                strategy_id=strategy_id,
                exchange=exchange,
                symbol=order.symbol,
                side=order.side.value,
                type=order.type.value,
                time_in_force=order.time_in_force.value,
                quantity=to_decimal(order.quantity),
                price=None if order.price is None else to_decimal(order.price),
                trigger_price=(
                    None if order.trigger_price is None else to_decimal(order.trigger_price)
                ),
                reduce_only=order.reduce_only,
                tag=order.tag,
            )
            if order.created_at:
                row.created_at = ms_to_datetime(order.created_at)
            self.session.add(row)
        if position_id is not None:
            row.position_id = position_id
        row.status = order.status.value
        row.filled_qty = to_decimal(order.filled_qty)
        row.avg_fill_price = to_decimal(order.avg_fill_price)
        row.fees = to_decimal(order.fees)
        row.exchange_order_id = order.exchange_order_id or row.exchange_order_id
        row.reject_reason = order.reject_reason or None
        self.session.flush()
        return row


class TradeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_fill(
        self,
        fill: Fill,
        *,
        exchange: str,
        order: Order | None,
        order_type: str,
        fee_currency: str,
        user_id: int | None,
        position_id: int | None,
        realized_pnl: float = 0.0,
    ) -> Trade:
        trade = Trade(
            user_id=user_id,
            position_id=position_id,
            order_id=order.id if order is not None else None,
            client_order_id=fill.client_order_id,
            exchange_order_id=order.exchange_order_id if order is not None else None,
            exchange_trade_id=fill.trade_id or None,
            timestamp=ms_to_datetime(fill.timestamp),
            exchange=exchange,
            symbol=fill.symbol,
            side=fill.side.value,
            order_type=order_type,
            price=to_decimal(fill.price),
            quantity=to_decimal(fill.quantity),
            total_usdt=to_decimal(fill.price) * to_decimal(fill.quantity),
            fee=to_decimal(fill.fee),
            fee_currency=fee_currency,
            liquidity=fill.liquidity.value,
            realized_pnl=to_decimal(realized_pnl),
        )
        self.session.add(trade)
        self.session.flush()
        return trade

    def for_user(self, user_id: int, limit: int = 100) -> list[Trade]:
        query = select(Trade).where(Trade.user_id == user_id).order_by(Trade.timestamp.desc())
        return list(self.session.scalars(query.limit(limit)))

    def for_position(self, position_id: int) -> list[Trade]:
        query = select(Trade).where(Trade.position_id == position_id).order_by(Trade.id)
        return list(self.session.scalars(query))


class SqlOrderJournal:
    """The order manager's journal on the database (see the module docstring)."""

    def __init__(
        self,
        session: Session,
        *,
        exchange: str,
        user_id: int | None = None,
        strategy_id: int | None = None,
        commit_each: bool = False,
    ) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.exchange = exchange
        self.user_id = user_id
        self.strategy_id = strategy_id
        self.commit_each = commit_each
        self.rows: dict[str, Order] = {}

    def _save(self, order: DomainOrder) -> None:
        cid = order.client_order_id
        self.rows[cid] = self.orders.save(
            order,
            exchange=self.exchange,
            user_id=self.user_id,
            strategy_id=self.strategy_id,
            row=self.rows.get(cid),  # an order's updates skip the lookup by id
        )
        if self.commit_each:
            self.session.commit()

    def write_ahead(self, order: DomainOrder) -> None:
        self._save(order)

    def record(self, order: DomainOrder) -> None:
        self._save(order)
