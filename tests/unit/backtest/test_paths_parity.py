"""The vectorised signal kernel and the event engine must agree fill for fill.

Each scenario runs the same prepared backtest through both paths and compares every fill
(time, side, quantity, price, fee, reason), the equity curve, costs and liquidations.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from axis.backtest.runner import Outcome, Prepared, prepare, run_event
from axis.backtest.vectorized import run_vectorized
from axis.config import BacktestConfig
from axis.risk.limits import RiskLimits

SCENARIOS: dict[str, dict[str, Any]] = {
    "spot crossover": {"strategy": "ma_crossover", "symbol": "BTC/USDT", "timeframe": "5m"},
    "alt/BTC crossover": {"strategy": "ma_crossover", "symbol": "ETH/BTC", "timeframe": "5m"},
    "perp trend, 5x, stop and partial take-profit": {
        "strategy": "trend_futures",
        "symbol": "BTC/USDT",
        "timeframe": "5m",
        "leverage": 5,
    },
    "perp trend with 2 bars of latency": {
        "strategy": "trend_futures",
        "symbol": "BTC/USDT",
        "timeframe": "5m",
        "leverage": 5,
        "latency_bars": 2,
    },
    "long/short reversion on mark prices and a funding series": {
        "strategy": "rsi_reversion",
        "symbol": "XRP/USDT:USDT",
        "timeframe": "1h",
        "leverage": 3,
        "params": {"allow_short": True, "stop_loss": 0.02},
    },
    "10x reversion with the monitor's emergency reductions": {
        "strategy": "rsi_reversion",
        "symbol": "XRP/USDT:USDT",
        "timeframe": "5m",
        "leverage": 10,
        "risk_profile": "aggressive",
        "params": {"allow_short": True},
    },
}


def run_both(prepared: Prepared) -> tuple[Outcome, Outcome]:
    return run_vectorized(prepared), run_event(prepared)


def assert_same(fast: Outcome, slow: Outcome) -> None:
    assert fast.fills == slow.fills
    np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-12, atol=1e-9)
    assert np.array_equal(fast.exposure, slow.exposure)
    assert fast.fees_paid == pytest.approx(slow.fees_paid, rel=1e-12)
    assert fast.funding_paid == pytest.approx(slow.funding_paid, rel=1e-12, abs=1e-12)
    assert fast.liquidations == slow.liquidations
    assert fast.orders == slow.orders
    assert [dataclasses.astuple(t) for t in fast.trades] == [
        dataclasses.astuple(t) for t in slow.trades
    ]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_vectorised_and_event_paths_give_the_same_fills(name: str) -> None:
    prepared = prepare(BacktestConfig(**SCENARIOS[name]))
    fast, slow = run_both(prepared)
    assert len(fast.fills) > 0, "a scenario without fills proves nothing"
    assert_same(fast, slow)


def test_the_monitor_scenario_really_reduces() -> None:
    prepared = prepare(
        BacktestConfig(**SCENARIOS["10x reversion with the monitor's emergency reductions"])
    )
    fast, slow = run_both(prepared)
    kinds = [e["type"] for e in slow.events]
    assert kinds.count("emergency_reduce") >= 1
    assert [e["type"] for e in fast.events if e["type"] != "risk_veto"].count(
        "emergency_reduce"
    ) == kinds.count("emergency_reduce")
    assert any(fill[5] == "emergency" for fill in slow.fills)


@pytest.mark.parametrize("margin_mode", ["isolated", "cross"])
def test_liquidations_agree(margin_mode: str) -> None:
    """With the liquidation-distance limit lifted (only a test can do that), 20x positions
    get liquidated on the mark price; both paths liquidate at the same bars and prices."""
    config = BacktestConfig(
        strategy="rsi_reversion",
        symbol="XRP/USDT:USDT",
        timeframe="5m",
        leverage=20,
        margin_mode=margin_mode,  # type: ignore[arg-type]
        risk_profile="aggressive",  # type: ignore[arg-type]
        params={"allow_short": True},
    )
    reckless = RiskLimits(
        max_leverage=50,
        max_total_leverage=60,
        min_liquidation_distance=0.0,
        daily_loss_limit=1.0,
        max_drawdown=1.0,
        liquidation_alert_distance=0.0,
        liquidation_emergency_distance=0.0,
    )
    prepared = dataclasses.replace(prepare(config), limits=reckless)
    fast, slow = run_both(prepared)
    if margin_mode == "isolated":
        assert slow.liquidations >= 1
        assert any(fill[5] == "liquidation" for fill in slow.fills)
    assert_same(fast, slow)
