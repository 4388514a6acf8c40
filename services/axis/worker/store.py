"""What a worker keeps in the database: its order journal, snapshots, regimes and bars.

Every write is its own committed transaction (the journal's ``commit_each``): a worker killed
at any instant leaves every order it stored before sending, and the state of every report it
had received. A restart reads its open orders back from here (see :mod:`axis.worker.reconcile`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from axis.data import Bars
from axis.domain.enums import OrderSide, OrderType, TimeInForce
from axis.domain.orders import Order, OrderStatus
from axis.store.db import Database
from axis.store.models import FundingRate, PortfolioSnapshot, RegimeHistory
from axis.store.models import Order as OrderRow
from axis.store.records import FundingRepository, MarketDataRepository, RegimeRepository
from axis.store.trading import OPEN_ORDER_STATES, OrderRepository, SqlOrderJournal
from axis.store.types import to_decimal

#: Portfolio snapshots of a worker carry this user id: the book is the strategy's, not a user's.
WORKER_BOOK_USER = 0


def _sqlite_normal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def order_from_row(row: OrderRow) -> Order:
    """The domain order a stored row describes (its fills summed in ``filled_qty``)."""
    order = Order(
        row.client_order_id,
        row.symbol,
        OrderSide(row.side),
        OrderType(row.type),
        float(row.quantity),
        price=None if row.price is None else float(row.price),
        trigger_price=None if row.trigger_price is None else float(row.trigger_price),
        time_in_force=TimeInForce(row.time_in_force),
        reduce_only=row.reduce_only,
        tag=row.tag,
        created_at=int(row.created_at.timestamp() * 1000) if row.created_at else 0,
    )
    order.status = OrderStatus(row.status)
    order.filled_qty = float(row.filled_qty or 0)
    order.avg_fill_price = float(row.avg_fill_price or 0)
    order.fees = float(row.fees or 0)
    order.exchange_order_id = row.exchange_order_id or ""
    order.reject_reason = row.reject_reason or ""
    return order


def sequence_of(client_order_id: str, prefix: str) -> int | None:
    """The sequence number of one of our ids (``<prefix>-<sequence>``), else None."""
    head, sep, tail = client_order_id.rpartition("-")
    if not sep or head != prefix[:24] or not tail.isdigit():
        return None
    return int(tail)


class WorkerStore:
    """The worker's database: one :class:`Database`, one long-lived session for the journal."""

    def __init__(self, database: Database, *, exchange: str, prefix: str) -> None:
        if database.dialect == "sqlite":
            # WAL with synchronous=NORMAL: a commit survives the process being killed (what the
            # write-ahead guards against) without an fsync per order; only an OS crash or power
            # loss can drop the last commits. PostgreSQL keeps its own settings.
            event.listen(database.engine, "connect", _sqlite_normal_sync)
            database.engine.dispose()  # connections opened before this get the setting too
        self.database = database
        self.prefix = prefix
        self._session = database.sessions()
        self.journal = SqlOrderJournal(self._session, exchange=exchange, commit_each=True)
        self._warm_up(exchange)

    def _warm_up(self, exchange: str) -> None:
        """Store and update a probe order in a transaction that is rolled back: the engine
        compiles the journal's statements now, not on the first decision (about 5-10 ms
        there). Nothing is written."""
        probe = Order(f"{self.prefix[:24]}-warmup", "WARM/UP", OrderSide.BUY, OrderType.MARKET, 1.0)
        with self.database.sessions() as session:
            orders = OrderRepository(session)
            row = orders.save(probe, exchange=exchange)
            probe.status = OrderStatus.SUBMITTED
            orders.save(probe, exchange=exchange, row=row)
            orders.by_client_id(probe.client_order_id)
            session.rollback()

    def close(self) -> None:
        self._session.close()

    # -- orders -------------------------------------------------------------------------------
    def _ours(self) -> Any:
        return select(OrderRow).where(OrderRow.client_order_id.like(f"{self.prefix[:24]}-%"))

    def open_orders(self) -> list[Order]:
        """Our orders the journal holds as open (stored, sent, or partly filled)."""
        query = self._ours().where(OrderRow.status.in_(OPEN_ORDER_STATES)).order_by(OrderRow.id)
        with self.database.sessions() as session:
            return [order_from_row(row) for row in session.scalars(query)]

    def all_orders(self) -> list[Order]:
        with self.database.sessions() as session:
            return [
                order_from_row(row) for row in session.scalars(self._ours().order_by(OrderRow.id))
            ]

    def last_sequence(self) -> int:
        """The highest sequence number this prefix has used, so new ids never repeat one."""
        best = 0
        with self.database.sessions() as session:
            for cid in session.scalars(
                select(OrderRow.client_order_id).where(
                    OrderRow.client_order_id.like(f"{self.prefix[:24]}-%")
                )
            ):
                seq = sequence_of(cid, self.prefix)
                if seq is not None:
                    best = max(best, seq)
        return best

    # -- snapshots, regimes, bars -------------------------------------------------------------
    def save_snapshot(
        self,
        at_ms: int,
        *,
        equity: float,
        wallet: float,
        unrealized: float,
        leverage: float,
        allocations: dict[str, Any],
    ) -> None:
        row = PortfolioSnapshot(
            time=datetime.fromtimestamp(at_ms / 1000, UTC),
            user_id=WORKER_BOOK_USER,
            total_value_usdt=to_decimal(equity),
            wallet_balance=to_decimal(wallet),
            unrealized_pnl=to_decimal(unrealized),
            total_leverage=to_decimal(leverage),
            allocations=allocations,
        )
        with self.database.session() as session:
            session.merge(row)  # one snapshot per instant: a replayed minute overwrites

    def snapshots(self) -> list[PortfolioSnapshot]:
        with self.database.sessions() as session:
            return list(
                session.scalars(
                    select(PortfolioSnapshot)
                    .where(PortfolioSnapshot.user_id == WORKER_BOOK_USER)
                    .order_by(PortfolioSnapshot.time)
                )
            )

    def save_regime(self, at_ms: int, regime: str, evidence: dict[str, float]) -> None:
        row = RegimeHistory(
            timestamp=datetime.fromtimestamp(at_ms / 1000, UTC),
            regime=regime,
            confidence=to_decimal(1.0),
            adx=to_decimal(evidence["adx"]),
            rsi=to_decimal(evidence["rsi"]),
            price_vs_ma50=to_decimal(evidence["price_vs_ma"]),
            trend_strength="strong" if evidence["adx"] >= 40 else "moderate",
            evidence=evidence,
        )
        with self.database.session() as session:
            RegimeRepository(session).add(row)

    def regimes(self) -> list[RegimeHistory]:
        with self.database.sessions() as session:
            return list(session.scalars(select(RegimeHistory).order_by(RegimeHistory.timestamp)))

    def save_funding(
        self, exchange: str, symbol: str, rates: list[tuple[int, float, float]]
    ) -> int:
        """Funding rates as (settlement time ms, rate, mark price)."""
        rows = [
            FundingRate(
                time=datetime.fromtimestamp(at / 1000, UTC),
                exchange=exchange,
                symbol=symbol,
                funding_rate=to_decimal(rate),
                mark_price=to_decimal(mark),
            )
            for at, rate, mark in rates
        ]
        with self.database.session() as session:
            return FundingRepository(session).upsert(rows)

    def funding(self) -> list[FundingRate]:
        with self.database.sessions() as session:
            return list(session.scalars(select(FundingRate).order_by(FundingRate.time)))

    def save_bars(self, exchange: str, bars: Bars) -> int:
        with self.database.session() as session:
            return MarketDataRepository(session).upsert_bars(exchange, bars)
