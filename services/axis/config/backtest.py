"""The backtest spec: everything that decides a backtest's result, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from axis.domain.enums import Exchange, MarginMode
from axis.risk.limits import RiskProfile


class ConfigError(ValueError):
    """A setting that cannot work; the message names the setting."""


class EngineChoice(StrEnum):
    AUTO = "auto"  # vectorised when the strategy and settings allow it, else event-driven
    EVENT = "event"  # bar by bar through on_bar
    VECTORIZED = "vectorized"  # compiled signal kernel (signal strategies only)


class BacktestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    strategy: str = Field("trend_futures", description="built-in name or module:Class")
    params: dict[str, Any] = Field(default_factory=dict)
    symbol: str | None = Field(None, description="ccxt symbol, e.g. BTC/USDT or BTC/USDT:USDT")
    timeframe: str | None = Field(None, description="bar timeframe, e.g. 5m")
    data: Path | None = Field(None, description="OHLCV file (CSV, CSV.gz, Parquet)")
    mark_data: Path | None = Field(None, description="mark-price OHLC file (perpetuals)")
    funding_data: Path | None = Field(None, description="funding-rate file (perpetuals)")
    start: datetime | None = None
    end: datetime | None = None
    capital: float = Field(10_000.0, gt=0, description="initial balance in the settle currency")
    leverage: float = Field(1.0, ge=1, le=125)
    margin_mode: MarginMode = MarginMode.ISOLATED
    exchange: Exchange = Exchange.BINANCE
    fee_model: str = Field("default", description="exchange name, zero, or MAKER/TAKER")
    slippage: float = Field(0.0005, ge=0, lt=0.1, description="taker slippage fraction")
    participation_cap: float = Field(0.0, ge=0, le=1, description="max share of bar volume")
    latency_bars: int = Field(0, ge=0, le=1000)
    latency_ms: int = Field(0, ge=0)
    funding_rate: float = Field(0.0001, gt=-0.05, lt=0.05, description="per 8h, no series")
    risk_profile: RiskProfile = RiskProfile.BALANCED
    engine: EngineChoice = EngineChoice.AUTO
    seed: int = 0

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def window_ms(self) -> tuple[int | None, int | None]:
        start = int(self.start.timestamp() * 1000) if self.start else None
        end = int(self.end.timestamp() * 1000) if self.end else None
        if start is not None and end is not None and end <= start:
            raise ConfigError("end must be after start")
        return start, end

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of the settings, for result.json."""
        return self.model_dump(mode="json")
