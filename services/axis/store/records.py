"""Repositories of records: AI decisions and their analyses, regimes, market data, funding,
portfolio snapshots, performance and risk metrics, model records and training jobs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from axis.data import Bars
from axis.store.models import (
    AIDecision,
    DecisionAnalysis,
    FundingRate,
    MarketData,
    ModelRecord,
    PerformanceMetric,
    PortfolioSnapshot,
    RegimeHistory,
    RiskMetric,
    TrainingJob,
)
from axis.store.trading import ms_to_datetime
from axis.store.types import to_decimal, utcnow


class DecisionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, decision: AIDecision) -> AIDecision:
        self.session.add(decision)
        self.session.flush()
        return decision

    def get(self, decision_id: int) -> AIDecision | None:
        return self.session.get(AIDecision, decision_id)

    def search(
        self,
        *,
        user_id: int | None = None,
        agent_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AIDecision]:
        query = select(AIDecision)
        if user_id is not None:
            query = query.where(AIDecision.user_id == user_id)
        if agent_name is not None:
            query = query.where(AIDecision.agent_name == agent_name)
        if since is not None:
            query = query.where(AIDecision.timestamp >= since)
        if until is not None:
            query = query.where(AIDecision.timestamp < until)
        query = query.order_by(AIDecision.timestamp.desc(), AIDecision.id.desc()).limit(limit)
        return list(self.session.scalars(query))

    def due_for_review(self, before: datetime, limit: int = 100) -> list[AIDecision]:
        """Decisions older than ``before`` whose outcome is still unknown (the 24h review)."""
        query = (
            select(AIDecision)
            .where(AIDecision.timestamp <= before, AIDecision.actual_outcome.is_(None))
            .order_by(AIDecision.timestamp)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def record_outcome(
        self,
        decision: AIDecision,
        actual_outcome: float,
        quality: str,
        evidence_accuracy: dict[str, Any] | None = None,
    ) -> None:
        decision.actual_outcome = to_decimal(actual_outcome)
        decision.decision_quality = quality
        decision.evidence_accuracy = evidence_accuracy
        self.session.flush()

    def add_analysis(self, analysis: DecisionAnalysis) -> DecisionAnalysis:
        self.session.add(analysis)
        self.session.flush()
        return analysis

    def analyses(self, decision_id: int) -> list[DecisionAnalysis]:
        query = select(DecisionAnalysis).where(DecisionAnalysis.decision_id == decision_id)
        return list(self.session.scalars(query.order_by(DecisionAnalysis.id)))


class RegimeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: RegimeHistory) -> RegimeHistory:
        self.session.add(row)
        self.session.flush()
        return row

    def latest(self) -> RegimeHistory | None:
        query = select(RegimeHistory).order_by(
            RegimeHistory.timestamp.desc(), RegimeHistory.id.desc()
        )
        return self.session.scalars(query.limit(1)).first()

    def since(self, start: datetime) -> list[RegimeHistory]:
        query = (
            select(RegimeHistory)
            .where(RegimeHistory.timestamp >= start)
            .order_by(RegimeHistory.timestamp.desc(), RegimeHistory.id.desc())
        )
        return list(self.session.scalars(query))

    def run_start(self, current: RegimeHistory) -> datetime:
        """When the current regime began: the first record after the last different one."""
        last_other = self.session.scalars(
            select(RegimeHistory.timestamp)
            .where(
                RegimeHistory.regime != current.regime,
                RegimeHistory.timestamp <= current.timestamp,
            )
            .order_by(RegimeHistory.timestamp.desc())
            .limit(1)
        ).first()
        query = select(RegimeHistory.timestamp).where(RegimeHistory.regime == current.regime)
        if last_other is not None:
            query = query.where(RegimeHistory.timestamp > last_other)
        first = self.session.scalars(query.order_by(RegimeHistory.timestamp).limit(1)).first()
        return first or current.timestamp


def _upsert(
    session: Session, model: type[Any], rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE on PostgreSQL and SQLite alike."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    for chunk_start in range(0, len(rows), 500):
        chunk = rows[chunk_start : chunk_start + 500]
        statement = insert(table).values(chunk)
        updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
        session.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))


class MarketDataRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert_bars(self, exchange: str, bars: Bars, timeframe: str | None = None) -> int:
        tf = timeframe or bars.timeframe
        rows = [
            {
                "time": ms_to_datetime(int(ts)),
                "exchange": exchange,
                "symbol": bars.symbol,
                "timeframe": tf,
                "open": to_decimal(float(o)),
                "high": to_decimal(float(h)),
                "low": to_decimal(float(lo)),
                "close": to_decimal(float(c)),
                "volume": to_decimal(float(v)),
            }
            for ts, o, h, lo, c, v in zip(
                bars.timestamp, bars.open, bars.high, bars.low, bars.close, bars.volume
            )
        ]
        _upsert(self.session, MarketData, rows, ["time", "exchange", "symbol", "timeframe"])
        return len(rows)

    def latest(
        self, exchange: str, symbol: str, timeframe: str, limit: int = 200
    ) -> list[MarketData]:
        """The newest ``limit`` candles, oldest first."""
        query = (
            select(MarketData)
            .where(
                MarketData.exchange == exchange,
                MarketData.symbol == symbol,
                MarketData.timeframe == timeframe,
            )
            .order_by(MarketData.time.desc())
            .limit(limit)
        )
        return list(reversed(list(self.session.scalars(query))))

    def last(self, exchange: str, symbol: str, timeframe: str | None = None) -> MarketData | None:
        query = select(MarketData).where(
            MarketData.exchange == exchange, MarketData.symbol == symbol
        )
        if timeframe is not None:
            query = query.where(MarketData.timeframe == timeframe)
        return self.session.scalars(query.order_by(MarketData.time.desc()).limit(1)).first()


class FundingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(self, rows: Iterable[FundingRate]) -> int:
        data = [
            {
                "time": r.time,
                "exchange": r.exchange,
                "symbol": r.symbol,
                "funding_rate": r.funding_rate,
                "mark_price": r.mark_price,
                "index_price": r.index_price,
            }
            for r in rows
        ]
        _upsert(self.session, FundingRate, data, ["time", "exchange", "symbol"])
        return len(data)

    def latest(self, exchange: str, symbol: str) -> FundingRate | None:
        query = (
            select(FundingRate)
            .where(FundingRate.exchange == exchange, FundingRate.symbol == symbol)
            .order_by(FundingRate.time.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()


class SnapshotRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, snapshot: PortfolioSnapshot) -> PortfolioSnapshot:
        # Two snapshots in the same microsecond replace each other (time, user is the key).
        self.session.merge(snapshot)
        self.session.flush()
        return snapshot

    def latest(self, user_id: int) -> PortfolioSnapshot | None:
        query = (
            select(PortfolioSnapshot)
            .where(PortfolioSnapshot.user_id == user_id)
            .order_by(PortfolioSnapshot.time.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def between(self, user_id: int, start: datetime, end: datetime) -> list[PortfolioSnapshot]:
        query = (
            select(PortfolioSnapshot)
            .where(
                PortfolioSnapshot.user_id == user_id,
                PortfolioSnapshot.time >= start,
                PortfolioSnapshot.time < end,
            )
            .order_by(PortfolioSnapshot.time)
        )
        return list(self.session.scalars(query))


class MetricsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_performance(self, row: PerformanceMetric) -> PerformanceMetric:
        self.session.add(row)
        self.session.flush()
        return row

    def add_risk(self, row: RiskMetric) -> RiskMetric:
        self.session.add(row)
        self.session.flush()
        return row

    def latest_risk(self, user_id: int) -> RiskMetric | None:
        query = (
            select(RiskMetric)
            .where(RiskMetric.user_id == user_id)
            .order_by(RiskMetric.time.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def performance(self, user_id: int, limit: int = 100) -> list[PerformanceMetric]:
        query = (
            select(PerformanceMetric)
            .where(PerformanceMetric.user_id == user_id)
            .order_by(PerformanceMetric.period_end.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))


class ModelRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def register(self, row: ModelRecord) -> ModelRecord:
        existing = self.get(row.name, row.version)
        if existing is not None:
            for column in ("role", "alias", "uri", "mlflow_run_id", "params", "metrics"):
                setattr(existing, column, getattr(row, column))
            self.session.flush()
            return existing
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, name: str, version: str) -> ModelRecord | None:
        query = select(ModelRecord).where(ModelRecord.name == name, ModelRecord.version == version)
        return self.session.scalars(query).first()

    def by_alias(self, name: str, alias: str) -> ModelRecord | None:
        query = select(ModelRecord).where(ModelRecord.name == name, ModelRecord.alias == alias)
        return self.session.scalars(query.order_by(ModelRecord.id.desc()).limit(1)).first()

    def set_alias(self, name: str, version: str, alias: str) -> ModelRecord:
        """Move ``alias`` to one version (an alias names one version at a time)."""
        for other in self.session.scalars(
            select(ModelRecord).where(ModelRecord.name == name, ModelRecord.alias == alias)
        ):
            other.alias = None
        record = self.get(name, version)
        if record is None:
            raise LookupError(f"model {name} version {version} is not registered")
        record.alias = alias
        self.session.flush()
        return record


class TrainingJobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, model_name: str, params: dict[str, Any]) -> TrainingJob:
        job = TrainingJob(model_name=model_name, status="queued", params=params)
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: int) -> TrainingJob | None:
        return self.session.get(TrainingJob, job_id)

    def start(self, job: TrainingJob, mlflow_run_id: str | None = None) -> None:
        job.status, job.started_at, job.mlflow_run_id = "running", utcnow(), mlflow_run_id
        self.session.flush()

    def finish(self, job: TrainingJob, metrics: dict[str, Any]) -> None:
        job.status, job.finished_at, job.metrics = "succeeded", utcnow(), metrics
        self.session.flush()

    def fail(self, job: TrainingJob, error: str) -> None:
        job.status, job.finished_at, job.error = "failed", utcnow(), error
        self.session.flush()

    def by_status(self, status: str, limit: int = 100) -> list[TrainingJob]:
        query = select(TrainingJob).where(TrainingJob.status == status)
        return list(self.session.scalars(query.order_by(TrainingJob.created_at).limit(limit)))


__all__ = [
    "DecisionRepository",
    "FundingRepository",
    "MarketDataRepository",
    "MetricsRepository",
    "ModelRepository",
    "RegimeRepository",
    "SnapshotRepository",
    "TrainingJobRepository",
]
