"""A worker stand-in for the endpoint and view tests: it answers WorkerControl from a status
the test sets, and drains the way the contract says (entry orders gone, positions closed when
asked to flatten)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from axis.worker.status import (
    AlertView,
    DrainState,
    OrderView,
    PositionView,
    TradingState,
    VenueView,
    WorkerPhase,
    WorkerStatus,
)

T0 = int(datetime(2024, 3, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)


def running_status(**changes: object) -> WorkerStatus:
    status = WorkerStatus(
        strategy="trend_futures",
        mode="paper",
        phase=WorkerPhase.RUNNING,
        trading_state=TradingState.ACTIVE,
        drain=DrainState.IDLE,
        clock_ms=T0,
        equity=10_512.25,
        cash=9_800.0,
        realized_pnl=430.5,
        fees_paid=12.75,
        funding_paid=3.5,
        drawdown=0.042,
        bars_processed=1_234,
        last_bar_ms=T0 - 300_000,
        last_decision_ms=T0 - 299_000,
        decision_latency_p50_ms=0.41,
        decision_latency_p99_ms=1.87,
        positions=(
            PositionView(
                symbol="BTC/USDT:USDT",
                side="long",
                quantity=0.25,
                entry_price=61_000.0,
                mark_price=62_000.0,
                unrealized_pnl=250.0,
                leverage=5.0,
                liquidation_price=49_100.0,
                liquidation_distance=0.2081,
            ),
        ),
        open_orders=(
            OrderView(
                client_order_id="axis-stop-1",
                symbol="BTC/USDT:USDT",
                side="sell",
                type="stop_market",
                quantity=0.25,
                price=58_000.0,
                status="open",
                filled=0.0,
            ),
        ),
        recent_alerts=(
            AlertView(
                timestamp_ms=T0 - 60_000,
                kind="job_slow",
                severity="warning",
                message="job snapshot still running after its 5s budget",
            ),
        ),
        venues=(VenueView(name="simulated", healthy=True),),
        equity_curve=(10_000.0, 10_120.0, 9_950.0, 10_300.0, 10_512.25),
    )
    return replace(status, **changes)  # type: ignore[arg-type]


class FakeWorker:
    def __init__(self, status: WorkerStatus | None = None) -> None:
        self.current = status or running_status()
        self.drains: list[bool] = []

    def status(self) -> WorkerStatus:
        return self.current

    def request_drain(self, flatten: bool) -> None:
        self.drains.append(flatten)
        positions = () if flatten else self.current.positions
        self.current = replace(
            self.current,
            phase=WorkerPhase.DRAINING,
            drain=DrainState.DONE if flatten else DrainState.DRAINING,
            trading_state=TradingState.REDUCING,
            positions=positions,
        )


@pytest.fixture
def status_factory() -> Callable[..., WorkerStatus]:
    return running_status


@pytest.fixture
def fake_worker() -> FakeWorker:
    return FakeWorker()
