"""The engine's venue in live mode: orders go to a :class:`LiveVenue`, nothing is simulated.

The engine was written against the simulated venue's bar-by-bar interface (it asks it to
process bars and reads the fee, slippage and liquidation price it sizes and monitors with).
:class:`LiveVenueBridge` keeps that interface with its matching switched off: ``submit`` and
``cancel`` are handed to the live venue, whose order updates and fills reach the engine through
the listener; the liquidation price is the exchange's (set from its position reports) or, between
reports, the one the book's own position implies.
"""

from __future__ import annotations

import math

from axis.data import Bars
from axis.domain.enums import MarginMode
from axis.domain.instrument import Instrument
from axis.domain.orders import Order
from axis.venues.base import LiveVenue, VenueListener
from axis.venues.simulated import SimulatedVenue, SimulationSettings

#: Taker slippage the engine assumes when it sizes a market order for a live venue.
LIVE_SIZING_SLIPPAGE = 0.0005


class LiveVenueBridge(SimulatedVenue):
    def __init__(
        self,
        live: LiveVenue,
        instrument: Instrument,
        grid: Bars,
        listener: VenueListener,
        *,
        initial_balance: float,
        leverage: float,
        margin_mode: MarginMode,
    ) -> None:
        super().__init__(
            instrument,
            grid,
            listener,
            initial_balance=initial_balance,
            leverage=leverage,
            margin_mode=margin_mode,
            # Funding is the exchange's to charge and report; nothing is settled here.
            settings=SimulationSettings(slippage=LIVE_SIZING_SLIPPAGE, funding_rate=0.0),
        )
        self.live = live
        self.name = live.name
        self.funding, self._funding_bars = {}, []
        self.next_index = len(grid)

    def submit(self, order: Order) -> None:
        self.live.submit(order)

    def cancel(self, client_order_id: str) -> None:
        self.live.cancel(client_order_id)

    def open_orders(self) -> list[Order]:
        return self.live.open_orders()

    def process_bar(self, i: int) -> None:
        """Nothing to match: the exchange did. Only the bar being processed moves on."""
        self._now_index, self._now_t = i, 3.0

    def _refresh_guards(self) -> None:
        self.trig_low, self.trig_high, self.next_index = -math.inf, math.inf, len(self.ts)

    def set_liquidation_price(self, price: float | None) -> None:
        self.liquidation_price = math.nan if price is None or price <= 0 else price
