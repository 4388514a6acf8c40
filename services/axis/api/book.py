"""A user's book valued at current prices: equity, exposure, margin, liquidation distance.

Pure functions over plain numbers; the API's risk snapshot and the portfolio endpoint both use
them, so the equity the risk chain sees is the equity the user is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from axis.domain.catalog import instrument_for
from axis.domain.enums import Exchange
from axis.domain.futures import liquidation_distance, margin_ratio
from axis.domain.instrument import Instrument
from axis.store.models import Position


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """An open position as the book needs it (from the database or the cache)."""

    position_id: int
    exchange: str
    symbol: str
    sign: int  # +1 long, -1 short
    quantity: float  # base units, positive
    entry: float
    margin: float
    leverage: float
    liquidation_price: float  # nan when not liquidatable

    @classmethod
    def of(cls, row: Position) -> OpenPosition:
        return cls(
            row.id,
            row.exchange,
            row.symbol,
            1 if row.side == "long" else -1,
            float(row.quantity),
            float(row.entry_price),
            float(row.margin),
            float(row.leverage),
            float(row.liquidation_price) if row.liquidation_price is not None else math.nan,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.position_id,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "sign": self.sign,
            "quantity": self.quantity,
            "entry": self.entry,
            "margin": self.margin,
            "leverage": self.leverage,
            "liq": None if math.isnan(self.liquidation_price) else self.liquidation_price,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpenPosition:
        liq = data.get("liq")
        return cls(
            int(data["id"]),
            str(data["exchange"]),
            str(data["symbol"]),
            int(data["sign"]),
            float(data["quantity"]),
            float(data["entry"]),
            float(data["margin"]),
            float(data["leverage"]),
            math.nan if liq is None else float(liq),
        )


@lru_cache(maxsize=256)
def instrument(exchange: str, symbol: str) -> Instrument:
    return instrument_for(symbol, Exchange(exchange))


@dataclass(frozen=True, slots=True)
class Holding:
    position: OpenPosition
    mark: float
    unrealized_pnl: float
    notional: float
    maintenance: float
    distance: float  # liquidation distance at the mark (inf when not liquidatable)


@dataclass(frozen=True, slots=True)
class Valuation:
    wallet: float
    holdings: list[Holding]

    @property
    def unrealized_pnl(self) -> float:
        return sum(h.unrealized_pnl for h in self.holdings)

    @property
    def equity(self) -> float:
        return self.wallet + self.unrealized_pnl

    @property
    def notional(self) -> float:
        return sum(h.notional for h in self.holdings)

    @property
    def used_margin(self) -> float:
        return sum(h.position.margin for h in self.holdings)

    @property
    def available_margin(self) -> float:
        """What a new isolated position may commit: wallet less margin already committed,
        plus unrealised losses (gains are not withdrawable before they are realised)."""
        losses = sum(min(h.unrealized_pnl, 0.0) for h in self.holdings)
        return self.wallet - self.used_margin + losses

    @property
    def total_leverage(self) -> float:
        equity = self.equity
        return self.notional / equity if equity > 0 else math.inf

    @property
    def margin_ratio(self) -> float:
        """Maintenance margin over margin balance (Binance's account margin ratio)."""
        return float(margin_ratio(self.equity, sum(h.maintenance for h in self.holdings)))

    @property
    def closest_liquidation_distance(self) -> float | None:
        finite = [h.distance for h in self.holdings if math.isfinite(h.distance)]
        return min(finite) if finite else None


def value_book(
    wallet: float, positions: list[OpenPosition], marks: dict[tuple[str, str], float]
) -> Valuation:
    holdings: list[Holding] = []
    for p in positions:
        mark = marks[(p.exchange, p.symbol)]
        notional = p.quantity * mark
        bracket = instrument(p.exchange, p.symbol).bracket_for(notional)
        holdings.append(
            Holding(
                p,
                mark,
                p.sign * p.quantity * (mark - p.entry),
                notional,
                bracket.maintenance_margin(notional),
                float(liquidation_distance(mark, p.liquidation_price)),
            )
        )
    return Valuation(wallet, holdings)
