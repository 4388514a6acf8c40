"""Repositories on PostgreSQL and SQLite: exact money, aware times, idempotent upserts, the
order journal of the core OMS, regimes, models and jobs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.exc import StatementError

from axis.data import Bars
from axis.domain.enums import MarginMode, OrderSide, OrderType
from axis.domain.orders import Order as DomainOrder
from axis.store import (
    Database,
    DecisionRepository,
    MarketDataRepository,
    ModelRepository,
    OrderRepository,
    RegimeRepository,
    SnapshotRepository,
    SqlOrderJournal,
    TrainingJobRepository,
    UserRepository,
)
from axis.store.models import AIDecision, ModelRecord, PortfolioSnapshot, RegimeHistory


@pytest.fixture(params=["pg", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "pg":
        url = request.getfixturevalue("fresh_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'store.db'}"
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def _user(db: Database) -> int:
    with db.session() as session:
        return UserRepository(session).create("trader", "T@Example.com", "hash").id


def test_money_is_exact_and_times_stay_utc(db: Database) -> None:
    user_id = _user(db)
    with db.session() as session:
        user = UserRepository(session).get(user_id)
        assert user.email == "t@example.com"
        user.wallet_balance = Decimal("0.1") + Decimal("0.2")
        user.peak_equity = 0.1  # type: ignore[assignment]  # floats go in by their repr
    with db.session() as session:
        user = UserRepository(session).get(user_id)
        assert user.wallet_balance == Decimal("0.3")
        assert user.peak_equity == Decimal("0.1")
        assert user.created_at.tzinfo is not None
        assert user.created_at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive"), db.session() as session:
        session.add(
            RegimeHistory(timestamp=datetime(2025, 1, 1), regime="bull_trend", confidence=0.5)
        )


def test_market_data_upserts_are_idempotent(db: Database) -> None:
    ts = np.arange(0, 10 * 300_000, 300_000, dtype=np.int64) + 1_700_000_000_000
    close = np.linspace(100, 109, 10)
    bars = Bars("BTC/USDT:USDT", "5m", ts, close, close + 1, close - 1, close, np.ones(10))
    with db.session() as session:
        repo = MarketDataRepository(session)
        assert repo.upsert_bars("binance", bars) == 10
        assert repo.upsert_bars("binance", bars) == 10
    changed = Bars(
        "BTC/USDT:USDT",
        "5m",
        ts[-1:],
        close[-1:],
        close[-1:] + 5,
        close[-1:],
        np.array([123.45678901]),
        np.ones(1),
    )
    with db.session() as session:
        repo = MarketDataRepository(session)
        repo.upsert_bars("binance", changed)
        rows = repo.latest("binance", "BTC/USDT:USDT", "5m", 200)
        assert len(rows) == 10
        assert rows[0].time < rows[-1].time
        assert rows[-1].close == Decimal("123.45678901")
        assert repo.last("binance", "BTC/USDT:USDT").close == Decimal("123.45678901")


def test_the_core_order_manager_journals_to_the_store(db: Database) -> None:
    """Write-ahead: the order row exists before the venue sees the order."""
    user_id = _user(db)
    seen_by_venue: list[str] = []

    class Venue:
        name = "check"

        def submit(self, order: DomainOrder) -> None:
            with db.session() as other:  # another connection: the row is committed already
                row = OrderRepository(other).by_client_id(order.client_order_id)
                seen_by_venue.append(row.status if row else "missing")
            order.submit()
            order.apply_fill(order.quantity, 50_000.0, 0.05)
            manager.on_update(order)

        def cancel(self, client_order_id: str) -> None:
            return None

        def open_orders(self) -> list[DomainOrder]:
            return []

    from axis.domain.catalog import instrument_for
    from axis.engine.oms import OrderManager
    from axis.risk.chain import OrderIntent, RiskChain, RiskSnapshot
    from axis.risk.limits import TradingState, limits_for

    inst = instrument_for("BTC/USDT:USDT")
    snapshot = RiskSnapshot(
        limits_for("balanced"),
        TradingState.ACTIVE,
        inst,
        0.0,
        0.0,
        0.0,
        2.0,
        MarginMode.ISOLATED,
        10_000.0,
        10_000.0,
        10_000.0,
        0.0,
        0,
    )
    with db.sessions() as session:
        journal = SqlOrderJournal(session, exchange="binance", user_id=user_id, commit_each=True)
        manager = OrderManager(Venue(), RiskChain(), lambda _i: snapshot, journal, "wk")
        intent = OrderIntent(
            "BTC/USDT:USDT", OrderSide.BUY, 0.01, OrderType.MARKET, reference_price=50_000.0
        )
        order, _ = manager.place(intent, 1_700_000_000_000)
    assert seen_by_venue == ["new"]
    with db.session() as session:
        row = OrderRepository(session).by_client_id(order.client_order_id)
        assert row.status == "filled"
        assert row.filled_qty == Decimal("0.01")
        assert row.fees == Decimal("0.05")
        assert OrderRepository(session).open_count(user_id) == 0


def test_regime_runs_and_history(db: Database) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with db.session() as session:
        repo = RegimeRepository(session)
        for hours, regime in ((0, "bull_trend"), (5, "consolidation"), (9, "consolidation")):
            repo.add(
                RegimeHistory(
                    timestamp=start + timedelta(hours=hours),
                    regime=regime,
                    confidence=Decimal("0.7"),
                )
            )
        latest = repo.latest()
        assert latest.regime == "consolidation"
        assert repo.run_start(latest) == start + timedelta(hours=5)
        assert len(repo.since(start + timedelta(hours=4))) == 2


def test_decisions_snapshots_models_and_jobs(db: Database) -> None:
    user_id = _user(db)
    now = datetime(2025, 1, 27, 14, 30, tzinfo=UTC)
    with db.session() as session:
        decisions = DecisionRepository(session)
        decision = decisions.add(
            AIDecision(
                user_id=user_id,
                timestamp=now,
                agent_name="ceo",
                input_data={"x": 1},
                output_data={"action": "LONG"},
                evidence={"adx": 40},
                reasoning="trend",
            )
        )
        assert decisions.due_for_review(now + timedelta(hours=24)) == [decision]
        decisions.record_outcome(decision, 0.0123, "correct", {"adx": True})
        assert decisions.due_for_review(now + timedelta(hours=24)) == []
        SnapshotRepository(session).add(
            PortfolioSnapshot(
                time=now,
                user_id=user_id,
                total_value_usdt=Decimal("10850"),
                wallet_balance=Decimal("10000"),
                unrealized_pnl=Decimal("850"),
                allocations={"BTC": 85.0},
            )
        )
        assert SnapshotRepository(session).latest(user_id).unrealized_pnl == Decimal("850")
        models = ModelRepository(session)
        for version in ("1", "2"):
            models.register(
                ModelRecord(
                    name="regime",
                    version=version,
                    role="regime",
                    uri=f"models:/regime/{version}",
                    params={},
                    metrics={},
                )
            )
        models.set_alias("regime", "1", "champion")
        models.set_alias("regime", "2", "champion")
        assert models.by_alias("regime", "champion").version == "2"
        assert models.get("regime", "1").alias is None
        jobs = TrainingJobRepository(session)
        job = jobs.create("regime", {"epochs": 3})
        jobs.start(job, "run-1")
        jobs.finish(job, {"accuracy": 0.61})
        assert jobs.by_status("succeeded") == [job]
