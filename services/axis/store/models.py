"""The AXIS database: SQLAlchemy 2.0 models.

Tables follow the seed schema (users, positions, trades, ai_decisions, decision_analysis,
regime_history, market_data, portfolio_snapshots, funding_rate_history) with what the platform
adds: encrypted exchange credentials (moved off ``users``), orders (the write-ahead journal of
every order), refresh tokens, strategies and backtest jobs, performance and risk metrics, model
records and training jobs, the append-only audit log, and each worker's venue events
(circuit breakers and failovers). Money is exact (:class:`Money`),
times are aware UTC (:class:`UTCDateTime`).

Indexes serve the queries the API and the workers make: a user's open positions, a user's
trades and decisions newest first, candles of one market newest first, the orders still open.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from axis.store.types import BigId, JSONType, Money, UTCDateTime, utcnow

# Stable constraint names, so migrations can refer to them on every dialect.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


# -- accounts ---------------------------------------------------------------------------------
class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    risk_profile: Mapped[str] = mapped_column(String(20), default="balanced")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    trading_state: Mapped[str] = mapped_column(String(16), default="active")
    kill_switch_reason: Mapped[str | None] = mapped_column(Text)
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The paper account behind API-opened positions (settle currency, USDT).
    initial_balance: Mapped[Decimal] = mapped_column(Money())
    wallet_balance: Mapped[Decimal] = mapped_column(Money())
    peak_equity: Mapped[Decimal] = mapped_column(Money())
    day_start_equity: Mapped[Decimal] = mapped_column(Money())
    day_start_date: Mapped[date | None] = mapped_column(Date)
    order_sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class RefreshToken(Base):
    """One issued refresh token. Using it rotates it; presenting a rotated one again revokes
    its whole family (a stolen token then dies with the legitimate one)."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()


