"""The position monitor on a real Engine: bars walk a leveraged perpetual towards its
liquidation price; the alert fires once below 10% distance, the emergency reduction halves the
position below 5%, and both re-arm only after the distance recovers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.domain.enums import MarketType, OrderSide, OrderType
from axis.domain.orders import OrderStatus
from axis.engine.engine import Engine
from axis.risk.limits import RiskLimits, limits_for
from axis.strategies.base import BarView, Strategy
from axis.venues.simulated import SimulationSettings

PERP = "BTC/USDT:USDT"  # Binance: lot 0.001, 0.05% taker; first bracket MMR 0.4%, no cum
H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def walk(closes: Sequence[float]) -> Bars:
    """Hourly bars that open at the previous close and move straight to their own close."""
    close = np.array(closes, dtype=float)
    open_ = np.r_[close[0], close[:-1]]
    return Bars(
        PERP,
        "1h",
        T0 + H * np.arange(len(close), dtype=np.int64),
        open_,
        np.maximum(open_, close),
        np.minimum(open_, close),
        close,
        np.full(len(close), 1_000.0),
    )


class Scripted(Strategy):
    """Runs ``script[i](self)`` at the close of bar ``i``."""

    name = "scripted"
    market_type = MarketType.LINEAR_PERPETUAL

    def __init__(self, script: dict[int, Callable[[Scripted], object]]) -> None:
        super().__init__()
        self.script = script

    def on_bar(self, bar: BarView) -> None:
        action = self.script.get(bar.index)
        if action is not None:
            action(self)


def run(
    closes: Sequence[float], exposure: float, leverage: float, limits: RiskLimits
) -> tuple[Engine, Bars]:
    """Enter ``exposure`` at the close of bar 0 (filled at bar 1's open) and replay."""
    bars = walk(closes)
    strategy = Scripted({0: lambda s: s.target_exposure(exposure)})
    engine = Engine(
        strategy,
        instrument_for(PERP),
        bars,
        initial_balance=1_000.0,
        leverage=leverage,
        limits=limits,
        settings=SimulationSettings(slippage=0.0, funding_rate=0.0),
    )
    engine.run()
    return engine, bars


def events(engine: Engine, kind: str) -> list[dict[str, object]]:
    return [e for e in engine.events if e["type"] == kind]


def ts(bars: Bars, i: int) -> int:
    return int(bars.timestamp[i])


# Long 0.132 BTC at 60,000 with 8x isolated: margin 990, liquidation where
# 990 + 0.132 (P - 60,000) = 0.004 × 0.132 P  →  P = 60,000 × 0.875 / 0.996.
LONG_LIQ = 60_000.0 * 0.875 / 0.996  # 52,710.84; alert below 58,567.60, emergency below 55,485.10
LONG_CLOSES = [
    60_000,  # bar 0: the entry is placed at this close ...
    60_000,  # ... and fills at bar 1's open
    59_000,  # 10.66% away: quiet
    58_000,  # 9.12%: alert
    57_500,  # 8.33%: no second alert
    55_000,  # 4.16%: emergency reduction of half (0.066), filled at bar 6's open
    55_200,  # 4.51%: already reduced
    55_300,  # 4.68%: already reduced
    56_000,  # 5.87%: the emergency level re-arms (still inside the alert zone)
    55_000,  # 4.16%: a second reduction, of half the rest (0.033)
    60_000,  # 12.15%: recovered, the alert re-arms
    58_000,  # 9.12%: alert again
]


def test_long_alert_fires_once_per_crossing() -> None:
    engine, bars = run(LONG_CLOSES, 1.0, 8.0, limits_for("aggressive"))
    alerts = events(engine, "liquidation_alert")
    assert [a["timestamp"] for a in alerts] == [ts(bars, 3), ts(bars, 11)]
    first = alerts[0]
    assert first["symbol"] == PERP
    assert first["mark_price"] == 58_000.0
    assert first["liquidation_price"] == pytest.approx(LONG_LIQ)
    assert first["liquidation_price"] == pytest.approx(52_710.84, abs=0.01)
    assert first["liquidation_distance"] == pytest.approx((58_000.0 - LONG_LIQ) / 58_000.0)
    assert first["liquidation_distance"] == pytest.approx(0.091192, abs=1e-6)
    assert engine.liquidations == 0


def test_long_emergency_reduction_halves_the_position_once_per_crossing() -> None:
    engine, bars = run(LONG_CLOSES, 1.0, 8.0, limits_for("aggressive"))
    reductions = events(engine, "emergency_reduce")
    assert [(r["timestamp"], r["quantity"]) for r in reductions] == [
        (ts(bars, 5), 0.066),
        (ts(bars, 9), 0.033),
    ]
    assert reductions[0]["liquidation_distance"] == pytest.approx((55_000 - LONG_LIQ) / 55_000)
    orders = [o for o in engine.oms.orders.values() if o.tag == "emergency"]
    assert [(o.side, o.type, o.quantity, o.reduce_only) for o in orders] == [
        (OrderSide.SELL, OrderType.MARKET, 0.066, True),
        (OrderSide.SELL, OrderType.MARKET, 0.033, True),
    ]
    assert all(o.status is OrderStatus.FILLED for o in orders)
    assert [o.avg_fill_price for o in orders] == [55_000.0, 55_000.0]  # next bars' opens
    assert engine.position_qty() == pytest.approx(0.033)
    assert engine.liquidations == 0


def test_monitor_thresholds_follow_the_position() -> None:
    bars = walk([60_000, 60_000, 60_000])
    levels: list[tuple[float, float]] = []
    strategy = Scripted(
        {
            0: lambda s: s.target_exposure(1.0),
            1: lambda s: levels.append((s.engine.monitor.low, s.engine.monitor.high)),
        }
    )
    engine = Engine(
        strategy,
        instrument_for(PERP),
        bars,
        initial_balance=1_000.0,
        leverage=8.0,
        limits=limits_for("aggressive"),
        settings=SimulationSettings(slippage=0.0, funding_rate=0.0),
    )
    assert (engine.monitor.low, engine.monitor.high) == (-math.inf, math.inf)  # flat
    engine.run()
    # distance < 10%  ⇔  mark < liq / 0.9 for a long.
    assert levels == [(pytest.approx(LONG_LIQ / 0.9), math.inf)]
    assert levels[0][0] == pytest.approx(58_567.60, abs=0.01)
    assert events(engine, "liquidation_alert") == []


# Short 0.132 at 60,000, 8x: liquidation at 60,000 × 1.125 / 1.004 = 67,231.08; alert above
# 61,119.16, emergency above 64,029.60.
SHORT_LIQ = 60_000.0 * 1.125 / 1.004
SHORT_CLOSES = [60_000, 60_000, 61_000, 61_500, 62_000, 64_500, 64_400, 60_000]


def test_short_alert_and_emergency_reduction() -> None:
    engine, bars = run(SHORT_CLOSES, -1.0, 8.0, limits_for("aggressive"))
    alerts = events(engine, "liquidation_alert")
    assert [a["timestamp"] for a in alerts] == [ts(bars, 3)]
    assert alerts[0]["liquidation_price"] == pytest.approx(SHORT_LIQ)
    assert alerts[0]["liquidation_distance"] == pytest.approx((SHORT_LIQ - 61_500) / 61_500)
    reductions = events(engine, "emergency_reduce")
    assert [(r["timestamp"], r["quantity"]) for r in reductions] == [(ts(bars, 5), 0.066)]
    order = next(o for o in engine.oms.orders.values() if o.tag == "emergency")
    assert (order.side, order.reduce_only, order.avg_fill_price) == (OrderSide.BUY, True, 64_500.0)
    assert engine.position_qty() == pytest.approx(-0.066)
    assert engine.liquidations == 0


def test_a_position_opened_inside_the_emergency_zone_is_alerted_and_halved_at_once() -> None:
    # 20x isolated sits 4.62% from liquidation at entry (60,000 × 0.95 / 0.996 = 57,228.92):
    # a custom profile lets it open; the first bar close both alerts and halves it.
    limits = RiskLimits(max_leverage=20, max_total_leverage=30, min_liquidation_distance=0.04)
    engine, bars = run([60_000, 60_000, 60_000, 60_000], 1.0, 20.0, limits)
    entry = next(o for o in engine.oms.orders.values() if o.tag == "entry")
    assert entry.status is OrderStatus.FILLED
    assert entry.quantity == 0.33  # 1,000 / (60,000 × (1/20 + 0.0005)) = 0.33003
    alert = events(engine, "liquidation_alert")
    reduce = events(engine, "emergency_reduce")
    assert [a["timestamp"] for a in alert] == [ts(bars, 1)]
    assert alert[0]["liquidation_distance"] == pytest.approx(1 - 0.95 / 0.996)
    assert [(r["timestamp"], r["quantity"]) for r in reduce] == [(ts(bars, 1), 0.165)]
    assert engine.position_qty() == pytest.approx(0.165)


def test_no_alert_while_far_from_liquidation() -> None:
    # 2x: liquidation at 60,000 × 0.5 / 0.996 = 30,120; a 10% fall leaves it 44% away.
    engine, _ = run([60_000, 60_000, 57_000, 54_000, 60_000], 1.0, 2.0, limits_for("balanced"))
    assert engine.position_qty() == pytest.approx(0.033)  # 2,000 of notional
    assert events(engine, "liquidation_alert") == []
    assert events(engine, "emergency_reduce") == []
