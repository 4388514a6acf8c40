"""What a running worker reports about itself: the contract between the runtime, its HTTP
endpoints (``/status``, ``/readyz``, ``/drain``), the terminal live view and the operator.

The runtime produces a :class:`WorkerStatus` snapshot on demand; everything that shows or
serves the worker's state reads only these immutable values, never the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class WorkerPhase(StrEnum):
    STARTING = "Starting"  # loading state, reconciling with the venue
    RUNNING = "Running"
    DRAINING = "Draining"  # stopping: no new risk, entry orders being cancelled
    HALTED = "Halted"  # trading stopped by a breach or an unexplained venue state
    STOPPED = "Stopped"


class TradingState(StrEnum):
    ACTIVE = "active"  # may open and close risk
    REDUCING = "reducing"  # may only reduce risk
    HALTED = "halted"  # sends no orders except protective ones


class DrainState(StrEnum):
    IDLE = "idle"  # no drain asked
    DRAINING = "draining"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    side: str  # "long" | "short"
    quantity: float
    entry_price: float
    mark_price: float
    unrealized_pnl: float
    leverage: float
    liquidation_price: float | None
    liquidation_distance: float | None  # |mark - liquidation| / mark


@dataclass(frozen=True, slots=True)
class OrderView:
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: float
    price: float | None
    status: str
    filled: float


@dataclass(frozen=True, slots=True)
class AlertView:
    timestamp_ms: int
    kind: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class VenueView:
    name: str
    healthy: bool


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One consistent snapshot of a worker."""

    strategy: str
    mode: str  # "paper" | "live"
    phase: WorkerPhase
    trading_state: TradingState
    drain: DrainState
    clock_ms: int  # the worker's clock: wall time live, replay time in paper replays
    equity: float
    cash: float
    realized_pnl: float
    fees_paid: float
    funding_paid: float
    drawdown: float  # fraction below the equity peak, 0..1
    bars_processed: int
    last_bar_ms: int | None
    last_decision_ms: int | None
    decision_latency_p50_ms: float | None
    decision_latency_p99_ms: float | None
    positions: tuple[PositionView, ...] = ()
    open_orders: tuple[OrderView, ...] = ()
    recent_alerts: tuple[AlertView, ...] = ()
    venues: tuple[VenueView, ...] = ()
    equity_curve: tuple[float, ...] = field(default=())  # recent equity samples, oldest first

    @property
    def ready(self) -> bool:
        return self.phase is WorkerPhase.RUNNING

    def to_json(self) -> dict[str, Any]:
        """The ``/status`` body the operator reads (keys in the process contract)."""
        from datetime import UTC, datetime

        last = (
            None
            if self.last_decision_ms is None
            else datetime.fromtimestamp(self.last_decision_ms / 1000, UTC).isoformat()
        )
        return {
            "strategy": self.strategy,
            "phase": self.phase.value,
            "mode": self.mode,
            "tradingState": self.trading_state.value,
            "equity": self.equity,
            "openPositions": len(self.positions),
            "openOrders": len(self.open_orders),
            "lastDecisionAt": last,
            "venues": [{"name": v.name, "healthy": v.healthy} for v in self.venues],
            "drain": self.drain.value,
        }


class WorkerControl(Protocol):
    """What the HTTP endpoints and the live view may ask of a running worker."""

    def status(self) -> WorkerStatus: ...

    def request_drain(self, flatten: bool) -> None:
        """Stop opening risk, cancel working entry orders, keep protective stops; close
        positions too when ``flatten``. Returns at once; progress shows in ``status().drain``."""
        ...
