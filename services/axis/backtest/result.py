"""What a backtest produces: closed trades, the equity curve, metrics and the run's config."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One round trip: a position opened and (fully or partly) closed.

    ``pnl`` is net of the fees and funding attributed to this trade. Times are epoch ms (UTC).
    """

    symbol: str
    side: str  # "long" | "short"
    entry_time: int
    exit_time: int
    entry_price: float
    exit_price: float
    quantity: float
    pnl: float
    fees: float
    funding: float
    exit_reason: str  # "signal" | "stop_loss" | "take_profit" | "liquidation" | "end_of_data" | ...

    @property
    def return_pct(self) -> float:
        """Price return of the trade in the position's direction, before costs."""
        direction = 1.0 if self.side == "long" else -1.0
        return direction * (self.exit_price / self.entry_price - 1.0)


@dataclass(slots=True)
class BacktestResult:
    config: dict[str, Any]
    metrics: dict[str, float | int]
    trades: list[TradeRecord]
    timestamps: np.ndarray  # int64 epoch ms, one per bar
    equity: np.ndarray  # float64 account equity at each bar's close
    close: np.ndarray  # float64 close price per bar, for the price chart
    events: list[dict[str, Any]] = field(default_factory=list)  # liquidations, halts, alerts

    def trades_digest(self) -> str:
        """SHA-256 of the trade list, for determinism checks."""
        payload = json.dumps([asdict(t) for t in self.trades], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "metrics": self.metrics,
            "trades": [asdict(t) for t in self.trades],
            "trades_sha256": self.trades_digest(),
            "events": self.events,
            "equity_curve": {
                "timestamp": self.timestamps.tolist(),
                "equity": np.round(self.equity, 8).tolist(),
            },
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
