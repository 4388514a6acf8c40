"""A one-way-mode position: signed quantity, average entry, margin and its running costs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from axis.domain.enums import MarginMode, OrderSide, PositionSide
from axis.domain.futures import funding_payment, unrealized_pnl
from axis.domain.instrument import Instrument
from axis.domain.liquidation import liquidation_price


class FillEffect(NamedTuple):
    """What one fill did to a position: the quantity it closed and the PnL that realised.
    A tuple, not a dataclass: every fill makes two (the venue's position and the engine's)."""

    closed_qty: float
    opened_qty: float
    realized_pnl: float  # price PnL of the closed part, before fees
    released_margin: float


_new_effect = tuple.__new__  # the generated FillEffect(...) costs twice as much


@dataclass(slots=True)
class Position:
    """One instrument's position in one-way mode. ``quantity`` is signed in contracts: positive
    long, negative short, zero flat. Spot positions are long-only with leverage 1."""

    instrument: Instrument
    margin_mode: MarginMode = MarginMode.ISOLATED
    leverage: float = 1.0
    quantity: float = 0.0
    avg_entry: float = 0.0
    margin: float = 0.0  # isolated margin held by the position (initial margin of what is open)
    realized_pnl: float = 0.0
    fees_paid: float = 0.0
    funding_paid: float = 0.0  # positive when the position paid funding
    opened_at: int = 0

    @property
    def side(self) -> PositionSide | None:
        if self.quantity > 0:
            return PositionSide.LONG
        if self.quantity < 0:
            return PositionSide.SHORT
        return None

    @property
    def sign(self) -> int:
        return (self.quantity > 0) - (self.quantity < 0)

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0.0

    @property
    def base_qty(self) -> float:
        """Absolute size in base currency units."""
        return abs(self.quantity) * self.instrument.contract_size

    def notional(self, mark: float) -> float:
        return self.base_qty * mark

    def unrealized_pnl(self, mark: float) -> float:
        if self.quantity == 0.0:
            return 0.0
        return float(unrealized_pnl(self.sign, self.base_qty, self.avg_entry, mark))

    def apply_fill(self, side: OrderSide, quantity: float, price: float, fee: float) -> FillEffect:
        """Update the position for an execution of ``quantity`` contracts at ``price``.

        A fill against the position's side closes (realising PnL at the average entry) before it
        opens the other way; the average entry moves only with quantity that adds.
        """
        signed = quantity * side.sign
        self.fees_paid += fee
        closed = 0.0
        realized = 0.0
        released = 0.0
        held = self.quantity  # read once: every fill passes here twice (venue and engine)
        if held != 0.0 and (signed > 0) != (held > 0):
            closed = min(abs(signed), abs(held))
            cs = self.instrument.contract_size
            realized = float(unrealized_pnl(self.sign, closed * cs, self.avg_entry, price))
            released = self.margin * closed / abs(held)
            self.margin -= released
            held += math.copysign(closed, signed)
            self.realized_pnl += realized
            if abs(held) <= self.instrument.lot_size * 1e-9:
                held, self.avg_entry, self.margin = 0.0, 0.0, 0.0
            self.quantity = held
        opened = abs(signed) - closed
        if opened > 0.0:
            size = abs(held)
            total = size + opened
            self.avg_entry = (self.avg_entry * size + price * opened) / total
            self.quantity = math.copysign(total, signed)
            self.margin += opened * self.instrument.contract_size * price / self.leverage
        return _new_effect(FillEffect, (closed, opened, realized, released))

    def apply_funding(self, mark: float, rate: float) -> float:
        """Settle one funding interval; returns the cash amount (negative when paid)."""
        if self.quantity == 0.0:
            return 0.0
        amount = float(funding_payment(self.sign, self.base_qty, mark, rate))
        self.funding_paid -= amount
        return amount

    def liquidation_price(self, collateral: float | None = None) -> float:
        """Mark price at which the venue liquidates; nan when flat or not liquidatable.

        Isolated positions are backed by their own margin; cross positions by ``collateral``
        (wallet balance less other positions' maintenance margin plus their unrealised PnL).
        """
        if self.quantity == 0.0 or not self.instrument.is_perpetual:
            return math.nan
        backing = self.margin if collateral is None else collateral
        return liquidation_price(
            self.instrument, self.sign, self.base_qty, self.avg_entry, backing, self.margin_mode
        )
