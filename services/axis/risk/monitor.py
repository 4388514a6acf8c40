"""The position monitor: liquidation-distance alerts and the emergency reduction.

Stop-loss and take-profit are placed as reduce-only orders at the venue after each entry fill
(the engine does this), so they act inside the bar like an exchange's own orders. This monitor
watches the liquidation distance on the mark price at every bar close:

- below ``liquidation_alert_distance`` (10%): an alert;
- below ``liquidation_emergency_distance`` (5%): a reduce-only market order for
  ``emergency_reduce_fraction`` (50%) of the position.

Each fires once per crossing and re-arms when the distance recovers. The thresholds are turned
into mark prices whenever the position changes, so a bar costs two comparisons.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from axis.domain.enums import OrderSide
from axis.domain.futures import liquidation_distance
from axis.risk.limits import RiskLimits

if TYPE_CHECKING:
    from axis.engine.engine import Engine


class PositionMonitor:
    def __init__(self, engine: Engine, limits: RiskLimits) -> None:
        self.engine = engine
        self.limits = limits
        self.low = -math.inf  # check when the mark closes at or below this
        self.high = math.inf  # ... or at or above this
        self._alerted = False
        self._reduced = False

    def on_position_change(self) -> None:
        """Recompute the mark prices at which the next alert or reduction is due."""
        position = self.engine.position()
        liq = self.engine.venue.liquidation_price
        self.low, self.high = -math.inf, math.inf
        if position.is_flat or math.isnan(liq):
            self._alerted = self._reduced = False
            return
        # distance < d  ⇔  mark < liq / (1 - d) for a long, mark > liq / (1 + d) for a short.
        if position.quantity > 0:
            self.low = liq / (1.0 - self.limits.liquidation_alert_distance)
            if self._alerted:
                self.low = math.inf  # check every bar until it recovers
        else:
            self.high = liq / (1.0 + self.limits.liquidation_alert_distance)
            if self._alerted:
                self.high = -math.inf

    def check(self, index: int, mark: float) -> None:
        engine = self.engine
        position = engine.position()
        liq = engine.venue.liquidation_price
        if position.is_flat or math.isnan(liq):
            self.on_position_change()
            return
        distance = float(liquidation_distance(mark, liq))
        limits = self.limits
        if distance >= limits.liquidation_alert_distance:
            self._alerted = self._reduced = False
        else:
            if not self._alerted:
                self._alerted = True
                engine.events.append(
                    {
                        "type": "liquidation_alert",
                        "timestamp": engine.timestamp(),
                        "symbol": engine.symbol,
                        "liquidation_distance": distance,
                        "liquidation_price": liq,
                        "mark_price": mark,
                    }
                )
            if distance < limits.liquidation_emergency_distance and not self._reduced:
                self._reduced = True
                self._emergency_reduce(distance, mark)
            elif distance >= limits.liquidation_emergency_distance:
                self._reduced = False
        self.on_position_change()

    def _emergency_reduce(self, distance: float, mark: float) -> None:
        engine = self.engine
        position = engine.position()
        quantity = engine.instrument.round_qty(
            abs(position.quantity) * self.limits.emergency_reduce_fraction
        )
        engine.events.append(
            {
                "type": "emergency_reduce",
                "timestamp": engine.timestamp(),
                "symbol": engine.symbol,
                "liquidation_distance": distance,
                "mark_price": mark,
                "quantity": quantity,
            }
        )
        if quantity > 0:
            side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
            engine.place_order(side, quantity, reduce_only=True, tag="emergency")
