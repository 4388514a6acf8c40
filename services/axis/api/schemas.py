"""Request and response bodies of the REST API (the seed's shapes, §4, plus the platform's).

Requests refuse unknown fields, so a misspelt field is a 422 naming it rather than a silently
ignored default. Money goes out as JSON numbers (floats rounded to the cent or the tick).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from axis.domain.enums import Exchange
from axis.risk.limits import RiskProfile, TradingState
from axis.store.cache.keys import SymbolError, perpetual_symbol

API_PREFIX = "/api/v2"

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,50}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,185}\.[A-Za-z]{2,63}$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
TOTP_PATTERN = r"^\d{6}$"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorBody(BaseModel):
    success: bool = False
    error: str
    field: str | None = None
    rule: str | None = None
    details: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None
    request_id: str | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "refused (a risk rule, the venue, or a state that forbids it)",
        401: "missing, expired or invalid credentials",
        403: "not the caller's resource, or a second factor is required",
        404: "no such resource",
        409: "conflicts with the current state",
        422: "invalid input: the field at fault is named",
        429: "rate limited: see Retry-After",
        503: "a dependency is unavailable",
    }
    return {code: {"model": ErrorBody, "description": described[code]} for code in codes}


# -- auth -------------------------------------------------------------------------------------
class RegisterRequest(Request):
    username: str = Field(pattern=USERNAME_PATTERN)
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    password: str = Field(min_length=10, max_length=256)
    risk_profile: RiskProfile = RiskProfile.BALANCED


class LoginRequest(Request):
    username: str = Field(min_length=1, max_length=254, description="username or e-mail")
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(Request):
    refresh_token: str = Field(min_length=20, max_length=2048)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user_id: int


class UserOut(BaseModel):
    user_id: int
    username: str
    email: str
    risk_profile: str
    is_admin: bool
    totp_enabled: bool
    trading_state: str
    created_at: datetime


class TotpEnableResponse(BaseModel):
    secret: str
    provisioning_uri: str


class TotpVerifyRequest(Request):
    code: str = Field(pattern=TOTP_PATTERN)


class TotpVerifyResponse(BaseModel):
    totp_enabled: bool


# -- trading ----------------------------------------------------------------------------------
class PositionSideIn(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"


class CloseReason(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    MANUAL = "manual"
    LIQUIDATION = "liquidation"
    EMERGENCY = "emergency"


def _symbol(value: str) -> str:
    try:
        return perpetual_symbol(value)
    except SymbolError as exc:
        raise ValueError(str(exc)) from None


class OpenPositionRequest(Request):
    user_id: int = Field(ge=1)
    symbol: str = Field(
        min_length=3, max_length=40, description="BTCUSDT or BTC/USDT:USDT (linear perpetual)"
    )
    side: PositionSideIn
    leverage: float = Field(gt=0, le=125)
    size_usdt: float = Field(gt=0, le=1e9, description="margin committed, settle currency")
    stop_loss_pct: float | None = Field(None, gt=0, lt=1)
    take_profit_pct: float | None = Field(None, gt=0, le=10)
    regime: str | None = Field(None, max_length=20)
    confidence: float | None = Field(None, ge=0, le=1)
    ai_rationale: str | None = Field(None, max_length=10_000)
    exchange: Exchange = Exchange.BINANCE

    @field_validator("symbol")
    @classmethod
    def _perpetual(cls, value: str) -> str:
        return _symbol(value)


class RiskOutcome(BaseModel):
    action: str
    rule: str | None = None
    reason: str | None = None


class OpenPositionResponse(BaseModel):
    success: bool = True
    position_id: int
    entry_price: float
    quantity: float
    notional_value: float
    margin: float
    liquidation_price: float | None
    liquidation_distance_pct: float | None
    exchange_order_id: str
    client_order_id: str
    stop_loss_price: float | None = None
    take_profit_price: float | None = None
    fee: float
    execution: str = Field(description="paper: filled at the quoted price plus slippage")
    price_source: str
    risk: RiskOutcome


class ClosePositionRequest(Request):
    user_id: int = Field(ge=1)
    close_pct: float = Field(1.0, gt=0, le=1, description="1.0 closes all, 0.5 half")
    reason: CloseReason = CloseReason.MANUAL


class ClosePositionResponse(BaseModel):
    success: bool = True
    position_id: int
    exit_price: float
    closed_quantity: float
    remaining_quantity: float
    realized_pnl: float
    pnl_pct: float
    fee: float
    holding_hours: float
    status: str
    exchange_order_id: str
    client_order_id: str


class PositionOut(BaseModel):
    position_id: int
    user_id: int
    exchange: str
    symbol: str
    side: str
    leverage: float
    entry_price: float
    entry_time: datetime
    quantity: float
    notional_value: float
    margin: float
    stop_loss_price: float | None
    take_profit_price: float | None
    liquidation_price: float | None
    exit_price: float | None
    exit_time: datetime | None
    realized_pnl: float
    pnl_pct: float | None
    fees_paid: float
    regime: str | None
    confidence: float | None
    status: str
    close_reason: str | None


# -- market data and regime -------------------------------------------------------------------
class Candle(BaseModel):
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


class MarketDataResponse(BaseModel):
    symbol: str
    exchange: str
    timeframe: str
    cached_at: datetime
    source: str
    ohlcv: list[Candle]
    indicators: dict[str, Any] | None = None


class RegimeName(StrEnum):
    BULL_TREND = "bull_trend"
    BEAR_TREND = "bear_trend"
    CONSOLIDATION = "consolidation"
    HIGH_VOLATILITY = "high_volatility"


class RegimeResponse(BaseModel):
    regime: str
    confidence: float
    timestamp: datetime
    duration_hours: float
    evidence: dict[str, Any]


class RegimeUpdateRequest(Request):
    regime: RegimeName
    confidence: float = Field(ge=0, le=1)
    timestamp: datetime | None = None
    adx: float | None = Field(None, ge=0, le=100)
    rsi: float | None = Field(None, ge=0, le=100)
    price_vs_ma50: float | None = Field(None, ge=-1000, le=1000, description="percent")
    trend_strength: str | None = Field(None, max_length=20)
    evidence: dict[str, Any] = Field(default_factory=dict)
    ai_rationale: str | None = Field(None, max_length=10_000)


# -- portfolio --------------------------------------------------------------------------------
class Allocation(BaseModel):
    pct: float
    value_usdt: float
    position_side: str
    leverage: float
    pnl: float


class RiskMetricsOut(BaseModel):
    total_leverage: float
    margin_ratio: float = Field(
        description="maintenance margin / margin balance (1.0 = liquidation, Binance's ratio)"
    )
    closest_liquidation_distance: float | None


class PortfolioResponse(BaseModel):
    user_id: int
    timestamp: datetime
    total_value_usdt: float
    wallet_balance: float
    unrealized_pnl: float
    unrealized_pnl_pct: float
    allocations: dict[str, Allocation]
    risk_metrics: RiskMetricsOut
    trading_state: str


class KillSwitchRequest(Request):
    reason: str = Field("manual", min_length=1, max_length=500)
    flatten: bool = False


class TradingStateResponse(BaseModel):
    trading_state: str
    reason: str | None = None


class ExchangeKeysRequest(Request):
    exchange: Exchange
    label: str = Field("default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    api_key: str = Field(min_length=8, max_length=512)
    secret: str = Field(min_length=8, max_length=1024)
    password: str | None = Field(None, min_length=1, max_length=256)


class ExchangeKeysOut(BaseModel):
    """Never the keys themselves: only which account they belong to and when they changed."""

    credential_id: int
    exchange: str
    label: str
    key_version: str
    created_at: datetime
    rotated_at: datetime | None


# -- decisions and triggers -------------------------------------------------------------------
class DecisionRequest(Request):
    user_id: int = Field(ge=1)
    agent_name: str = Field(min_length=1, max_length=50)
    timestamp: datetime | None = None
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    evidence: dict[str, Any]
    reasoning: str = Field(min_length=1, max_length=50_000)
    llm_model: str | None = Field(None, max_length=50)
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)
    llm_cost: float | None = Field(None, ge=0, le=1e6)
    execution_time_ms: int | None = Field(None, ge=0)


class DecisionOut(BaseModel):
    decision_id: int
    user_id: int | None
    timestamp: datetime
    agent_name: str
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    evidence: dict[str, Any]
    reasoning: str
    actual_outcome: float | None
    decision_quality: str | None
    llm_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    llm_cost: float | None
    execution_time_ms: int | None


class TriggerRequest(Request):
    user_id: int = Field(ge=1)
    reason: str = Field("manual", pattern=r"^[a-z_]{1,40}$")


class TriggerResponse(BaseModel):
    status: str
    execution_id: str
    stream_id: str | None


# -- strategies -------------------------------------------------------------------------------
class StrategyRequest(Request):
    name: str = Field(pattern=NAME_PATTERN, description="RFC 1123 name, unique per user")
    spec: dict[str, Any] = Field(description="a TradingStrategySpec (camelCase or snake_case)")


class StrategyUpdateRequest(Request):
    spec: dict[str, Any]


class StrategyOut(BaseModel):
    strategy_id: int
    name: str
    spec: dict[str, Any]
    mode: str
    paused: bool
    trading_state: str
    kill_switch_reason: str | None
    generation: int
    created_at: datetime
    updated_at: datetime


# -- backtests --------------------------------------------------------------------------------
class BacktestRequest(Request):
    """A backtest on bundled data; server file paths are not accepted from callers."""

    strategy: str = Field("trend_futures", min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    symbol: str | None = Field(None, max_length=40)
    timeframe: str | None = Field(None, max_length=5)
    start: datetime | None = None
    end: datetime | None = None
    capital: float = Field(10_000.0, gt=0, le=1e12)
    leverage: float = Field(1.0, ge=1, le=125)
    margin_mode: str = Field("isolated", pattern=r"^(isolated|cross)$")
    exchange: Exchange = Exchange.BINANCE
    fee_model: str = Field("default", max_length=40)
    slippage: float = Field(0.0005, ge=0, lt=0.1)
    funding_rate: float = Field(0.0001, gt=-0.05, lt=0.05)
    risk_profile: RiskProfile = RiskProfile.BALANCED
    engine: str = Field("auto", pattern=r"^(auto|event|vectorized)$")
    seed: int = Field(0, ge=0, le=2**31)

    @field_validator("strategy")
    @classmethod
    def _builtin_only(cls, value: str) -> str:
        # An import path would let a caller load any module on the server.
        if not re.match(r"^[a-z][a-z0-9_]{0,63}$", value):
            raise ValueError("name a built-in strategy (see `axis strategies`)")
        return value


class BacktestOut(BaseModel):
    backtest_id: int
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


TRADING_STATES = tuple(s.value for s in TradingState)
