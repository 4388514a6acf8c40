"""Turn a stream of fills and funding settlements into closed trades.

A trade is recorded for every fill that closes position quantity ("exit trades"): a take-profit
that closes half a position and a stop that closes the rest make two trades. Entry fees and
funding are attributed to each exit pro rata to the quantity it closes. Both execution paths
(per-event engine and vectorised kernel) feed this same builder.
"""

from __future__ import annotations

from dataclasses import dataclass

from axis.backtest.result import TradeRecord


@dataclass(slots=True)
class _OpenTrade:
    quantity: float = 0.0  # signed, contracts
    avg_entry: float = 0.0
    entry_time: int = 0
    entry_fees: float = 0.0  # fees of opening fills not yet attributed to an exit
    funding: float = 0.0  # funding paid (positive) not yet attributed


class TradeBuilder:
    def __init__(self, symbol: str, contract_size: float = 1.0) -> None:
        self.symbol = symbol
        self.contract_size = contract_size
        self.trades: list[TradeRecord] = []
        self._open = _OpenTrade()

    def on_fill(
        self, side: int, quantity: float, price: float, fee: float, ts: int, reason: str
    ) -> None:
        """Record a fill of ``quantity`` contracts (``side`` +1 buy, -1 sell)."""
        t = self._open
        closed = 0.0
        if t.quantity != 0.0 and side * t.quantity < 0:
            closed = min(quantity, abs(t.quantity))
            share = closed / abs(t.quantity)
            entry_fees, funding = t.entry_fees * share, t.funding * share
            exit_fee = fee * closed / quantity
            direction = 1.0 if t.quantity > 0 else -1.0
            gross = direction * closed * self.contract_size * (price - t.avg_entry)
            self.trades.append(
                TradeRecord(
                    symbol=self.symbol,
                    side="long" if direction > 0 else "short",
                    entry_time=t.entry_time,
                    exit_time=ts,
                    entry_price=t.avg_entry,
                    exit_price=price,
                    quantity=closed,
                    pnl=gross - entry_fees - exit_fee - funding,
                    fees=entry_fees + exit_fee,
                    funding=funding,
                    exit_reason=reason,
                )
            )
            t.entry_fees -= entry_fees
            t.funding -= funding
            t.quantity += direction * -closed
            if abs(t.quantity) <= 1e-12 * max(closed, 1.0):
                self._open = t = _OpenTrade()
        opened = quantity - closed
        if opened > 0.0:
            if t.quantity == 0.0:
                t.entry_time = ts
            size = abs(t.quantity)
            t.avg_entry = (t.avg_entry * size + price * opened) / (size + opened)
            t.quantity += side * opened
            t.entry_fees += fee * opened / quantity

    def on_funding(self, amount: float) -> None:
        """A funding settlement of ``amount`` cash (negative when the position paid)."""
        if self._open.quantity != 0.0:
            self._open.funding -= amount

    def close_open(self, price: float, ts: int) -> None:
        """Report a still-open position as a trade marked at ``price`` (no exit fee): the
        run ended, the position did not."""
        t = self._open
        if t.quantity == 0.0:
            return
        side = -1 if t.quantity > 0 else 1
        quantity = abs(t.quantity)
        self.on_fill(side, quantity, price, 0.0, ts, "end_of_data")
