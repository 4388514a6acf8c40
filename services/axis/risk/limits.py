"""Risk limits and the three named risk profiles.

The numbers follow the seed requirements: a balanced user trades at most 10x and never enters
a position whose liquidation price is closer than 15% to the mark; every profile is alerted
when a position comes within 10% of liquidation and cut by half within 5%.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RiskProfile(StrEnum):
    CONSERVATIVE = "conservative"
    BALANCED = "balanced"
    AGGRESSIVE = "aggressive"


class TradingState(StrEnum):
    """What the account may do: everything, only reduce risk, or nothing but flatten."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class RiskLimits(BaseModel):
    """Pre-trade limits and position-monitor thresholds. Fractions, not percentages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_leverage: float = Field(10.0, gt=0, le=125, description="Max leverage of one position")
    max_total_leverage: float = Field(
        15.0, gt=0, description="Max sum of position notionals divided by equity"
    )
    min_liquidation_distance: float = Field(
        0.15, ge=0, lt=1, description="Min |mark - liquidation| / mark when a position opens"
    )
    max_position_notional: float | None = Field(
        None, gt=0, description="Max notional of one symbol's position, in the settle currency"
    )
    max_total_notional: float | None = Field(
        None, gt=0, description="Max notional of all positions together"
    )
    max_open_orders: int = Field(20, ge=1)
    daily_loss_limit: float = Field(
        0.05, gt=0, le=1, description="Loss since the UTC day's start that stops new risk"
    )
    max_drawdown: float = Field(
        0.20, gt=0, le=1, description="Drawdown from the equity peak that halts trading"
    )
    liquidation_alert_distance: float = Field(0.10, ge=0, lt=1)
    liquidation_emergency_distance: float = Field(0.05, ge=0, lt=1)
    emergency_reduce_fraction: float = Field(0.5, gt=0, le=1)


PROFILES: dict[RiskProfile, RiskLimits] = {
    RiskProfile.CONSERVATIVE: RiskLimits(
        max_leverage=3,
        max_total_leverage=3,
        min_liquidation_distance=0.30,
        max_open_orders=10,
        daily_loss_limit=0.02,
        max_drawdown=0.10,
    ),
    RiskProfile.BALANCED: RiskLimits(),
    RiskProfile.AGGRESSIVE: RiskLimits(
        max_leverage=20,
        max_total_leverage=30,
        min_liquidation_distance=0.08,
        max_open_orders=50,
        daily_loss_limit=0.10,
        max_drawdown=0.35,
    ),
}


def limits_for(profile: RiskProfile | str) -> RiskLimits:
    return PROFILES[RiskProfile(profile)]
