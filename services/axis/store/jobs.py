"""Repositories of stored strategies (specs and their run state) and backtest jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from axis.store.models import BacktestJob, Strategy
from axis.store.types import utcnow


class StrategyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, user_id: int, name: str, spec: dict[str, Any], mode: str) -> Strategy:
        strategy = Strategy(
            user_id=user_id,
            name=name,
            spec=spec,
            mode=mode,
            paused=bool(spec.get("paused", False)),
            trading_state="active",
            generation=1,
        )
        self.session.add(strategy)
        self.session.flush()
        return strategy

    def get(self, strategy_id: int) -> Strategy | None:
        return self.session.get(Strategy, strategy_id)

    def by_name(self, user_id: int, name: str) -> Strategy | None:
        query = select(Strategy).where(Strategy.user_id == user_id, Strategy.name == name)
        return self.session.scalars(query).first()

    def for_user(self, user_id: int) -> list[Strategy]:
        query = select(Strategy).where(Strategy.user_id == user_id).order_by(Strategy.id)
        return list(self.session.scalars(query))

    def bump(self, strategy: Strategy) -> None:
        """A change the operator/worker must pick up: a new generation."""
        strategy.generation += 1
        strategy.updated_at = utcnow()
        self.session.flush()


class BacktestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, user_id: int, config: dict[str, Any]) -> BacktestJob:
        job = BacktestJob(user_id=user_id, status="queued", config=config)
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: int) -> BacktestJob | None:
        return self.session.get(BacktestJob, job_id)

    def for_user(self, user_id: int, limit: int = 100) -> list[BacktestJob]:
        query = (
            select(BacktestJob)
            .where(BacktestJob.user_id == user_id)
            .order_by(BacktestJob.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def start(self, job: BacktestJob) -> None:
        job.status, job.started_at = "running", utcnow()
        self.session.flush()

    def succeed(
        self, job: BacktestJob, metrics: dict[str, Any], result: dict[str, Any], report: str
    ) -> None:
        job.status, job.finished_at = "succeeded", utcnow()
        job.metrics, job.result, job.report_html = metrics, result, report
        self.session.flush()

    def fail(self, job: BacktestJob, error: str) -> None:
        job.status, job.finished_at, job.error = "failed", utcnow(), error
        self.session.flush()

    def fail_interrupted(self) -> int:
        """Jobs a stopped process left queued or running cannot finish: mark them failed."""
        result = self.session.execute(
            update(BacktestJob)
            .where(BacktestJob.status.in_(("queued", "running")))
            .values(status="failed", error="interrupted: the API stopped", finished_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)
