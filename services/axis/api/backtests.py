"""Backtest jobs: submitted over the API, run on a worker thread, stored with their report.

A job row is created ``queued`` in the request; a thread pool (``backtest_workers`` threads)
runs :func:`axis.backtest.runner.run_backtest` and stores the metrics, the full
``result.json`` content and the self-contained HTML report, or the one-line error. Jobs a
stopped process left unfinished are marked failed when the API starts again.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from axis.api.context import ApiContext
from axis.config import BacktestConfig, ConfigError
from axis.data import DataError
from axis.domain.instrument import InstrumentError
from axis.observability import metrics
from axis.observability.logging import get_logger
from axis.store.jobs import BacktestRepository

log = get_logger("axis.api.backtests")

USER_ERRORS = (ConfigError, DataError, InstrumentError, ValidationError, ValueError)


class BacktestRunner:
    def __init__(self, ctx: ApiContext, workers: int = 1) -> None:
        self.ctx = ctx
        self.workers = workers
        self.pool = self._new_pool()
        self.futures: dict[int, Future[None]] = {}
        self._closed = False

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="backtest")

    def recover(self) -> int:
        with self.ctx.db.session() as session:
            return BacktestRepository(session).fail_interrupted()

    def submit(self, job_id: int, config: BacktestConfig) -> None:
        if self._closed:  # the app was started again after a shutdown (lifespan rerun)
            self.pool, self._closed = self._new_pool(), False
        self.futures[job_id] = self.pool.submit(self._run, job_id, config)

    def _run(self, job_id: int, config: BacktestConfig) -> None:
        from axis.backtest.report import write_report
        from axis.backtest.runner import run_backtest

        with self.ctx.db.session() as session:
            repo = BacktestRepository(session)
            job = repo.get(job_id)
            if job is None:
                return
            repo.start(job)
        try:
            result = run_backtest(config)
            with tempfile.TemporaryDirectory(prefix="axis-backtest-") as tmp:
                path = Path(tmp) / "report.html"
                write_report(result, path)
                report = path.read_text()
            payload: dict[str, Any] = result.to_dict()
            metrics_out = {k: _json_number(v) for k, v in result.metrics.items()}
        except USER_ERRORS as exc:
            self._fail(job_id, " ".join(str(exc).split()))
            return
        except Exception as exc:  # a bug: keep the job failed and the trace in the log
            log.exception("backtest_crashed", backtest_id=job_id)
            self._fail(job_id, f"internal error ({type(exc).__name__})")
            return
        with self.ctx.db.session() as session:
            repo = BacktestRepository(session)
            job = repo.get(job_id)
            if job is not None:
                repo.succeed(job, metrics_out, _json_safe(payload), report)
        metrics.backtest_jobs_total.labels(status="succeeded").inc()
        log.info("backtest_finished", backtest_id=job_id, trades=len(result.trades))

    def _fail(self, job_id: int, error: str) -> None:
        with self.ctx.db.session() as session:
            repo = BacktestRepository(session)
            job = repo.get(job_id)
            if job is not None:
                repo.fail(job, error)
        metrics.backtest_jobs_total.labels(status="failed").inc()

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        future = self.futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._closed = True
        self.pool.shutdown(wait=False, cancel_futures=True)


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return _json_number(value)