class ExchangeCredential(Base):
    """An exchange account's API keys, each field encrypted (Vault transit or Fernet)."""

    __tablename__ = "exchange_credentials"
    __table_args__ = (UniqueConstraint("user_id", "exchange", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    exchange: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(64), default="default")
    api_key_encrypted: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    key_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- trading ----------------------------------------------------------------------------------
class Strategy(Base):
    """A stored TradingStrategySpec and the state the operator/worker pick up."""

    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    mode: Mapped[str] = mapped_column(String(8))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    trading_state: Mapped[str] = mapped_column(String(16), default="active")
    kill_switch_reason: Mapped[str | None] = mapped_column(Text)
    flatten_on_kill: Mapped[bool] = mapped_column(Boolean, default=False)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Position(Base):
    __tablename__ = "positions"
    __table_args__ = (
        Index("ix_positions_user_id_status", "user_id", "status"),
        Index("ix_positions_symbol_status", "symbol", "status"),
        # One-way mode: at most one open position per account and market.
        Index(
            "uq_positions_open_market",
            "user_id",
            "exchange",
            "symbol",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id"))
    exchange: Mapped[str] = mapped_column(String(20), default="binance")
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(5))  # long | short
    margin_mode: Mapped[str] = mapped_column(String(8), default="isolated")
    leverage: Mapped[Decimal] = mapped_column(Money(8, 2))
    entry_price: Mapped[Decimal] = mapped_column(Money())
    entry_time: Mapped[datetime] = mapped_column(UTCDateTime())
    quantity: Mapped[Decimal] = mapped_column(Money())
    notional_value: Mapped[Decimal] = mapped_column(Money())
    margin: Mapped[Decimal] = mapped_column(Money())
    opened_margin: Mapped[Decimal] = mapped_column(
        Money(), default=Decimal(0)
    )  # margin committed by every entry, the base of pnl_pct
    stop_loss_price: Mapped[Decimal | None] = mapped_column(Money())
    take_profit_price: Mapped[Decimal | None] = mapped_column(Money())
    liquidation_price: Mapped[Decimal | None] = mapped_column(Money())
    exit_price: Mapped[Decimal | None] = mapped_column(Money())
    exit_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    realized_pnl: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    pnl_pct: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    fees_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    funding_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    regime: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[Decimal | None] = mapped_column(Money(6, 4))
    ai_rationale: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")
    close_reason: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Order(Base):
    """Every order, written before it is sent (write-ahead) and updated on each report."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_user_id_created_at", "user_id", "created_at"),
        Index("ix_orders_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(100))
    exchange: Mapped[str] = mapped_column(String(20))
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(4))  # buy | sell
    type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(10), default="gtc")
    quantity: Mapped[Decimal] = mapped_column(Money())
    price: Mapped[Decimal | None] = mapped_column(Money())
    trigger_price: Mapped[Decimal | None] = mapped_column(Money())
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False)
    tag: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(20))
    filled_qty: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    avg_fill_price: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    fees: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Trade(Base):
    """One fill (execution) of an order: the seed's ``trades`` table."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_user_id_timestamp", "user_id", text("timestamp DESC")),
        Index("ix_trades_position_id", "position_id"),
        UniqueConstraint("exchange", "exchange_trade_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(100))
    exchange_trade_id: Mapped[str | None] = mapped_column(String(100))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    exchange: Mapped[str] = mapped_column(String(20))
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(4))  # buy | sell (execution side)
    order_type: Mapped[str] = mapped_column(String(16))
    price: Mapped[Decimal] = mapped_column(Money())
    quantity: Mapped[Decimal] = mapped_column(Money())
    total_usdt: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money())
    fee_currency: Mapped[str] = mapped_column(String(10))
    liquidity: Mapped[str] = mapped_column(String(5), default="taker")
    realized_pnl: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    status: Mapped[str] = mapped_column(String(20), default="executed")
    created_at: Mapped[datetime] = _created()


# -- AI decisions -----------------------------------------------------------------------------
class AIDecision(Base):
    __tablename__ = "ai_decisions"
    __table_args__ = (
        Index("ix_ai_decisions_user_id_timestamp", "user_id", text("timestamp DESC")),
        Index("ix_ai_decisions_agent_name_timestamp", "agent_name", text("timestamp DESC")),
        Index("ix_ai_decisions_quality_timestamp", "decision_quality", text("timestamp DESC")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    agent_name: Mapped[str] = mapped_column(String(50))
    input_data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    output_data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reasoning: Mapped[str] = mapped_column(Text)
    actual_outcome: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    decision_quality: Mapped[str | None] = mapped_column(String(20))
    evidence_accuracy: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    llm_model: Mapped[str | None] = mapped_column(String(50))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    llm_cost: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    execution_time_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()


class DecisionAnalysis(Base):
    __tablename__ = "decision_analysis"
    __table_args__ = (Index("ix_decision_analysis_time", text("analysis_timestamp DESC")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("ai_decisions.id"), index=True)
    analysis_timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    predicted_direction: Mapped[str | None] = mapped_column(String(10))
    actual_direction: Mapped[str | None] = mapped_column(String(10))
    was_correct: Mapped[bool | None] = mapped_column(Boolean)
    predicted_return: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    actual_return: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    error_pct: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    evidence_breakdown: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    improvement_suggestions: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class RegimeHistory(Base):
    __tablename__ = "regime_history"
    __table_args__ = (Index("ix_regime_history_timestamp", text("timestamp DESC")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    regime: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[Decimal] = mapped_column(Money(6, 4))
    adx: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    rsi: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    price_vs_ma50: Mapped[Decimal | None] = mapped_column(Money(14, 4))
    trend_strength: Mapped[str | None] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ai_rationale: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


# -- time series (TimescaleDB hypertables where the extension exists) --------------------------
class MarketData(Base):
    __tablename__ = "market_data"
    __table_args__ = (
        Index("ix_market_data_symbol_timeframe_time", "symbol", "timeframe", text("time DESC")),
    )

    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(20), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(40), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(10), primary_key=True)
    open: Mapped[Decimal] = mapped_column(Money())
    high: Mapped[Decimal] = mapped_column(Money())
    low: Mapped[Decimal] = mapped_column(Money())
    close: Mapped[Decimal] = mapped_column(Money())
    volume: Mapped[Decimal] = mapped_column(Money())


class FundingRate(Base):
    __tablename__ = "funding_rate_history"

    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(20), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(40), primary_key=True)
    funding_rate: Mapped[Decimal] = mapped_column(Money(18, 10))
    mark_price: Mapped[Decimal] = mapped_column(Money())
    index_price: Mapped[Decimal | None] = mapped_column(Money())


class PortfolioSnapshot(Base):
    __tablename__ = "portfolio_snapshots"

    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    total_value_usdt: Mapped[Decimal] = mapped_column(Money())
    wallet_balance: Mapped[Decimal] = mapped_column(Money())
    unrealized_pnl: Mapped[Decimal] = mapped_column(Money())
    total_leverage: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    margin_ratio: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    allocations: Mapped[dict[str, Any]] = mapped_column(JSONType)


# -- analytics --------------------------------------------------------------------------------
class PerformanceMetric(Base):
    __tablename__ = "performance_metrics"
    __table_args__ = (Index("ix_performance_metrics_user_id_period", "user_id", "period_end"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    total_return: Mapped[Decimal | None] = mapped_column(Money(20, 8))
    sharpe: Mapped[Decimal | None] = mapped_column(Money(20, 8))
    max_drawdown: Mapped[Decimal | None] = mapped_column(Money(20, 8))
    win_rate: Mapped[Decimal | None] = mapped_column(Money(20, 8))
    num_trades: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = _created()


class RiskMetric(Base):
    __tablename__ = "risk_metrics"
    __table_args__ = (Index("ix_risk_metrics_user_id_time", "user_id", text("time DESC")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    total_leverage: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    margin_ratio: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    closest_liquidation_distance: Mapped[Decimal | None] = mapped_column(Money(16, 6))
    var_95: Mapped[Decimal | None] = mapped_column(Money())
    cvar_95: Mapped[Decimal | None] = mapped_column(Money())
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ModelRecord(Base):
    __tablename__ = "model_records"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    alias: Mapped[str | None] = mapped_column(String(64))
    uri: Mapped[str] = mapped_column(String(500))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = _created()


class TrainingJob(Base):
    __tablename__ = "training_jobs"
    __table_args__ = (Index("ix_training_jobs_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # queued|running|succeeded|failed
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()


class BacktestJob(Base):
    __tablename__ = "backtest_jobs"
    __table_args__ = (Index("ix_backtest_jobs_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))  # queued|running|succeeded|failed
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    report_html: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- audit ------------------------------------------------------------------------------------
class AuditEntry(Base):
    """Who did what, when, from where. Append-only: the database refuses updates and deletes
    (triggers created by the migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_time", "actor_user_id", "time"),
        Index("ix_audit_log_time", "time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    status_code: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | denied | rejected | error
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


# -- venues -----------------------------------------------------------------------------------
class VenueEvent(Base):
    """A worker's venue history: each circuit-breaker transition and failover outcome
    (``kind`` breaker|failover), newest last. Written by the FailoverVenue's recorder."""

    __tablename__ = "venue_events"
    __table_args__ = (Index("ix_venue_events_strategy_time", "strategy", "time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    strategy: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


HYPERTABLES: tuple[str, ...] = ("market_data", "funding_rate_history", "portfolio_snapshots")
